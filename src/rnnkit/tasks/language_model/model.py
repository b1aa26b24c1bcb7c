"""The recurrent language model (:class:`RecurrentLM`, Zaremba et al. 2014 with tied weights,
Press & Wolf 2017)::

    ids (B, T) -> Embedding(V, E) [x sqrt(E)] -> Dropout -> [LSTM/GRU (stateful) -> Dropout] x L (B, T, H)
               -> [Dense(E) if H != E] -> logits = h E^T + b (B, T, V)   # output tied to the embedding

With ``scale_embedding`` (every run ``build_model`` makes unless ``init_range`` is set) the tied
matrix starts N(0, 1/E) and the input multiplies it by sqrt(E), as the Transformer does with its tied
embeddings (Vaswani et al. 2017, section 3.4): the recurrent layers read unit-scale inputs, while
the logits h E^T start small, so the first loss is ln V. The earlier N(0, 1) matrix gave rows of
norm sqrt(E) = 16, logits of several nats at the start and a jump after the first Adam step
(Shakespeare characters, V = 69: 5.8 at the start, 10.8 after one step; see test_language_model).

:func:`perplexity` scores a token stream with the state carried across chunks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import layers
from rnnkit.config import choice
from rnnkit.core.initializers import RandomNormal, RandomUniform
from rnnkit.models import Model
from rnnkit.tasks.decoding import StepWeights
from rnnkit.tasks.language_model.config import LMConfig
from rnnkit.tasks.language_model.data import tbptt_data

LM_CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}


class RecurrentLM(Model):
    """Embedding -> stacked stateful LSTM/GRU with dropout -> output tied to the embedding."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 256,
        units: int = 256,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.4,
        tie_weights: bool = True,
        init_range: float | None = None,
        scale_embedding: bool = False,
    ) -> None:
        super().__init__()
        choice("cell", cell, LM_CELLS)
        self.tie_weights = tie_weights
        # Inputs near unit scale, not Keras's U(-0.05, 0.05): tiny inputs learn slowly under
        # Adam (PTB, 2 x 200, Adam 3e-3: training loss 6.60 after 150 chunks with Keras's init,
        # 5.77 with N(0, 1)). scale_embedding gets them as N(0, 1/E) x sqrt(E), which keeps the
        # tied logits small at the start (module docstring); False keeps N(0, 1) unscaled, what
        # model files saved before it hold. SGD at lr 20 (PyTorch's example) scales them up
        # itself from U(-0.1, 0.1) (init_range).
        self.input_scale = math.sqrt(embed_dim) if scale_embedding else 1.0
        if init_range is not None:
            init: Any = RandomUniform(-init_range, init_range)
        else:
            init = RandomNormal(stddev=1.0 / self.input_scale)
        self.embedding = layers.Embedding(vocab_size, embed_dim, embeddings_initializer=init)
        self.rnns = nn.ModuleList(
            LM_CELLS[cell](units, return_sequences=True, stateful=True) for _ in range(num_layers)
        )
        self.drop = layers.Dropout(dropout)
        self.proj = layers.Dense(embed_dim) if tie_weights and units != embed_dim else None
        if tie_weights:
            self.out_bias = nn.Parameter(torch.zeros(vocab_size))
            self.head = None
        else:
            self.head = layers.Dense(vocab_size)

    def forward(self, ids: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        h = self.drop(self.embedding(ids) * self.input_scale)  # (B, T, E)
        for rnn in self.rnns:
            h = self.drop(rnn(h))  # (B, T, H)
        if self.proj is not None:
            h = self.proj(h)  # (B, T, E)
        if self.head is not None:
            return self.head(h)  # (B, T, V)
        emb: Any = self.embedding
        return F.linear(h, emb.weight, self.out_bias)  # (B, T, V), tied

    def step_weights(self, int8: bool = False) -> StepWeights:
        """The weights as one step needs them (detached: decoding never trains; int8: see StepWeights)."""

        def det(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.detach()

        cells = []
        me: Any = self  # layers are built lazily: their weights are not visible to mypy
        for rnn in me.rnns:
            p = rnn.cell.params()
            cells.append(
                dataclasses.replace(
                    p,
                    weight_ih=p.weight_ih.detach(),
                    weight_hh=p.weight_hh.detach(),
                    bias_ih=det(p.bias_ih),
                    bias_hh=det(p.bias_hh),
                )
            )
        emb = me.embedding.weight.detach()
        if me.head is not None:
            out_w, out_b = me.head.weight.detach(), det(me.head.bias)
        else:
            out_w, out_b = emb, me.out_bias.detach()
        proj_w = proj_b = None
        if me.proj is not None:
            proj_w, proj_b = me.proj.weight.detach(), det(me.proj.bias)
        return StepWeights(emb * me.input_scale, tuple(cells), proj_w, proj_b, out_w, out_b, int8=int8)

    def forget_states(self) -> None:
        """Drop the carried states (and their batch size): the next call starts from zeros."""
        rnn: Any
        for rnn in self.rnns:
            rnn.reset_states(batch_size=None)


def build_model(config: LMConfig, vocab_size: int) -> RecurrentLM:
    return RecurrentLM(
        vocab_size,
        embed_dim=config.embed_dim,
        units=config.units,
        num_layers=config.num_layers,
        cell=config.cell,
        dropout=config.dropout,
        tie_weights=config.tie_weights,
        init_range=config.init_range,
        # Tied and initialised by us: unit-scale inputs, small first logits (module docstring).
        # init_range (PyTorch's SGD recipe) keeps that recipe's unscaled U(-r, r).
        scale_embedding=config.tie_weights and config.init_range is None,
    )


@torch.no_grad()
def perplexity(
    model: RecurrentLM, ids: Sequence[int], batch_size: int = 10, bptt: int = 35
) -> dict[str, float]:
    """Mean cross-entropy (nats/token) and perplexity over ``ids``, state carried across chunks."""
    model.eval()
    model.forget_states()
    data = tbptt_data(ids, batch_size, bptt)
    total, count = 0.0, 0
    for x, y, _ in data:
        if y is None:
            continue
        logits = model(x)  # (B, k, V)
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
        count += y.numel()
    model.forget_states()
    nats = total / max(count, 1)
    return {
        "nats_per_token": nats,
        "perplexity": math.exp(nats),
        "bits_per_token": nats / math.log(2),
        "tokens": count,
    }
