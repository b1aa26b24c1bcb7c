"""Keyword spotting: the shared :class:`~rnnkit.tasks.audio.encoder.AcousticEncoder`, then masked
mean and max pooling over time, then Dense(classes).

    frames (B, T, M) -> encoder -> h (B, T', D*H) -> [mean_t h ; max_t h] (B, 2 D H) -> logits (B, K)

Pooling over every frame, not only the last state, lets a word anywhere in the clip decide
(a one-second window holds the word and silence around it). Trained with the ordinary
``sparse_categorical_crossentropy(from_logits=True)``: no override needed.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.models import Model
from rnnkit.tasks.audio.encoder import AcousticEncoder, length_mask

Tensor = torch.Tensor


class CommandClassifier(Model):
    """Encoder + masked mean/max pooling + Dense(n_classes) logits."""

    def __init__(
        self,
        n_mels: int,
        n_classes: int,
        cell: str = "gru",
        units: int = 64,
        num_layers: int = 2,
        bidirectional: bool = True,
        conv_channels: int = 64,
        stride: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = AcousticEncoder(
            n_mels, cell, units, num_layers, bidirectional, conv_channels, stride, dropout
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * self.encoder.output_size, n_classes)

    def forward(self, frames: Tensor, lengths: Tensor) -> Tensor:
        """(B, T, M), (B,) -> logits (B, K)."""
        h, lengths = self.encoder(frames, lengths)  # (B, T', F)
        mask = length_mask(lengths, h.shape[1])[..., None]  # (B, T', 1)
        mean = (h * mask).sum(1) / lengths[:, None].clamp(min=1)  # (B, F)
        peak = h.masked_fill(~mask, float("-inf")).amax(1)  # (B, F)
        return self.head(self.drop(torch.cat([mean, peak], dim=-1)))
