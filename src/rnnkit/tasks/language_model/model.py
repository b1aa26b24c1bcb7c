"""The recurrent language model (:class:`RecurrentLM`, Zaremba et al. 2014 with tied weights,
Press & Wolf 2017)::

    ids (B, T) -> Embedding(V, E) -> Dropout -> [LSTM/GRU (stateful) -> Dropout] x L (B, T, H)
               -> [Dense(E) if H != E] -> logits = h E^T + b (B, T, V)   # output tied to the embedding

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
    ) -> None:
        super().__init__()
        choice("cell", cell, LM_CELLS)
        self.tie_weights = tie_weights
        # Default N(0, 1) as torch.nn.Embedding, not Keras's U(-0.05, 0.05): with the output tied
        # to this matrix, tiny embeddings give tiny logits and gradients under Adam. Measured on
        # PTB (2 x 200, Adam 3e-3): training loss 6.60 after 150 chunks with Keras's init, 5.77
        # with N(0, 1). SGD at lr 20 (PyTorch's example) scales them up itself from U(-0.1, 0.1).
        init = RandomNormal(stddev=1.0) if init_range is None else RandomUniform(-init_range, init_range)
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
        h = self.drop(self.embedding(ids))  # (B, T, E)
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
        return StepWeights(emb, tuple(cells), proj_w, proj_b, out_w, out_b, int8=int8)

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
