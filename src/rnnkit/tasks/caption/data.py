"""Images and captions for the captioning task: the bundled sets, a folder of your own, one image.

A folder of your own holds image files and ``captions.tsv`` (``file<TAB>caption`` a line); it
is split 80/10/10 with the fixed seed. Every image is converted to the model's channels
(grayscale, RGBA, palette images all work) and resized to its size.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from rnnkit.data.tokenizers import PAD_ID, Tokenizer, WordTokenizer
from rnnkit.errors import DataError
from rnnkit.tasks.caption.config import BUILTIN_DATA, CaptionConfig

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # larger files are refused before decoding
MAX_PIXELS = 40_000_000  # a decompression bomb (a small file of a huge image) is refused
CAPTIONS_FILE = "captions.tsv"


@dataclass
class Split:
    """Images (N, H, W, C) uint8, captions, and the ground truth for scoring (or None)."""

    images: np.ndarray
    captions: list[str]
    scenes: list[Any] | None = None
    subset: list[str] | None = None

    def __len__(self) -> int:
        return len(self.captions)

    def head(self, n: int | None) -> Split:
        if n is None or n >= len(self):
            return self
        cut = slice(0, n)
        return Split(
            self.images[cut],
            self.captions[cut],
            None if self.scenes is None else self.scenes[cut],
            None if self.subset is None else self.subset[cut],
        )

    def per_subset(self, n: int | None) -> Split:
        """The first ``n`` images of each subset ("seen", "held_out"), for a capped evaluation."""
        if n is None:
            return self
        subset = self.subset or ["seen"] * len(self)
        idx = [i for s in dict.fromkeys(subset) for i in [j for j, t in enumerate(subset) if t == s][:n]]
        return Split(
            self.images[np.array(idx, dtype=np.int64)],
            [self.captions[i] for i in idx],
            None if self.scenes is None else [self.scenes[i] for i in idx],
            [subset[i] for i in idx],
        )


@dataclass
class CaptionData:
    """``kind`` is "shapes" or "digits" (captions parse back into facts) or "custom"."""

    source: str
    kind: str
    train: Split
    validation: Split
    test: Split

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[-1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.train.images.shape[1]), int(self.train.images.shape[2])


def load_caption_data(config: CaptionConfig) -> CaptionData:
    """The bundled set ``config.data`` names, or a folder with captions.tsv."""
    if config.data in BUILTIN_DATA:
        from rnnkit import datasets
        from rnnkit.datasets.images import ImageCaptionDataset

        ds = cast(ImageCaptionDataset, datasets.load(config.data))  # every BUILTIN_DATA name is one
        splits = {
            s: Split(part.images, part.captions, part.scenes, part.subset)
            for s in ("train", "validation", "test")
            for part in [getattr(ds, s)]
        }
        data = CaptionData(config.data, ds.kind, **splits)
    else:
        data = load_folder(config.data, tuple(config.image_size) or None)
    data.train = data.train.head(config.max_samples)
    if config.image_size and tuple(config.image_size) != data.image_size:
        for s in ("train", "validation", "test"):
            part = getattr(data, s)
            part.images = np.stack([resize(im, tuple(config.image_size)) for im in part.images])
    return data


def load_folder(path: str | os.PathLike[str], size: tuple[int, ...] | None) -> CaptionData:
    """A folder with image files and captions.tsv; images take the first one's size unless ``size``."""
    from rnnkit.datasets.registry import seeded_split

    root = Path(path)
    table = root / CAPTIONS_FILE
    if not root.is_dir() or not table.is_file():
        raise DataError(
            f"data={str(path)!r} is not valid: expected one of {', '.join(BUILTIN_DATA)} "
            f"or a folder holding {CAPTIONS_FILE} (file<TAB>caption per line) and its images."
        )
    rows = []
    for n, line in enumerate(table.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        name, sep, caption = line.partition("\t")
        if not sep or not caption.strip():
            raise DataError(f"{str(table)!r} line {n}: expected 'file<TAB>caption', got {line[:60]!r}.")
        rows.append((name.strip(), " ".join(caption.lower().split())))
    if len(rows) < 10:
        raise DataError(f"{str(table)!r} has {len(rows)} captions: at least 10 are needed to split them.")
    first = read_image(root / rows[0][0], channels=3, size=None)
    hw = (int(size[0]), int(size[1])) if size else first.shape[:2]
    images = np.stack([read_image(root / name, channels=3, size=hw) for name, _ in rows])
    captions = [c for _, c in rows]
    n_val = n_test = max(1, len(rows) // 10)
    tr, va, te = seeded_split(len(rows), validation=n_val, test=n_test)
    parts = {
        s: Split(images[idx], [captions[i] for i in idx])
        for s, idx in zip(("train", "validation", "test"), (tr, va, te), strict=True)
    }
    return CaptionData(str(path), "custom", **parts)


# ------------------------------------------------------------------------------- images
def read_image(
    source: str | os.PathLike[str] | bytes, *, channels: int, size: tuple[int, int] | None
) -> np.ndarray:
    """An image file or its bytes -> (H, W, channels) uint8, resized to ``size`` (height, width).

    Grayscale, palette and RGBA images are converted (alpha composited on black, the
    scenes' dark background); files over 10 MB, empty files, images with no pixels,
    decompression bombs and anything Pillow cannot decode are refused with one line.
    """
    from PIL import Image, UnidentifiedImageError

    what = "the upload" if isinstance(source, bytes) else repr(str(source))
    if isinstance(source, bytes):
        raw = source
    else:
        p = Path(source)
        if not p.is_file():
            raise DataError(f"image {str(p)!r} does not exist.")
        if p.stat().st_size > MAX_UPLOAD_BYTES:
            raise DataError(f"image {what} is {p.stat().st_size:,} bytes: the limit is {MAX_UPLOAD_BYTES:,}.")
        raw = p.read_bytes()
    if not raw:
        raise DataError(f"image {what} is empty (0 bytes).")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise DataError(f"image {what} is {len(raw):,} bytes: the limit is {MAX_UPLOAD_BYTES:,}.")
    try:
        with Image.open(io.BytesIO(raw)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise DataError(
                    f"image {what} is {im.width}x{im.height} pixels: the limit is {MAX_PIXELS:,} pixels."
                )
            im.load()
            img = im.copy()
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{what} is not an image Pillow can read ({type(exc).__name__}).") from None
    if img.width == 0 or img.height == 0:
        raise DataError(f"image {what} has no pixels ({img.width}x{img.height}).")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(base, rgba)
    img = img.convert("L" if channels == 1 else "RGB")
    if size is not None and (img.height, img.width) != tuple(size):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def resize(image: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """(H, W, C) uint8 -> (size[0], size[1], C)."""
    from PIL import Image

    squeeze = image.shape[-1] == 1
    im = Image.fromarray(image[..., 0] if squeeze else image)
    out = np.asarray(im.resize((size[1], size[0]), Image.Resampling.BILINEAR), dtype=np.uint8)
    return out[..., None] if squeeze else out


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


# ------------------------------------------------------------------------------- captions
def make_tokenizer(captions: list[str]) -> Tokenizer:
    """Words split on whitespace, lower-cased; the vocabulary of the training captions."""
    return WordTokenizer(lower=True, punctuation="keep").fit(captions)


def encode_captions(tok: Tokenizer, captions: list[str]) -> torch.Tensor:
    """(N, T+2) int64: <bos> words <eos>, right-padded with <pad>."""
    ids = tok.encode_batch(captions, add_bos=True, add_eos=True)
    out = torch.full((len(ids), max(len(i) for i in ids)), PAD_ID, dtype=torch.long)
    for row, seq in enumerate(ids):
        out[row, : len(seq)] = torch.tensor(seq)
    return out


class CaptionBatches:
    """(images (B, C, H, W) float, tokens (B, T+2)) batches; reshuffled each epoch when ``shuffle``.

    Images stay uint8 until batched (12,000 float images would take 600 MB); each batch's
    tokens are cut to its longest caption.
    """

    def __init__(
        self,
        images: np.ndarray,
        tokens: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        max_steps: int | None = None,
    ) -> None:
        self.images, self.tokens, self.batch_size = images, tokens, batch_size
        self.shuffle, self.max_steps = shuffle, max_steps
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = -(-len(self.tokens) // self.batch_size)
        return min(n, self.max_steps) if self.max_steps else n

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.rng.permutation(len(self.tokens)) if self.shuffle else np.arange(len(self.tokens))
        for b in range(len(self)):
            idx = np.sort(order[b * self.batch_size : (b + 1) * self.batch_size])
            tokens = self.tokens[idx]
            keep = int((tokens != PAD_ID).sum(1).max())
            yield to_tensor(self.images[idx]), tokens[:, :keep]
