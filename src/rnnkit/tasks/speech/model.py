"""The speech-to-text model: the shared acoustic encoder with a CTC head.

:class:`SpeechRecognizer` runs :class:`~rnnkit.tasks.audio.encoder.AcousticEncoder` (strided
Conv1d + (Bi)LSTM/GRU stack), then a Dense layer to K = labels + blank, and trains with
``torch.nn.CTCLoss`` (Graves et al. 2006): ``-log P(l | x)`` summed over every alignment by the
forward-backward algorithm. It overrides ``train_step`` / ``test_step`` (the loss needs the
frame and label lengths, not a (y_true, y_pred) pair), so ``fit``, checkpoints and resume work
as for any model.

Shapes: B batch, T frames (10 ms), T' after the conv's stride, M mel bands, K labels including
the blank (id 0).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnnkit.models import Model
from rnnkit.tasks.audio.encoder import AcousticEncoder

Tensor = torch.Tensor


class SpeechRecognizer(Model):
    """CTC speech-to-text: :class:`AcousticEncoder` + Dense(K); ``forward`` gives (log-probs, lengths)."""

    def __init__(
        self,
        n_mels: int,
        n_labels: int,
        cell: str = "gru",
        units: int = 128,
        num_layers: int = 2,
        bidirectional: bool = True,
        conv_channels: int = 128,
        stride: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = AcousticEncoder(
            n_mels, cell, units, num_layers, bidirectional, conv_channels, stride, dropout
        )
        self.head = nn.Linear(self.encoder.output_size, n_labels)
        # blank = 0; zero_infinity: a clip too short for its transcript gives 0, not inf/NaN
        self.ctc = nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)

    def forward(self, frames: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, M), (B,) -> log-probabilities (B, T', K), frame lengths (B,)."""
        h, out_lengths = self.encoder(frames, lengths)
        return torch.log_softmax(self.head(h).float(), dim=-1), out_lengths

    def ctc_loss(
        self, log_probs: Tensor, out_lengths: Tensor, targets: Tensor, target_lengths: Tensor
    ) -> Tensor:
        """Mean over the batch of -log P(l | x) / |l| (CTCLoss's "mean" divides by target length)."""
        return self.ctc(log_probs.transpose(0, 1), targets, out_lengths, target_lengths)  # wants (T', B, K)

    def train_step(self, data: tuple[Any, Any, Tensor | None]) -> Tensor:
        x, (targets, target_lengths), _ = data
        log_probs, out_lengths = self.train_forward(x)
        loss = self.ctc_loss(log_probs, out_lengths, targets, target_lengths)
        self.optimizer.zero_grad()  # type: ignore[union-attr]
        loss.backward()
        self.optimizer.step()  # type: ignore[union-attr]
        return loss.detach()

    @torch.no_grad()
    def test_step(self, data: tuple[Any, Any, Tensor | None]) -> Tensor:
        x, (targets, target_lengths), _ = data
        log_probs, out_lengths = self(*x)
        return self.ctc_loss(log_probs, out_lengths, targets, target_lengths)
