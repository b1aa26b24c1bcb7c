"""Spatial dropout (Tompson et al. 2015, "Efficient Object Localization Using Convolutional
Networks"): drop whole feature maps rather than single activations, Keras 3's
``SpatialDropout1D`` and ``SpatialDropout2D``.

Neighbouring steps (or pixels) of one channel are strongly correlated, so ordinary dropout
barely regularizes them; spatial dropout zeroes a channel at every step at once and scales the
kept ones by 1 / (1 - rate). The noise shape is (B, 1, C) for (B, T, C) inputs; (B, 1, 1, C) or
(B, C, 1, 1) for images. Identity at inference.
"""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.errors import ShapeError
from rnnkit.layers.conv import check_data_format
from rnnkit.layers.core_layers import Dropout

Tensor = torch.Tensor


class SpatialDropout1D(Dropout):
    """Drops whole channels of (B, T, C) inputs: one draw per (sample, channel), shared by all steps."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(rate, noise_shape=(None, 1, None), seed=seed, **kwargs)

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        if inputs.dim() != 3:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: "
                "expected 3 dimensions (batch, steps, channels)."
            )
        return super().call(inputs, training=training)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("noise_shape")
        return config


class SpatialDropout2D(Dropout):
    """Drops whole channels of images: one draw per (sample, channel), shared by all pixels."""

    def __init__(
        self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        fmt = check_data_format(data_format)
        noise = (None, 1, 1, None) if fmt == "channels_last" else (None, None, 1, 1)
        super().__init__(rate, noise_shape=noise, seed=seed, **kwargs)
        self.data_format = fmt

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        if inputs.dim() != 4:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: expected 4 dimensions."
            )
        return super().call(inputs, training=training)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("noise_shape")
        return {**config, "data_format": self.data_format}
