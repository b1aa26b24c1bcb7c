"""A trained captioning run: ``CaptionPredictor.load(run_dir).caption(image)``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data import Tokenizer, load_tokenizer
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.tasks import runs
from rnnkit.tasks.caption.config import CaptionConfig
from rnnkit.tasks.caption.data import Split, read_image
from rnnkit.tasks.caption.decode import Caption, caption_images
from rnnkit.tasks.caption.evaluate import score_captions

TASK = "caption"
MAX_BEAM = 16


class CaptionPredictor:
    """A trained captioner: images in any mode and size -> captions with attention per word."""

    def __init__(self, model: Any, tokenizer: Tokenizer, config: CaptionConfig, *, kind: str) -> None:
        self.model, self.tokenizer, self.config, self.kind = model, tokenizer, config, kind
        self.model.eval()
        self.channels: int = model.channels
        self.image_size: tuple[int, int] = model.image_size

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CaptionPredictor:
        from rnnkit.models import load_model

        run = runs.open_trained_run(path, TASK)
        model = load_model(run.model_path, compile=False)
        tok = load_tokenizer(run.file(runs.TOKENIZER_FILE))
        config = CaptionConfig.from_dict(run.config)
        metrics = run.read_json(runs.METRICS_FILE) if run.file(runs.METRICS_FILE).exists() else {}
        kind = metrics.get("kind") or {"shapes_captions": "shapes", "digit_strips": "digits"}.get(
            config.data, "custom"
        )
        return cls(model, tok, config, kind=kind)

    def describe(self) -> dict[str, Any]:
        """What ``/api/runs`` shows about this run."""
        return {
            "data": self.config.data,
            "model": self.config.model,
            "image_size": list(self.image_size),
            "channels": self.channels,
            "attention": self.config.model == "attention",
        }

    # ------------------------------------------------------------------ captioning
    def prepare(self, image: str | os.PathLike[str] | bytes | np.ndarray) -> np.ndarray:
        """A path, the bytes of an image file, or an (H, W[, C]) uint8 array -> the model's input."""
        if isinstance(image, np.ndarray):
            from rnnkit.tasks.caption.data import resize

            arr = image if image.ndim == 3 else image[..., None]
            if arr.dtype != np.uint8 or arr.size == 0:
                raise DataError(
                    invalid("image", f"a {arr.dtype} array of shape {arr.shape}", "non-empty uint8")
                )
            if arr.shape[-1] != self.channels:
                grey = arr[..., :3].mean(-1, keepdims=True).astype(np.uint8)
                arr = grey if self.channels == 1 else np.repeat(arr[..., :1], 3, -1)
            return resize(arr, self.image_size)
        return read_image(image, channels=self.channels, size=self.image_size)

    def caption(self, image: Any, *, beam: int = 1) -> Caption:
        """One image -> its caption (``beam`` 1: greedy search)."""
        return self.caption_batch([image], beam=beam)[0]

    def caption_batch(self, images: list[Any], *, beam: int = 1) -> list[Caption]:
        if isinstance(beam, bool) or not isinstance(beam, int) or not 1 <= beam <= MAX_BEAM:
            raise ConfigError(invalid("beam", beam, f"an integer in [1, {MAX_BEAM}]"))
        arrays = np.stack([self.prepare(im) for im in images])
        return caption_images(self.model, arrays, self.tokenizer, beam=beam, max_len=self.config.max_len)

    def score(self, split: Split, *, beam: int = 1) -> dict[str, Any]:
        """BLEU-4, exact match and (shapes) truthfulness or (digits) sequence accuracy on ``split``."""
        caps = caption_images(
            self.model, split.images, self.tokenizer, beam=beam, max_len=self.config.max_len
        )
        return score_captions(self.kind, [c.text for c in caps], split)

    def evaluate(self, split: str = "test") -> dict[str, Any]:
        """``rnnkit evaluate``: the scores on a split of the run's data, with the run's beam."""
        from rnnkit.tasks.caption.data import load_caption_data

        choice_split = ("validation", "test")
        if split not in choice_split:
            raise ConfigError(invalid("split", split, choice_split))
        data = load_caption_data(self.config.replace(max_samples=None))
        return self.score(getattr(data, split), beam=self.config.beam)

    # ------------------------------------------------------------------ attention figure
    def plot_attention(self, image: Any, caption: Caption, path: str | os.PathLike[str]) -> Path:
        """One panel per word: the image with that word's attention map laid over it."""
        from rnnkit.models.plotting import new_figure, save_png

        if caption.attention is None:
            raise ConfigError(
                f"this run (model={self.config.model!r}) has no attention maps to plot: "
                "only model='attention' has them."
            )
        arr = self.prepare(image)
        shown = arr[..., 0] if arr.shape[-1] == 1 else arr
        n = max(len(caption.words), 1)  # an empty caption still shows the image
        cols = min(n, 6)
        rows = -(-n // cols)
        h, w = arr.shape[:2]
        panel = 2.4 if w <= 2 * h else 1.2 * w / h  # wide strips get wide panels
        fig = new_figure(panel * cols, 2.4 * rows if w <= 2 * h else 1.6 * rows)
        for k in range(n):
            ax = fig.add_subplot(rows, cols, k + 1)
            ax.axis("off")
            ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
            if not caption.words:
                ax.set_title("(empty caption)", fontsize=10)
                continue
            # the (h', w') map stretched over the image: each cell covers its receptive centre
            ax.imshow(caption.attention[k], cmap="magma", alpha=0.55, extent=(0, w, h, 0))
            ax.set_title(caption.words[k], fontsize=10)
        return save_png(fig, path)
