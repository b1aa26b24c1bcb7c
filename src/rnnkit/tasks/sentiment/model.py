"""The sentiment network (:class:`SentimentNet`)::

ids (B, T) -> Embedding(V, E, mask_zero) -> [Bi]LSTM/GRU/SimpleRNN x L (B, T, D*H)
           -> concat(masked max pool, masked mean pool) (B, 2*D*H) -> Dropout -> Dense(C) logits
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit import layers
from rnnkit.config import choice
from rnnkit.errors import ConfigError, invalid
from rnnkit.models import Model
from rnnkit.tasks.sentiment.config import POOLINGS, SentimentConfig

CELL_LAYERS = {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}


class SentimentNet(Model):
    """Embedding -> stacked (bidirectional) recurrent layers -> pooling -> Dense logits."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed_dim: int = 128,
        units: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        pooling: str = "maxmean",
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        choice("cell", cell, CELL_LAYERS)
        choice("pooling", pooling, POOLINGS)
        if num_classes < 2:
            raise ConfigError(invalid("num_classes", num_classes, "an integer >= 2"))
        self.pooling = pooling
        self.embedding = layers.Embedding(vocab_size, embed_dim, mask_zero=True)
        stack = []
        for i in range(num_layers):
            last_only = pooling == "last" and i == num_layers - 1
            rnn = CELL_LAYERS[cell](units, return_sequences=not last_only)
            stack.append(layers.Bidirectional(rnn) if bidirectional else rnn)
        self.rnns = nn.ModuleList(stack)
        self.max_pool = layers.GlobalMaxPooling1D()
        self.mean_pool = layers.GlobalAveragePooling1D()
        self.drop = layers.Dropout(dropout)
        self.head = layers.Dense(num_classes)

    def forward(self, ids: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        h = self.embedding(ids)  # (B, T, E), carries the padding mask
        for rnn in self.rnns:
            h = rnn(h)  # (B, T, D*H) or (B, D*H) for pooling="last"
        if self.pooling == "max":
            h = self.max_pool(h)
        elif self.pooling == "mean":
            h = self.mean_pool(h)
        elif self.pooling == "maxmean":
            h = torch.cat([self.max_pool(h), self.mean_pool(h)], dim=-1)  # (B, 2*D*H)
        return self.head(self.drop(h))  # (B, C)


def build_model(config: SentimentConfig, vocab_size: int, num_classes: int) -> SentimentNet:
    return SentimentNet(
        vocab_size,
        num_classes,
        embed_dim=config.embed_dim,
        units=config.units,
        num_layers=config.num_layers,
        cell=config.cell,
        bidirectional=config.bidirectional,
        pooling=config.pooling,
        dropout=config.dropout,
    )
