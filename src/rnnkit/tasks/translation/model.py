"""Sequence-to-sequence with attention: (Bi)LSTM/GRU encoder, attention decoder, teacher forcing.

References: Sutskever et al. 2014 (encoder-decoder); Luong, Pham & Manning 2015 (global
attention, "general" score, the attentional layer h~); Bahdanau et al. 2015 (additive score).

Shapes: B batch, S source steps, T target steps, E embedding size, H decoder units,
M = H encoder output size (H / 2 a direction when bidirectional), V target vocabulary::

    m = Encoder(Embed(x))                           (B, S, M), zero at padded source steps
    h_0 = tanh(W_h mean_s m),  c_0 = W_c mean_s m   the bridge (the masked mean of m)
    h_t = Decoder(Embed(y_<t), h_0)                  (B, T, H): the fused kernel in training
    dot:      c_t = sum_s a_ts m_s,  a_t = softmax_s(h_t^T W_a m_s)            (Luong general)
    additive: a_t = softmax_s(v^T tanh(W_q h_t + W_k m_s))                     (Bahdanau score)
    h~_t = tanh(W_c [c_t; h_t])                      (none: h~_t = tanh(W_c h_t))
    p(y_t | y_<t, x) = softmax(W_o dropout(h~_t) + b)   (tied: W_o = Embed_y / sqrt(E))

The attention reads the decoder's own state (Luong's global attention without input feeding),
so training runs the decoder over the whole target in one fused call instead of a Python
loop of cells; decoding runs the same cell one step at a time (:meth:`Seq2Seq.step`), with
the encoder's output computed once and carried in the search state.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import layers
from rnnkit.core import initializers as init_mod
from rnnkit.errors import ConfigError, invalid
from rnnkit.models import Model

Tensor = torch.Tensor

RNNS = {"lstm": layers.LSTM, "gru": layers.GRU}
ATTENTIONS = ("dot", "additive", "none")


class Seq2Seq(Model):
    """Encoder-decoder with attention, trained by teacher forcing (``train_step`` / ``test_step``)."""

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        embed_dim: int = 256,
        units: int = 256,
        cell: str = "lstm",
        bidirectional: bool = True,
        attention: str = "dot",
        tie_embeddings: bool = False,
        dropout: float = 0.2,
        label_smoothing: float = 0.1,
    ) -> None:
        super().__init__()
        if cell not in RNNS:
            raise ConfigError(invalid("cell", cell, tuple(RNNS)))
        if attention not in ATTENTIONS:
            raise ConfigError(invalid("attention", attention, ATTENTIONS))
        if bidirectional and units % 2:
            raise ConfigError(invalid("units", units, "an even number when bidirectional"))
        self.cell_kind, self.attention, self.tie = cell, attention, bool(tie_embeddings)
        self.label_smoothing = float(label_smoothing)
        rnn = RNNS[cell]
        E, H = embed_dim, units
        # N(0, 1) embeddings (torch's nn.Embedding default), not Keras's U(-0.05, 0.05): with tiny
        # inputs the attention scores h^T W m start near 0 and their gradient is second order in
        # that smallness, so attention is learned hundreds of steps later (measured on a toy code).
        emb_init = init_mod.RandomNormal(stddev=1.0)
        self.src_embed = layers.Embedding(src_vocab, E, mask_zero=True, embeddings_initializer=emb_init)
        if bidirectional:
            self.encoder: layers.Layer = layers.Bidirectional(
                rnn(H // 2, return_sequences=True), input_shape=(None, E)
            )
        else:
            self.encoder = rnn(H, return_sequences=True, input_shape=(None, E))
        self.bridge_h = layers.Dense(H, activation="tanh", input_shape=(H,))
        self.bridge_c = layers.Dense(H, input_shape=(H,)) if cell == "lstm" else None
        # No mask on the target: padding is at the end, so it never reaches a real step of a
        # forward RNN, and the loss ignores it; the decoder keeps the unpacked fused kernel.
        self.tgt_embed = layers.Embedding(tgt_vocab, E, embeddings_initializer=emb_init)
        self.decoder = rnn(H, return_sequences=True, input_shape=(None, E))
        self.key_proj = self.query_proj = None
        if attention == "dot":
            self.key_proj = layers.Dense(H, use_bias=False, input_shape=(H,))  # W_a
            self.attend: layers.Attention | None = layers.Attention()
        elif attention == "additive":
            self.key_proj = layers.Dense(H, use_bias=False, input_shape=(H,))  # W_k
            self.query_proj = layers.Dense(H, input_shape=(H,))  # W_q (its bias is Bahdanau's b)
            self.attend = layers.AdditiveAttention()
            self.attend.build([(None, None, H), (None, None, H)])
        else:
            self.attend = None
        out_dim = E if self.tie else H
        self.combine = layers.Dense(
            out_dim, activation="tanh", input_shape=(H if attention == "none" else 2 * H,)
        )
        self.drop = layers.Dropout(dropout)
        if self.tie:
            self.out = None
            self.out_bias = nn.Parameter(torch.zeros(tgt_vocab))
        else:
            self.out = layers.Dense(tgt_vocab, input_shape=(out_dim,))

    # ------------------------------------------------------------------ the network
    def encode(self, src: Tensor) -> dict[str, Any]:
        """Run the encoder once: the search state every decoding step reads (N rows in dim 0)."""
        mask = src != 0  # (B, S)
        m = self.encoder(self.drop(self.src_embed(src)), mask=mask)  # (B, S, M)
        m = m * mask.unsqueeze(-1).to(m.dtype)
        mean = m.sum(1) / mask.sum(1, keepdim=True).clamp(min=1).to(m.dtype)  # (B, M)
        h0 = self.bridge_h(mean)
        rnn = (h0, self.bridge_c(mean)) if self.bridge_c is not None else (h0,)
        state: dict[str, Any] = {"rnn": rnn}
        if self.attend is not None:
            state.update(memory=m, keys=self.key_proj(m), mask=mask)  # type: ignore[misc]
        return state

    def head(self, h: Tensor, state: dict[str, Any]) -> tuple[Tensor, Tensor | None]:
        """Decoder outputs (B, T, H) -> logits (B, T, V) and attention weights (B, T, S)."""
        weights = None
        if self.attend is None:
            z = h
        else:
            q = self.query_proj(h) if self.query_proj is not None else h
            ctx, weights = self.attend(
                [q, state["memory"], state["keys"]], mask=[None, state["mask"]], return_attention_scores=True
            )
            z = torch.cat([ctx, h], dim=-1)  # [c_t; h_t]
        z = self.drop(self.combine(z))
        if self.out is None:
            tied: Tensor = self.tgt_embed.weight  # type: ignore[assignment]
            # The rows are N(0, 1) (norm ~sqrt(E)): 1/sqrt(E) keeps the first logits O(1).
            return F.linear(z, tied) * tied.shape[1] ** -0.5 + self.out_bias, weights
        return self.out(z), weights

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: logits (B, T, V) for every next target token."""
        state = self.encode(src)
        h = self.decoder(self.drop(self.tgt_embed(tgt_in)), initial_state=list(state["rnn"]))
        return self.head(h, state)[0]

    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any], Tensor | None]:
        """One decoding step for :mod:`rnnkit.models.search`: the decoder cell, never the encoder."""
        x = self.tgt_embed(tokens)  # (N, E)
        h, new = self.decoder.cell(x, list(state["rnn"]))
        logits, weights = self.head(h.unsqueeze(1), state)  # (N, 1, V), (N, 1, S)
        out_state = {**state, "rnn": tuple(new)}
        return (
            torch.log_softmax(logits[:, 0].float(), dim=-1),
            out_state,
            (None if weights is None else weights[:, 0]),
        )

    # ------------------------------------------------------------------ teacher forcing
    def token_losses(self, logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """(label-smoothed cross-entropy, plain NLL), both averaged over real (non-pad) target tokens."""
        flat, y = logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1)
        # One log-softmax for both: over a 4k-8k vocabulary it is ~8% of a training step, and
        # F.cross_entropy(label_smoothing=e) is exactly (1 - e) * NLL + e * mean_v(-log p_v).
        logp = torch.log_softmax(flat, dim=-1)  # (B * T, V)
        real = y != 0  # <pad> targets carry no loss
        n = real.sum().clamp(min=1)
        nll_tok = -logp.gather(1, y.unsqueeze(1)).squeeze(1)  # (B * T,)
        nll = (nll_tok * real).sum() / n
        e = self.label_smoothing
        if e == 0:
            return nll, nll.detach()
        uniform = -(logp.mean(-1) * real).sum() / n
        return (1 - e) * nll + e * uniform, nll.detach()

    def train_step(self, data: tuple[Any, Any, Tensor | None]) -> dict[str, Any]:
        x, y, _ = data
        with self._autocast():
            logits = self.train_forward(x)
        loss, nll = self.token_losses(logits, y)
        self.optimizer.zero_grad()  # type: ignore[union-attr]
        loss.backward()
        self.optimizer.step()  # type: ignore[union-attr]
        return {"loss": loss.detach(), "nll": nll}

    @torch.no_grad()
    def test_step(self, data: tuple[Any, Any, Tensor | None]) -> dict[str, Any]:
        x, y, _ = data
        with self._autocast():
            logits = self(*x)
        loss, nll = self.token_losses(logits, y)
        return {"loss": loss, "nll": nll}


def build_model(config: Any, src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    """The network a :class:`~rnnkit.tasks.translation.config.TranslationConfig` describes."""
    return Seq2Seq(
        src_vocab,
        tgt_vocab,
        embed_dim=config.embed_dim,
        units=config.units,
        cell=config.cell,
        bidirectional=config.bidirectional,
        attention=config.attention,
        tie_embeddings=config.tie_embeddings,
        dropout=config.dropout,
        label_smoothing=config.label_smoothing,
    )
