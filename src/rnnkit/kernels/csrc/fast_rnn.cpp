// rnnkit's fast kernel, the time loop in C++ (see rnnkit/kernels/native.py).
//
// The same algorithm and the same saved buffers as rnnkit/kernels/fast.py's _FastRNN, for
// SimpleRNN (tanh), LSTM and GRU (reset_after=True) with sigmoid gates: the input projection
// xp (T, B, G) comes in precomputed; per step one GEMM h_in W_hh^T and the gate math, here in
// plain loops over each batch row (no per-op dispatch, no temporaries); the transcendental
// functions stay ATen's vectorized sigmoid_/tanh_ on whole (B, .) slabs. The backward runs the
// steps in reverse with derivatives taken from the saved activations (tanh' = 1 - y^2,
// sigmoid' = y (1 - y)), one (B, G) x (G, H) GEMM per step, and dW_hh as ONE GEMM over all
// T*B rows at the end.
//
// Options: mask (T, B) bool, where a false step carries h (and c) over; rmask (B, H), the
// recurrent dropout mask on h_{t-1}; layer norm on the recurrent product (ln_w, ln_b) and on
// the LSTM cell (lnc_w, lnc_b):
//     y = xhat * w + b,  xhat = (v - mean) * rstd,  rstd = 1 / sqrt(var + eps)
//     dv = rstd * (dy*w - mean(dy*w) - xhat * mean(dy*w * xhat))
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

namespace {

using at::Tensor;
using OptT = c10::optional<Tensor>;

enum Kind : int64_t { kRNN = 0, kLSTM = 1, kGRU = 2 };

Tensor opt(const OptT& t) { return t.has_value() ? *t : Tensor(); }

// A cache of the large per-sequence buffers (saved activations, gate gradients). A fresh
// multi-megabyte allocation comes from mmap and pays a page fault per 4 KiB on first touch
// -- measured at a third of this loop's non-GEMM time -- while torch.nn's many small
// per-step tensors are recycled by malloc. Blocks go back to the cache when autograd frees
// the tensor (from_blob's deleter), up to kCacheCap bytes; the rest goes back to the OS.
class BufferCache {
 public:
  static constexpr size_t kMinBytes = 256 * 1024;
  static constexpr size_t kCacheCap = size_t(768) << 20;

  static BufferCache& get() {
    static BufferCache* cache = new BufferCache();  // never destroyed: deleters may run at exit
    return *cache;
  }

  Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& o) {
    int64_t n = 1;
    for (auto v : sizes) n *= v;
    const size_t bytes = static_cast<size_t>(n) * o.dtype().itemsize();
    if (bytes < kMinBytes) return at::empty(sizes, o);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = free_.find(bytes);
      if (it != free_.end()) {
        p = it->second;
        free_.erase(it);
        cached_ -= bytes;
      }
    }
    if (!p && posix_memalign(&p, 64, bytes) != 0) throw std::bad_alloc();
    return at::from_blob(p, sizes, [this, bytes](void* q) { release(q, bytes); }, o);
  }

  void clear() {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& kv : free_) std::free(kv.second);
    free_.clear();
    cached_ = 0;
  }

  size_t cached_bytes() {
    std::lock_guard<std::mutex> g(mu_);
    return cached_;
  }

 private:
  void release(void* p, size_t bytes) {
    std::lock_guard<std::mutex> g(mu_);
    if (cached_ + bytes <= kCacheCap) {
      free_.emplace(bytes, p);
      cached_ += bytes;
    } else {
      std::free(p);
    }
  }

  std::mutex mu_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

Tensor buffer(at::IntArrayRef sizes, const at::TensorOptions& o) { return BufferCache::get().empty(sizes, o); }

template <typename scalar_t>
scalar_t* ptr(const Tensor& t) {
  return t.defined() ? t.data_ptr<scalar_t>() : nullptr;
}

// Elements per thread below which splitting a loop costs more than it saves (an OpenMP fork
// and join is a few microseconds; a step's elementwise work at 64 x 512 is ~30 us).
constexpr int64_t kGrainElems = 4096;

// Step t of a contiguous (T, ...) buffer, as a raw pointer: Tensor::select would build a new
// TensorImpl on the heap for each of the dozen buffers a step touches.
template <typename scalar_t>
scalar_t* step_ptr(const Tensor& v, int64_t t) {
  return v.data_ptr<scalar_t>() + t * v.stride(0);
}

// Runs f(b) for every batch row; rows are independent, so they may run on several threads.
template <typename F>
void for_rows(int64_t B, int64_t width, const F& f) {
  const int64_t grain = std::max<int64_t>(1, kGrainElems / std::max<int64_t>(width, 1));
  at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) f(b);
  });
}

// y[j] = LN(v)[j] * w[j] + bias[j] + add[j] (add may be null); y may alias v.
template <typename scalar_t>
void ln_forward_row(const scalar_t* __restrict__ v, const scalar_t* __restrict__ w,
                    const scalar_t* __restrict__ bias, const scalar_t* __restrict__ add,
                    scalar_t* __restrict__ xhat, scalar_t* rstd_out, scalar_t* y, int64_t W, double eps) {
  // The reductions are vectorized (omp simd: partial sums per lane), which strict IEEE order
  // would forbid; two passes (mean, then centered squares) keep the variance accurate.
  scalar_t sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < W; ++j) sum += v[j];
  const scalar_t mean = sum / W;
  scalar_t sq = 0;
#pragma omp simd reduction(+ : sq)
  for (int64_t j = 0; j < W; ++j) sq += (v[j] - mean) * (v[j] - mean);
  const scalar_t rstd = static_cast<scalar_t>(1.0 / std::sqrt(static_cast<double>(sq) / W + eps));
  *rstd_out = rstd;
  // y may alias v: each y[j] is written after v[j] is read.
  if (add) {
    for (int64_t j = 0; j < W; ++j) {
      const scalar_t xh = (v[j] - mean) * rstd;
      xhat[j] = xh;
      y[j] = xh * w[j] + bias[j] + add[j];
    }
  } else {
    for (int64_t j = 0; j < W; ++j) {
      const scalar_t xh = (v[j] - mean) * rstd;
      xhat[j] = xh;
      y[j] = xh * w[j] + bias[j];
    }
  }
}

// dv = rstd * (dyg - mean(dyg) - xhat * mean(dyg * xhat)), dyg = dy * w; dv may alias dy.
template <typename scalar_t>
void ln_backward_row(const scalar_t* dy, const scalar_t* __restrict__ xhat, scalar_t rstd,
                     const scalar_t* __restrict__ w, scalar_t* dv, int64_t W) {
  scalar_t m1 = 0, m2 = 0;
#pragma omp simd reduction(+ : m1, m2)
  for (int64_t j = 0; j < W; ++j) {
    const scalar_t dyg = dy[j] * w[j];
    m1 += dyg;
    m2 += dyg * xhat[j];
  }
  const scalar_t a = m1 / W, c = m2 / W;
  for (int64_t j = 0; j < W; ++j) dv[j] = rstd * (dy[j] * w[j] - a - xhat[j] * c);
}

// acc_w[j] += sum_b dy[b, j] * xhat[b, j] and acc_b[j] += sum_b dy[b, j] over a (B, W) step:
// the layer-norm gains' gradients. Columns split across threads (each owns its slice of the
// accumulators), so the sum over b keeps one order whatever the thread count.
template <typename scalar_t>
void accumulate_gains(const scalar_t* dy, const scalar_t* xhat, int64_t B, int64_t W, double* acc_w,
                      double* acc_b) {
  const int64_t grain = std::max<int64_t>(16, kGrainElems / std::max<int64_t>(B, 1));
  at::parallel_for(0, W, grain, [&](int64_t j0, int64_t j1) {
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* __restrict__ d = dy + b * W;
      const scalar_t* __restrict__ x = xhat + b * W;
      for (int64_t j = j0; j < j1; ++j) {
        acc_w[j] += static_cast<double>(d[j]) * x[j];
        acc_b[j] += d[j];
      }
    }
  });
}

// tanh(x) = 2 sigmoid(2x) - 1 in place on a (B, W) view with contiguous rows: ATen's
// vectorized sigmoid is about 5x faster per element on this CPU than its tanh (MKL VML).
template <typename scalar_t>
void tanh_(const Tensor& v) {
  const int64_t B = v.size(0), W = v.size(1), st = v.stride(0);
  scalar_t* p = v.data_ptr<scalar_t>();
  for_rows(B, W, [&](int64_t b) {
    scalar_t* __restrict__ r = p + b * st;
    for (int64_t j = 0; j < W; ++j) r[j] *= 2;
  });
  v.sigmoid_();
  for_rows(B, W, [&](int64_t b) {
    scalar_t* __restrict__ r = p + b * st;
    for (int64_t j = 0; j < W; ++j) r[j] = 2 * r[j] - 1;
  });
}

struct Saved {
  Tensor hs, cs, s0, s1, s2, xhat, rstd, xhat_c, rstd_c;
};

template <typename scalar_t>
void forward_impl(int64_t kind, const Tensor& xp, const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                  const Tensor& b_hh, const Tensor& ln_w, const Tensor& ln_b, const Tensor& lnc_w,
                  const Tensor& lnc_b, const Tensor& mask, const Tensor& rmask, double eps, Saved& S) {
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = w_hh.size(1);
  const Tensor w_t = w_hh.t();
  const bool ln = ln_w.defined(), lnc = lnc_w.defined();
  Tensor hw = ln ? at::empty({B, G}, xp.options()) : Tensor();       // h_in W_hh^T before LN
  Tensor h_in_buf = rmask.defined() ? at::empty({B, H}, xp.options()) : Tensor();
  Tensor tmp = kind == kLSTM ? at::empty({B, H}, xp.options()) : Tensor();  // c_new, then tanh
  const bool* m = mask.defined() ? mask.data_ptr<bool>() : nullptr;
  const scalar_t *lnw = ptr<scalar_t>(ln_w), *lnb = ptr<scalar_t>(ln_b), *bhh = ptr<scalar_t>(b_hh);
  const scalar_t *lncw = ptr<scalar_t>(lnc_w), *lncb = ptr<scalar_t>(lnc_b);
  Tensor h = h0;
  for (int64_t t = 0; t < T; ++t) {
    Tensor h_in = h;
    if (rmask.defined()) h_in = at::mul_out(h_in_buf, h, rmask);
    const Tensor xpt = xp.select(0, t), ht = S.hs.select(0, t);
    const scalar_t* xpp = xpt.data_ptr<scalar_t>();
    const scalar_t* hp_prev = h.data_ptr<scalar_t>();
    scalar_t* hout = ht.data_ptr<scalar_t>();
    const bool* mt = m ? m + t * B : nullptr;
    if (kind == kGRU) {
      Tensor hp = S.s2.select(0, t), rz = S.s0.select(0, t), n = S.s1.select(0, t);
      if (ln) {
        at::mm_out(hw, h_in, w_t);
        scalar_t *src = hw.data_ptr<scalar_t>(), *dst = hp.data_ptr<scalar_t>();
        scalar_t *xh = step_ptr<scalar_t>(S.xhat, t), *rs = step_ptr<scalar_t>(S.rstd, t);
        for_rows(B, G, [&](int64_t b) {
          ln_forward_row(src + b * G, lnw, lnb, bhh, xh + b * G, rs + b, dst + b * G, G, eps);
        });
      } else {
        at::mm_out(hp, h_in, w_t);  // b_hh is added below: addmm_out would first copy it into hp
      }
      const scalar_t* bias = ln ? nullptr : bhh;  // with layer norm, hp already holds it
      scalar_t* __restrict__ hpp = hp.data_ptr<scalar_t>();
      scalar_t* __restrict__ rzp = rz.data_ptr<scalar_t>();
      scalar_t* __restrict__ np = n.data_ptr<scalar_t>();
      for_rows(B, 2 * H, [&](int64_t b) {
        const scalar_t* __restrict__ xb = xpp + b * G;
        const scalar_t* __restrict__ hb = hpp + b * G;
        scalar_t* __restrict__ o = rzp + b * 2 * H;
        if (bias) {
          for (int64_t j = 0; j < 2 * H; ++j) o[j] = xb[j] + hb[j] + bias[j];
        } else {
          for (int64_t j = 0; j < 2 * H; ++j) o[j] = xb[j] + hb[j];
        }
      });
      rz.sigmoid_();
      for_rows(B, H, [&](int64_t b) {
        const scalar_t* __restrict__ r = rzp + b * 2 * H;
        const scalar_t* __restrict__ xb = xpp + b * G + 2 * H;
        scalar_t* __restrict__ hb = hpp + b * G + 2 * H;  // saved with b_hn: the backward needs it
        scalar_t* __restrict__ o = np + b * H;
        if (bias) {
          for (int64_t j = 0; j < H; ++j) hb[j] += bias[2 * H + j];
        }
        for (int64_t j = 0; j < H; ++j) o[j] = xb[j] + r[j] * hb[j];
      });
      tanh_<scalar_t>(n);
      for_rows(B, H, [&](int64_t b) {
        const scalar_t* __restrict__ z = rzp + b * 2 * H + H;
        const scalar_t* __restrict__ nb = np + b * H;
        const scalar_t* __restrict__ hb = hp_prev + b * H;
        scalar_t* __restrict__ o = hout + b * H;
        if (mt && !mt[b]) {
          for (int64_t j = 0; j < H; ++j) o[j] = hb[j];
        } else {
          for (int64_t j = 0; j < H; ++j) o[j] = nb[j] + z[j] * (hb[j] - nb[j]);
        }
      });
    } else {
      Tensor out = S.s0.select(0, t);  // (B, G): pre-activations, activated in place
      if (ln) {
        at::mm_out(hw, h_in, w_t);
        scalar_t *src = hw.data_ptr<scalar_t>(), *dst = out.data_ptr<scalar_t>();
        scalar_t *xh = step_ptr<scalar_t>(S.xhat, t), *rs = step_ptr<scalar_t>(S.rstd, t);
        for_rows(B, G, [&](int64_t b) {
          ln_forward_row(src + b * G, lnw, lnb, xpp + b * G, xh + b * G, rs + b, dst + b * G, G, eps);
        });
      } else {
        at::addmm_out(out, xpt, h_in, w_t);
      }
      if (kind == kRNN) {
        tanh_<scalar_t>(out);
        if (out.data_ptr() != ht.data_ptr() || mt) {
          const scalar_t* op = out.data_ptr<scalar_t>();
          for_rows(B, H, [&](int64_t b) {
            const scalar_t* src = (mt && !mt[b]) ? hp_prev + b * H : op + b * H;
            for (int64_t j = 0; j < H; ++j) hout[b * H + j] = src[j];
          });
        }
      } else {
        out.narrow(1, 0, 2 * H).sigmoid_();  // i, f
        tanh_<scalar_t>(out.narrow(1, 2 * H, H));  // g
        out.narrow(1, 3 * H, H).sigmoid_();  // o
        const scalar_t* gp = out.data_ptr<scalar_t>();
        const scalar_t* cp_prev = t > 0 ? step_ptr<scalar_t>(S.cs, t - 1) : c0.data_ptr<scalar_t>();
        scalar_t *cn = tmp.data_ptr<scalar_t>(), *cout = step_ptr<scalar_t>(S.cs, t);
        scalar_t *xhc = lnc ? step_ptr<scalar_t>(S.xhat_c, t) : nullptr;
        scalar_t *rsc = lnc ? step_ptr<scalar_t>(S.rstd_c, t) : nullptr;
        for_rows(B, H, [&](int64_t b) {
          const scalar_t* g = gp + b * G;
          const scalar_t* cb = cp_prev + b * H;
          const bool take = !mt || mt[b];
          for (int64_t j = 0; j < H; ++j) {
            const scalar_t v = g[H + j] * cb[j] + g[j] * g[2 * H + j];
            cn[b * H + j] = v;
            cout[b * H + j] = take ? v : cb[j];
          }
          if (lnc) ln_forward_row(cn + b * H, lncw, lncb, (scalar_t*)nullptr, xhc + b * H, rsc + b, cn + b * H, H, eps);
        });
        tanh_<scalar_t>(tmp);
        for_rows(B, H, [&](int64_t b) {
          const scalar_t* o = gp + b * G + 3 * H;
          const scalar_t* tc = cn + b * H;
          if (mt && !mt[b]) {
            for (int64_t j = 0; j < H; ++j) hout[b * H + j] = hp_prev[b * H + j];
          } else {
            for (int64_t j = 0; j < H; ++j) hout[b * H + j] = o[j] * tc[j];
          }
        });
      }
    }
    h = ht;
  }
}

std::vector<Tensor> forward(int64_t kind, const Tensor& xp, const Tensor& h0, const OptT& c0_, const Tensor& w_hh,
                            const OptT& b_hh_, const OptT& ln_w_, const OptT& ln_b_, const OptT& lnc_w_,
                            const OptT& lnc_b_, const OptT& mask_, const OptT& rmask_, double eps) {
  TORCH_CHECK(kind == kRNN || kind == kLSTM || kind == kGRU, "rnnkit native: unknown kind ", kind);
  TORCH_CHECK(xp.dim() == 3 && xp.is_contiguous() && !xp.is_cuda(), "rnnkit native: xp must be (T, B, G), CPU, contiguous");
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = w_hh.size(1);
  const auto o = xp.options();
  Saved S;
  S.hs = buffer({T, B, H}, o);
  const Tensor mask = opt(mask_);
  if (kind == kLSTM) {
    S.cs = buffer({T, B, H}, o);
    S.s0 = buffer({T, B, 4 * H}, o);
  } else if (kind == kGRU) {
    S.s0 = buffer({T, B, 2 * H}, o);
    S.s1 = buffer({T, B, H}, o);
    S.s2 = buffer({T, B, 3 * H}, o);
  } else {
    // Without a mask h_t is the activated output itself: one buffer serves both.
    S.s0 = mask.defined() ? buffer({T, B, H}, o) : S.hs;
  }
  const Tensor ln_w = opt(ln_w_), lnc_w = opt(lnc_w_);
  if (ln_w.defined()) {
    S.xhat = buffer({T, B, G}, o);
    S.rstd = at::empty({T, B, 1}, o);
  }
  if (lnc_w.defined()) {
    S.xhat_c = buffer({T, B, H}, o);
    S.rstd_c = at::empty({T, B, 1}, o);
  }
  const Tensor h0c = h0.contiguous(), c0c = c0_.has_value() ? c0_->contiguous() : Tensor();
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "rnnkit_fast_rnn_forward", [&] {
    forward_impl<scalar_t>(kind, xp, h0c, c0c, w_hh, opt(b_hh_), ln_w, opt(ln_b_), lnc_w, opt(lnc_b_),
                           mask.defined() ? mask.contiguous() : mask, opt(rmask_), eps, S);
  });
  return {S.hs, S.cs, S.s0, S.s1, S.s2, S.xhat, S.rstd, S.xhat_c, S.rstd_c};
}

template <typename scalar_t>
void backward_impl(int64_t kind, const Tensor& d_outs, Tensor& dh, Tensor& dc, const Tensor& h0, const Tensor& c0,
                   const Tensor& w_hh, const Tensor& ln_w, const Tensor& lnc_w, const Tensor& lnc_b,
                   const Tensor& mask, const Tensor& rmask, const Saved& S, Tensor& gx, Tensor& gh,
                   double* acc_ln_w, double* acc_ln_b, double* acc_lnc_w, double* acc_lnc_b) {
  const int64_t T = S.hs.size(0), B = S.hs.size(1), H = S.hs.size(2), G = w_hh.size(0);
  const bool ln = ln_w.defined(), lnc = lnc_w.defined();
  const bool* m = mask.defined() ? mask.data_ptr<bool>() : nullptr;
  Tensor dh_in = at::empty({B, H}, S.hs.options());
  Tensor dcarry = at::empty({B, H}, S.hs.options());
  Tensor tc_buf = kind == kLSTM ? at::empty({B, H}, S.hs.options()) : Tensor();
  Tensor dco_buf = lnc ? at::empty({B, H}, S.hs.options()) : Tensor();  // dL/d LN(c_new), one step
  const scalar_t *lnw = ptr<scalar_t>(ln_w), *lncw = ptr<scalar_t>(lnc_w), *lncb = ptr<scalar_t>(lnc_b);
  const scalar_t* rm = ptr<scalar_t>(rmask);
  scalar_t *dhp = dh.data_ptr<scalar_t>(), *dcp = dc.defined() ? dc.data_ptr<scalar_t>() : nullptr;
  scalar_t* carry = dcarry.data_ptr<scalar_t>();
  // dh = dL/dh_T + dL/d(output_T) on entry.
  {
    const scalar_t* d = step_ptr<scalar_t>(d_outs, T - 1);
    for (int64_t k = 0; k < B * H; ++k) dhp[k] += d[k];
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    const scalar_t* hprev = (t > 0 ? step_ptr<scalar_t>(S.hs, t - 1) : h0.data_ptr<scalar_t>());
    const bool* mt = m ? m + t * B : nullptr;
    scalar_t* gxt = step_ptr<scalar_t>(gx, t);
    scalar_t* ght = step_ptr<scalar_t>(gh, t);
    if (kind == kLSTM) {
      const scalar_t* g = step_ptr<scalar_t>(S.s0, t);
      const scalar_t* cprev = (t > 0 ? step_ptr<scalar_t>(S.cs, t - 1) : c0.data_ptr<scalar_t>());
      scalar_t* tc = tc_buf.data_ptr<scalar_t>();
      const scalar_t* xhc = lnc ? step_ptr<scalar_t>(S.xhat_c, t) : nullptr;
      // tc = tanh(c_new), or tanh(LN(c_new)): c_new recomputed, cheaper than saving it.
      for_rows(B, H, [&](int64_t b) {
        const scalar_t* gb = g + b * G;
        for (int64_t j = 0; j < H; ++j) {
          tc[b * H + j] = lnc ? lncb[j] + xhc[b * H + j] * lncw[j]
                              : gb[H + j] * cprev[b * H + j] + gb[j] * gb[2 * H + j];
        }
      });
      tanh_<scalar_t>(tc_buf);
      scalar_t* dco = lnc ? dco_buf.data_ptr<scalar_t>() : nullptr;
      const scalar_t* rsc = lnc ? step_ptr<scalar_t>(S.rstd_c, t) : nullptr;
      const auto lstm_row = [&](int64_t b) {
        const scalar_t* gb = g + b * G;
        scalar_t* gxb = gxt + b * G;
        const bool take = !mt || mt[b];
        scalar_t* dhb = dhp + b * H;
        scalar_t* dcb = dcp + b * H;
        const scalar_t* tcb = tc + b * H;
        scalar_t* cb = carry + b * H;
        if (!take) {
          // Carried over: dc and dh pass through; this step's gates get nothing.
          for (int64_t j = 0; j < 4 * H; ++j) gxb[j] = 0;
          for (int64_t j = 0; j < H; ++j) cb[j] = dhb[j];
          if (lnc) {
            for (int64_t j = 0; j < H; ++j) dco[b * H + j] = 0;  // nothing reaches the gains
          }
          return;
        }
        if (lnc) {
          scalar_t* __restrict__ dcob = dco + b * H;
          const scalar_t* __restrict__ xb = xhc + b * H;
          for (int64_t j = 0; j < H; ++j) dcob[j] = dhb[j] * gb[3 * H + j] * (1 - tcb[j] * tcb[j]);
          // The LN backward lands in cb (free until the carry is written below).
          ln_backward_row(dcob, xb, rsc[b], lncw, cb, H);
        }
        for (int64_t j = 0; j < H; ++j) {
          const scalar_t i = gb[j], f = gb[H + j], gg = gb[2 * H + j], o = gb[3 * H + j];
          const scalar_t dn = dhb[j];
          const scalar_t dcn = dcb[j] + (lnc ? cb[j] : dn * o * (1 - tcb[j] * tcb[j]));
          gxb[j] = dcn * gg * i * (1 - i);
          gxb[H + j] = dcn * cprev[b * H + j] * f * (1 - f);
          gxb[2 * H + j] = dcn * i * (1 - gg * gg);
          gxb[3 * H + j] = dn * tcb[j] * o * (1 - o);
          dcb[j] = dcn * f;
          cb[j] = 0;
        }
      };
      for_rows(B, H, lstm_row);
      if (lnc) accumulate_gains(dco, xhc, B, H, acc_lnc_w, acc_lnc_b);
    } else if (kind == kGRU) {
      const scalar_t* rz = step_ptr<scalar_t>(S.s0, t);
      const scalar_t* n = step_ptr<scalar_t>(S.s1, t);
      const scalar_t* hp = step_ptr<scalar_t>(S.s2, t);
      for_rows(B, H, [&](int64_t b) {
        const scalar_t* __restrict__ r = rz + b * 2 * H;
        const scalar_t* __restrict__ z = r + H;
        const scalar_t* __restrict__ nb = n + b * H;
        const scalar_t* __restrict__ hpn = hp + b * G + 2 * H;
        const scalar_t* __restrict__ hb = hprev + b * H;
        const scalar_t* __restrict__ dhb = dhp + b * H;
        scalar_t* __restrict__ gxb = gxt + b * G;
        scalar_t* __restrict__ ghb = ght + b * G;
        scalar_t* __restrict__ cb = carry + b * H;
        if (mt && !mt[b]) {
          for (int64_t j = 0; j < G; ++j) gxb[j] = 0;
          for (int64_t j = 0; j < G; ++j) ghb[j] = 0;
          for (int64_t j = 0; j < H; ++j) cb[j] = dhb[j];
          return;
        }
        for (int64_t j = 0; j < H; ++j) {
          const scalar_t dn = dhb[j], zj = z[j], nj = nb[j], rj = r[j];
          const scalar_t gn = dn * (1 - zj) * (1 - nj * nj);
          const scalar_t gz = dn * (hb[j] - nj) * zj * (1 - zj);
          const scalar_t gr = gn * hpn[j] * rj * (1 - rj);
          gxb[j] = gr;
          gxb[H + j] = gz;
          gxb[2 * H + j] = gn;
          ghb[j] = gr;
          ghb[H + j] = gz;
          ghb[2 * H + j] = gn * rj;
          cb[j] = dn * zj;
        }
      });
    } else {
      const scalar_t* y = step_ptr<scalar_t>(S.s0, t);
      for_rows(B, H, [&](int64_t b) {
        const bool take = !mt || mt[b];
        for (int64_t j = 0; j < H; ++j) {
          const scalar_t dn = dhp[b * H + j];
          const scalar_t yv = y[b * H + j];
          gxt[b * H + j] = take ? dn * (1 - yv * yv) : scalar_t(0);
          carry[b * H + j] = take ? scalar_t(0) : dn;
        }
      });
    }
    if (ln) {
      // The gate gradients reach the LN's output: accumulate the gains' gradients from them,
      // then dL/d(h_in W_hh^T) is the LN backward (in place for the GRU, where src is gh).
      const scalar_t* xh = step_ptr<scalar_t>(S.xhat, t);
      const scalar_t* rs = step_ptr<scalar_t>(S.rstd, t);
      const scalar_t* src = kind == kGRU ? ght : gxt;  // may alias ght: no restrict
      accumulate_gains(src, xh, B, G, acc_ln_w, acc_ln_b);
      for_rows(B, G, [&](int64_t b) { ln_backward_row(src + b * G, xh + b * G, rs[b], lnw, ght + b * G, G); });
    }
    at::mm_out(dh_in, gh.select(0, t), w_hh);  // (B, G) x (G, H)
    const scalar_t* dip = dh_in.data_ptr<scalar_t>();
    const scalar_t* dnext = t > 0 ? step_ptr<scalar_t>(d_outs, t - 1) : nullptr;
    for_rows(B, H, [&](int64_t b) {
      for (int64_t j = 0; j < H; ++j) {
        const int64_t k = b * H + j;
        dhp[k] = (rm ? dip[k] * rm[k] : dip[k]) + carry[k] + (dnext ? dnext[k] : scalar_t(0));
      }
    });
  }
}

std::vector<Tensor> backward(int64_t kind, const Tensor& d_outs_, const Tensor& d_hT, const OptT& d_cT,
                             const Tensor& h0, const OptT& c0_, const Tensor& w_hh, bool has_b_hh,
                             const OptT& ln_w_, const OptT& lnc_w_, const OptT& lnc_b_, const OptT& mask_,
                             const OptT& rmask_, const std::vector<Tensor>& saved) {
  Saved S{saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], saved[6], saved[7], saved[8]};
  const int64_t T = S.hs.size(0), B = S.hs.size(1), H = S.hs.size(2), G = w_hh.size(0);
  const auto o = S.hs.options();
  const Tensor d_outs = d_outs_.contiguous();
  const Tensor ln_w = opt(ln_w_), lnc_w = opt(lnc_w_), mask = opt(mask_), rmask = opt(rmask_);
  const Tensor c0 = c0_.has_value() ? c0_->contiguous() : Tensor();
  Tensor dh = d_hT.contiguous().clone();
  Tensor dc;
  if (kind == kLSTM) dc = (d_cT.has_value() && d_cT->numel() > 0) ? d_cT->contiguous().clone() : at::zeros({B, H}, o);
  Tensor gx = buffer({T, B, G}, o);
  const bool ln = ln_w.defined(), lnc = lnc_w.defined();
  // dL/d(h_in W_hh^T) per step, when it differs from gx (GRU's n term, layer norm).
  Tensor gh = (ln || kind == kGRU) ? buffer({T, B, G}, o) : gx;
  // The layer-norm gains' gradients, summed over all T*B rows as the steps go (in double).
  std::vector<double> acc_ln_w(ln ? G : 0), acc_ln_b(ln ? G : 0), acc_lnc_w(lnc ? H : 0), acc_lnc_b(lnc ? H : 0);
  AT_DISPATCH_FLOATING_TYPES(S.hs.scalar_type(), "rnnkit_fast_rnn_backward", [&] {
    backward_impl<scalar_t>(kind, d_outs, dh, dc, h0.contiguous(), c0, w_hh, ln_w, lnc_w, opt(lnc_b_),
                            mask.defined() ? mask.contiguous() : mask, rmask, S, gx, gh, acc_ln_w.data(),
                            acc_ln_b.data(), acc_lnc_w.data(), acc_lnc_b.data());
  });
  // The recurrent weight gradient: one GEMM over all T*B rows, h_0 .. h_{T-1}.
  Tensor h_prev = buffer({T, B, H}, o);
  h_prev.select(0, 0).copy_(h0);
  if (T > 1) h_prev.narrow(0, 1, T - 1).copy_(S.hs.narrow(0, 0, T - 1));
  if (rmask.defined()) h_prev.mul_(rmask);
  const Tensor d_w_hh = gh.reshape({T * B, G}).t().mm(h_prev.reshape({T * B, H}));
  Tensor d_b_hh, d_ln_w, d_ln_b, d_lnc_w, d_lnc_b;
  const auto vec = [&](const std::vector<double>& v) {
    return at::tensor(at::ArrayRef<double>(v), at::TensorOptions().dtype(at::kDouble)).to(o.dtype());
  };
  if (ln) {
    d_ln_w = vec(acc_ln_w);
    d_ln_b = vec(acc_ln_b);
  }
  // b_hh adds after the LN (GRU): its gradient is the LN bias's.
  if (has_b_hh) d_b_hh = ln ? d_ln_b.clone() : gh.reshape({T * B, G}).sum(0);
  if (lnc) {
    d_lnc_w = vec(acc_lnc_w);
    d_lnc_b = vec(acc_lnc_b);
  }
  return {gx, dh, dc, d_w_hh, d_b_hh, d_ln_w, d_ln_b, d_lnc_w, d_lnc_b};
}

}  // namespace

at::Tensor rnnkit_buffer(at::IntArrayRef sizes, const at::TensorOptions& o) { return buffer(sizes, o); }

// min_scan.cpp
at::Tensor rnnkit_min_scan_forward(int64_t gates, const at::Tensor& proj, const at::Tensor& h0,
                                   const c10::optional<at::Tensor>& mask);
std::vector<at::Tensor> rnnkit_min_scan_backward(int64_t gates, const at::Tensor& proj, const at::Tensor& h0,
                                                 const c10::optional<at::Tensor>& mask, const at::Tensor& hs,
                                                 const at::Tensor& d_out);

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "rnnkit fast RNN forward (C++ time loop)");
  m.def("backward", &backward, "rnnkit fast RNN backward (C++ time loop)");
  m.def("min_scan_forward", &rnnkit_min_scan_forward, "minGRU/minLSTM recurrence forward (CPU)");
  m.def("min_scan_backward", &rnnkit_min_scan_backward, "minGRU/minLSTM recurrence backward (CPU)");
  m.def("cached_bytes", [] { return BufferCache::get().cached_bytes(); }, "bytes held by the buffer cache");
  m.def("clear_cache", [] { BufferCache::get().clear(); }, "return the cached buffers to the system");
}
