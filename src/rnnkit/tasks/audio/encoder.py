"""The recurrent acoustic encoder both speech tasks use, over log-mel frames::

    frames (B, T, M) -> [Conv1d(M, C, 5, stride=s) + ReLU]   optional: subsamples time by s
                     -> N x (Bi)LSTM/GRU(H), right-padded mask  -> (B, T', D*H), T' = ceil(T / s)

The convolution sees 5 frames (50 ms) and keeps every s-th step, so the recurrent layers run
s times fewer steps (Amodei et al. 2016, Deep Speech 2, section 3.1, stride in time).

Shapes: B batch, T frames (10 ms), M mel bands, C conv channels, s stride, H units per
direction, D directions.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit import layers
from rnnkit.errors import ConfigError, invalid

Tensor = torch.Tensor
CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}
KERNEL = 5  # conv width in frames


def subsampled_lengths(lengths: Tensor, stride: int) -> Tensor:
    """Frames after the strided conv (padding KERNEL // 2): floor((T - 1) / s) + 1 = ceil(T / s)."""
    return torch.div(lengths - 1, stride, rounding_mode="floor") + 1


def length_mask(lengths: Tensor, steps: int) -> Tensor:
    """(B,) lengths -> (B, steps) bool, True on real frames (right padding)."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


class AcousticEncoder(nn.Module):
    """Optional strided Conv1d, then ``num_layers`` (bi)directional LSTM/GRU layers."""

    def __init__(
        self,
        n_mels: int,
        cell: str = "gru",
        units: int = 128,
        num_layers: int = 2,
        bidirectional: bool = True,
        conv_channels: int = 128,
        stride: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(invalid("cell", cell, sorted(CELLS)))
        if conv_channels == 0 and stride != 1:
            raise ConfigError(invalid("stride", stride, "1 when conv_channels=0 (no conv to subsample)"))
        self.stride = stride
        self.conv = (
            nn.Conv1d(n_mels, conv_channels, KERNEL, stride=stride, padding=KERNEL // 2)
            if conv_channels
            else None
        )
        rnns = []
        for _ in range(num_layers):
            rnn = CELLS[cell](units, return_sequences=True)
            rnns.append(layers.Bidirectional(rnn) if bidirectional else rnn)
        self.rnns = nn.ModuleList(rnns)
        self.dropout = nn.Dropout(dropout)
        self.output_size = units * (2 if bidirectional else 1)

    def forward(self, frames: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, M), (B,) -> (B, T', D*H), (B,) subsampled lengths."""
        # zero the padding: the conv's window at a clip's end must see zeros, as it does for the
        # same clip alone (its own zero padding), not the frames of whatever pads the batch
        h = frames * length_mask(lengths, frames.shape[1])[..., None].to(frames.dtype)
        if self.conv is not None:
            h = torch.relu(self.conv(h.transpose(1, 2))).transpose(1, 2)  # (B, M, T) -> (B, T', C)
            lengths = subsampled_lengths(lengths, self.stride)
        mask = length_mask(lengths, h.shape[1])  # (B, T')
        for rnn in self.rnns:
            h = self.dropout(h)
            h._keras_mask = mask  # type: ignore[attr-defined]  # the mask travels on the tensor
            h = rnn(h)
        return h, lengths
