"""Dot-product (Luong) and additive (Bahdanau) attention, Keras 3's ``Attention`` and
``AdditiveAttention`` with their arguments and numerics.

References: Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural
Machine Translation" (dot score, section 3.1); Bahdanau, Cho & Bengio 2015, "Neural Machine
Translation by Jointly Learning to Align and Translate" (additive score, appendix A.1.2);
Keras 3 ``keras/src/layers/attention/attention.py`` and ``additive_attention.py``.

Shapes: B batch, Tq query steps, Tv value steps, D features (query and key share D).
Inputs are a list ``[query (B, Tq, D), value (B, Tv, Dv)]`` or ``[query, value, key (B, Tv, D)]``
(key defaults to value). With ``s`` the scores (B, Tq, Tv)::

    dot:       s = q k^T                      (times a learned scalar ``scale`` if use_scale)
    concat:    s_ij = w * sum_d tanh(a * (q_i + k_j))_d   (w = concat_score_weight, a = scale)
    additive:  s_ij = sum_d v_d * tanh(q_i + k_j)_d       (v = scale, a (D,) vector, if use_scale)
    a = softmax(s - 1e9 * [value step j is padding])     (over Tv)
    out = dropout(a) v,  zeroed where the query step is padding

The masks are ``[query_mask (B, Tq), value_mask (B, Tv)]`` (True = a real step), passed as
``mask=`` or read from the tensors' Keras masks (an ``Embedding(mask_zero=True)`` output);
the output carries the query's mask. ``return_attention_scores=True`` also returns ``a``
(after dropout, as Keras does).

.. note:: The additive score here has no projections of its own (as Keras's): project the
   query and the key with ``Dense`` first for Bahdanau's ``v^T tanh(W q + U k)``.
"""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.core import initializers as init_mod
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers.base import Layer, Shape, get_mask
from rnnkit.layers.core_layers import check_rate, seeded_generator

Tensor = torch.Tensor

SCORE_MODES = ("dot", "concat")


class Attention(Layer):
    """Luong-style dot-product attention (Keras's ``layers.Attention``).

    ``use_scale`` learns a scalar multiplying the scores (initialised to 1); ``score_mode="concat"``
    scores with ``tanh`` of the sum of query and key instead of their dot product.
    """

    supports_masking = True
    scale: torch.nn.Parameter | None
    concat_score_weight: torch.nn.Parameter | None

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if score_mode not in SCORE_MODES:
            raise ConfigError(invalid("score_mode", score_mode, SCORE_MODES))
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = check_rate("dropout", dropout)
        self.seed = seed
        self._generator: torch.Generator | None = None

    # ----------------------------------------------------------------- weights
    def build(self, input_shape: Any) -> None:
        self._check_shapes(input_shape)
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        else:
            self.register_parameter("scale", None)
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")
        else:
            self.register_parameter("concat_score_weight", None)
        super().build(input_shape)

    def _check_shapes(self, input_shape: Any) -> None:
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ShapeError(invalid("inputs", input_shape, "a list [query, value] or [query, value, key]"))
        if not 2 <= len(input_shape) <= 3:
            expected = "a list [query, value] or [query, value, key]"
            raise ShapeError(invalid("inputs", f"a list of {len(input_shape)}", expected))

    # ----------------------------------------------------------------- math
    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        """(B, Tq, D), (B, Tv, D) -> scores (B, Tq, Tv)."""
        if self.score_mode == "dot":
            scores = torch.matmul(query, key.transpose(-2, -1))
            return scores * self.scale if self.scale is not None else scores
        # concat: (B, Tq, 1, D) + (B, 1, Tv, D) -> (B, Tq, Tv, D), summed over D
        both = query.unsqueeze(-2) + key.unsqueeze(-3)
        if self.scale is not None:
            both = self.scale * both
        weight = self.concat_score_weight
        if weight is None:  # only a concat layer built by build() scores this way
            raise ShapeError(f"{self.name}: score_mode='concat' but the layer has no concat_score_weight.")
        return weight * torch.tanh(both).sum(-1)

    def _dropout(self, weights: Tensor, training: bool) -> Tensor:
        if not training or self.dropout == 0.0:
            return weights
        gen = seeded_generator(self, weights.device)
        keep = torch.rand(weights.shape, device=weights.device, generator=gen) >= self.dropout
        return weights * keep.to(weights.dtype) / (1.0 - self.dropout)

    def call(
        self,
        inputs: list[Tensor],
        mask: Any = None,
        training: bool = False,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        self._check_shapes([tuple(t.shape) for t in inputs])
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        if query.dim() != 3 or value.dim() != 3 or key.dim() != 3:
            raise ShapeError(
                invalid("inputs", [tuple(t.shape) for t in inputs], "3-D tensors (batch, steps, features)")
            )
        if key.shape[-2] != value.shape[-2]:
            raise ShapeError(invalid("key", tuple(key.shape), f"{value.shape[-2]} steps, as the value has"))
        q_mask, v_mask = self._masks(inputs, mask)
        scores = self._scores(query, key)  # (B, Tq, Tv)
        keep = None if v_mask is None else v_mask.unsqueeze(-2)  # (B, 1, Tv)
        if use_causal_mask:
            Tq, Tv = scores.shape[-2:]
            causal = torch.ones(Tq, Tv, dtype=torch.bool, device=scores.device).tril()  # j <= i
            keep = causal if keep is None else keep & causal
        if keep is not None:
            # Keras subtracts a large constant (not -inf): a row with every step masked stays finite.
            big = 65504.0 if scores.dtype == torch.float16 else 1.0e9
            scores = torch.where(keep, scores, scores - big)
        weights = self._dropout(torch.softmax(scores, dim=-1), training)
        out = torch.matmul(weights, value)  # (B, Tq, Dv)
        if q_mask is not None:
            out = torch.where(q_mask.unsqueeze(-1), out, torch.zeros((), dtype=out.dtype, device=out.device))
        return (out, weights) if return_attention_scores else out

    def _masks(self, inputs: list[Tensor], mask: Any) -> tuple[Tensor | None, Tensor | None]:
        if mask is None:
            mask = [get_mask(t) for t in inputs[:2]]
        if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            raise ShapeError(invalid("mask", type(mask).__name__, "a list [query_mask, value_mask]"))
        q_mask, v_mask = mask[0], mask[1]
        return (None if q_mask is None else q_mask.bool()), (None if v_mask is None else v_mask.bool())

    def compute_mask(self, inputs: Any, mask: Any = None) -> Tensor | None:
        if mask is None and isinstance(inputs, (list, tuple)) and inputs:
            return get_mask(inputs[0])
        if mask is None or mask[0] is None:
            return None
        return mask[0].bool()

    def compute_output_shape(self, input_shape: Any) -> Shape:
        query_shape, value_shape = input_shape[0], input_shape[1]
        return (*query_shape[:-1], value_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


class AdditiveAttention(Attention):
    """Bahdanau-style additive attention (Keras's ``layers.AdditiveAttention``).

    ``use_scale`` (default True) learns the vector ``v`` (D,) of ``sum_d v_d tanh(q_i + k_j)_d``,
    initialised glorot-uniform as in Keras.
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: Any) -> None:
        self._check_shapes(input_shape)
        dim = input_shape[0][-1]
        if self.use_scale:
            if dim is None:
                raise ShapeError(invalid("input_shape", input_shape, "a known query feature size"))
            self.add_weight("scale", (int(dim),), init_mod.get("glorot_uniform"))
        else:
            self.register_parameter("scale", None)
        self.register_parameter("concat_score_weight", None)
        Layer.build(self, input_shape)

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        # (B, Tq, 1, D) + (B, 1, Tv, D) -> tanh -> weighted sum over D -> (B, Tq, Tv)
        t = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        return (t * self.scale).sum(-1) if self.scale is not None else t.sum(-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config
