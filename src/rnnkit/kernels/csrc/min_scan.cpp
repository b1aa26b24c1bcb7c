// minGRU / minLSTM on CPU (see rnnkit/layers/min_rnn.py): h_t = a_t * h_{t-1} + b_t, where
// a_t and b_t come from the input projection alone, in one pass over (B, T, G*H).
//
// The Python route builds a_t and b_t with a dozen elementwise ops, each a full (B, T, H)
// tensor -- at T = 4096 every one of them is a fresh 32 MiB allocation that page-faults on
// first touch, and together they cost more than a GRU's recurrent GEMMs. Here each batch row
// walks its T steps once: the gates are computed in registers from the projection row, the
// state stays in a local buffer, and the backward recomputes the gates instead of saving them.
// The rows are independent, so they split across threads; within a row the loops run over H
// and vectorize (exp is a polynomial below so that they can).
//
//   minGRU:  z = sigmoid(k), a = 1 - z, b = z * g(v)
//   minLSTM: f = sigmoid(k_f), i = sigmoid(k_i), f' = f / (f + i), a = f', b = (1 - f') * g(v)
//   g(v) = v + 0.5 (v >= 0), sigmoid(v) (v < 0)
// A masked step keeps the state (a = 1, b = 0) and its gates get no gradient. Backward, with
// gh_t = dL/dh_t over all paths: gh_t = dout_t + a_{t+1} gh_{t+1}, dL/da_t = gh_t h_{t-1},
// dL/db_t = gh_t, and the chain rule through the gates:
//   minGRU:  dk = gh (g(v) - h_{t-1}) z (1 - z),   dv = gh z g'(v)
//   minLSTM: dd = gh (h_{t-1} - g(v)) f' (1 - f'), dk_f = dd (1 - f), dk_i = -dd (1 - i),
//            dv = gh (1 - f') g'(v)      (f' = sigmoid(d), d = log f - log i)
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

// From fast_rnn.cpp: a (T, B, .)-sized buffer from its recycling cache (no page faults).
at::Tensor rnnkit_buffer(at::IntArrayRef sizes, const at::TensorOptions& o);

namespace {

using at::Tensor;

// exp(x) in float32 without a library call, so that loops over it vectorize: x = n ln2 + r,
// |r| <= ln2 / 2, e^r = 1 + r + r^2 P(r) with Cephes's expf polynomial P (Cephes states
// ~1e-7 relative error; tests/layers/test_min_rnn.py holds the whole pass to 1e-5 of the
// Python scan), 2^n from the exponent bits. x is clamped to [-87.3, 88.3], where 2^n stays a normal float.
inline float vexp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);  // not fmin/fmax: those do not vectorize
  const float t = x * 1.44269504088896341f;
  const float n = (t + 12582912.f) - 12582912.f;  // round to nearest (1.5 * 2^23 trick)
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  return e * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

inline double vexp(double x) { return std::exp(x); }  // float64 (gradcheck): exact, scalar

template <typename scalar_t>
inline scalar_t sigm(scalar_t x) {
  return scalar_t(1) / (scalar_t(1) + vexp(-x));
}

// g(v) and g'(v), branch-free (both sides computed, one kept) so the loop vectorizes.
template <typename scalar_t>
inline void g_and_grad(scalar_t v, scalar_t& gv, scalar_t& dg) {
  const scalar_t s = sigm(v);
  const bool pos = v >= 0;
  gv = pos ? v + scalar_t(0.5) : s;
  dg = pos ? scalar_t(1) : s * (1 - s);
}

// f' = f / (f + i) = (1/i) / (1/i + 1/f) with 1/f = 1 + e^-k_f, 1/i = 1 + e^-k_i, both scaled
// by e^-s, s = max(0, -k_f, -k_i): every exponent is <= 0 and one term is 1, so there is no
// overflow, and no 0 / 0 when both gates underflow.
template <typename scalar_t>
inline scalar_t f_prime(scalar_t kf, scalar_t ki) {
  const scalar_t m = -kf > -ki ? -kf : -ki;
  const scalar_t s = m > 0 ? m : scalar_t(0);
  const scalar_t e0 = vexp(-s), ef = vexp(-kf - s), ei = vexp(-ki - s);
  const scalar_t inv_i = e0 + ei, inv_f = e0 + ef;
  return inv_i / (inv_i + inv_f);
}

template <typename scalar_t>
void forward_impl(int64_t gates, const Tensor& proj, const Tensor& h0, const bool* m, Tensor& hs) {
  const int64_t B = proj.size(0), T = proj.size(1), H = hs.size(2), GH = gates * H;
  const scalar_t* P = proj.data_ptr<scalar_t>();
  const scalar_t* H0 = h0.data_ptr<scalar_t>();
  scalar_t* O = hs.data_ptr<scalar_t>();
  at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<scalar_t> hbuf(H);
    scalar_t* __restrict__ h = hbuf.data();
    for (int64_t b = b0; b < b1; ++b) {
      for (int64_t j = 0; j < H; ++j) h[j] = H0[b * H + j];
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* __restrict__ row = P + (b * T + t) * GH;
        scalar_t* __restrict__ out = O + (b * T + t) * H;
        if (!m || m[b * T + t]) {
          if (gates == 2) {
            #pragma omp simd  // independent lanes: no carried dependency across j
            for (int64_t j = 0; j < H; ++j) {
              const scalar_t z = sigm(row[j]);
              scalar_t gv, dg;
              g_and_grad(row[H + j], gv, dg);
              h[j] = (1 - z) * h[j] + z * gv;
            }
          } else {
            #pragma omp simd  // independent lanes: no carried dependency across j
            for (int64_t j = 0; j < H; ++j) {
              const scalar_t fp = f_prime(row[j], row[H + j]);
              scalar_t gv, dg;
              g_and_grad(row[2 * H + j], gv, dg);
              h[j] = fp * h[j] + (1 - fp) * gv;
            }
          }
        }
        for (int64_t j = 0; j < H; ++j) out[j] = h[j];
      }
    }
  });
}

template <typename scalar_t>
void backward_impl(int64_t gates, const Tensor& proj, const Tensor& h0, const bool* m, const Tensor& hs,
                   const Tensor& d_out, Tensor& d_proj, Tensor& d_h0) {
  const int64_t B = proj.size(0), T = proj.size(1), H = hs.size(2), GH = gates * H;
  const scalar_t* P = proj.data_ptr<scalar_t>();
  const scalar_t* H0 = h0.data_ptr<scalar_t>();
  const scalar_t* HS = hs.data_ptr<scalar_t>();
  const scalar_t* DO = d_out.data_ptr<scalar_t>();
  scalar_t* DP = d_proj.data_ptr<scalar_t>();
  scalar_t* DH0 = d_h0.data_ptr<scalar_t>();
  at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<scalar_t> cbuf(H);
    scalar_t* __restrict__ carry = cbuf.data();  // a_{t+1} gh_{t+1}
    for (int64_t b = b0; b < b1; ++b) {
      for (int64_t j = 0; j < H; ++j) carry[j] = 0;
      for (int64_t t = T - 1; t >= 0; --t) {
        const scalar_t* __restrict__ row = P + (b * T + t) * GH;
        const scalar_t* __restrict__ dout = DO + (b * T + t) * H;
        const scalar_t* __restrict__ hprev = t > 0 ? HS + (b * T + t - 1) * H : H0 + b * H;
        scalar_t* __restrict__ drow = DP + (b * T + t) * GH;
        if (m && !m[b * T + t]) {
          for (int64_t j = 0; j < GH; ++j) drow[j] = 0;
          for (int64_t j = 0; j < H; ++j) carry[j] += dout[j];  // a = 1: gh passes through
          continue;
        }
        if (gates == 2) {
          #pragma omp simd  // independent lanes: no carried dependency across j
          for (int64_t j = 0; j < H; ++j) {
            const scalar_t gh = dout[j] + carry[j];
            const scalar_t z = sigm(row[j]);
            scalar_t gv, dg;
            g_and_grad(row[H + j], gv, dg);
            drow[j] = gh * (gv - hprev[j]) * z * (1 - z);
            drow[H + j] = gh * z * dg;
            carry[j] = gh * (1 - z);
          }
        } else {
          #pragma omp simd  // independent lanes: no carried dependency across j
          for (int64_t j = 0; j < H; ++j) {
            const scalar_t gh = dout[j] + carry[j];
            const scalar_t kf = row[j], ki = row[H + j];
            const scalar_t fp = f_prime(kf, ki);
            const scalar_t f = sigm(kf), i = sigm(ki);
            scalar_t gv, dg;
            g_and_grad(row[2 * H + j], gv, dg);
            const scalar_t dd = gh * (hprev[j] - gv) * fp * (1 - fp);
            drow[j] = dd * (1 - f);
            drow[H + j] = -dd * (1 - i);
            drow[2 * H + j] = gh * (1 - fp) * dg;
            carry[j] = gh * fp;
          }
        }
      }
      for (int64_t j = 0; j < H; ++j) DH0[b * H + j] = carry[j];
    }
  });
}

}  // namespace

// proj (B, T, G*H) with G = 2 (minGRU: k, v) or 3 (minLSTM: k_f, k_i, v); h0 (B, H); mask (B, T)
// bool or undefined. Returns hs (B, T, H).
at::Tensor rnnkit_min_scan_forward(int64_t gates, const at::Tensor& proj, const at::Tensor& h0,
                                   const c10::optional<at::Tensor>& mask) {
  TORCH_CHECK(gates == 2 || gates == 3, "rnnkit native: min-RNN gates must be 2 or 3, got ", gates);
  TORCH_CHECK(proj.dim() == 3 && proj.is_contiguous() && !proj.is_cuda(),
              "rnnkit native: proj must be (B, T, G*H), CPU, contiguous");
  const int64_t B = proj.size(0), T = proj.size(1), H = proj.size(2) / gates;
  at::Tensor hs = rnnkit_buffer({B, T, H}, proj.options());
  const at::Tensor m = mask.has_value() ? mask->contiguous() : at::Tensor();
  const at::Tensor h0c = h0.contiguous();
  AT_DISPATCH_FLOATING_TYPES(proj.scalar_type(), "rnnkit_min_scan_forward", [&] {
    forward_impl<scalar_t>(gates, proj, h0c, m.defined() ? m.data_ptr<bool>() : nullptr, hs);
  });
  return hs;
}

// Returns (d_proj (B, T, G*H), d_h0 (B, H)).
std::vector<at::Tensor> rnnkit_min_scan_backward(int64_t gates, const at::Tensor& proj, const at::Tensor& h0,
                                                 const c10::optional<at::Tensor>& mask, const at::Tensor& hs,
                                                 const at::Tensor& d_out) {
  at::Tensor d_proj = rnnkit_buffer(proj.sizes(), proj.options());
  at::Tensor d_h0 = at::empty_like(h0, at::MemoryFormat::Contiguous);
  const at::Tensor m = mask.has_value() ? mask->contiguous() : at::Tensor();
  const at::Tensor h0c = h0.contiguous(), doc = d_out.contiguous();
  AT_DISPATCH_FLOATING_TYPES(proj.scalar_type(), "rnnkit_min_scan_backward", [&] {
    backward_impl<scalar_t>(gates, proj, h0c, m.defined() ? m.data_ptr<bool>() : nullptr, hs, doc, d_proj,
                            d_h0);
  });
  return {d_proj, d_h0};
}
