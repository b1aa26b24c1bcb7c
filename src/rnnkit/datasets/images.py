"""Image captioning data: generated shape scenes and strips of real handwritten digits.

No license-clean real image-caption set (COCO, Flickr8k) installs offline, so two honest
substitutes stand in, and their descriptions say so:

``shapes_captions``
    64 x 64 RGB scenes drawn with Pillow: 1-4 objects, each with a colour, a shape and a
    size, in distinct cells of a 3 x 3 grid (jittered), on a random dark background.
    Captions come from a small grammar that mentions the objects in reading order (rows
    top to bottom, left to right within a row) and links neighbours by a relation::

        caption  := object (relation object)*
        object   := "a" SIZE COLOUR SHAPE
        relation := "to the left of"   (the next object is in the same row)
                  | "above"            (the next object is in a lower row)

    so "a small red circle to the left of a big blue square above a little green triangle"
    says: the circle is left of the square, the square is above the triangle. Words have
    synonyms (small/little, large/big, circle/disc, square/box, above/over, to the left
    of/left of), drawn at random per caption; :func:`canonical_caption` maps them back, and
    exact match and BLEU are computed on canonical captions.

    **Composition is tested, not memory**: some colour-shape pairs (``HELD_OUT_PAIRS``) and
    some shape-relation-shape triples (``HELD_OUT_RELATIONS``) never occur in train or
    validation. The test split has 1,000 scenes with none of them (``subset == "seen"``)
    and 1,000 that contain at least one (``subset == "held_out"``).

``digit_strips``
    Strips of 1-6 handwritten digits from scikit-learn's bundled digits (UCI, 43 writers,
    8 x 8 pixels, 0-16), upscaled 2x, placed left to right with random gaps and vertical
    offsets on a 24 x 112 canvas, captioned with the digit names ("three one four"). The
    1,797 source digits are split first (seeded), so the test strips are made of digit
    images never seen in training.

Generation is deterministic (one seeded generator per split) and takes a few seconds;
the arrays are cached in the user cache directory under a name holding a version.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.datasets.registry import SPLIT_SEED, Dataset, DatasetInfo, cache_dir, register, seeded_split
from rnnkit.errors import MissingDependencyError
from rnnkit.utils.io import atomic_write

logger = logging.getLogger(__name__)

_CACHE_VERSION = "v1"

# --- the shapes grammar ------------------------------------------------------------------------
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 45, 45),
    "green": (50, 190, 60),
    "blue": (55, 95, 240),
    "yellow": (235, 215, 40),
    "purple": (160, 60, 205),
    "white": (235, 235, 235),
}
SHAPES = ("circle", "square", "triangle", "diamond")
SIZES = {"small": 5.0, "large": 9.0}  # radius in pixels of a 64 x 64 image
RELATIONS = ("to the left of", "above")
# canonical word -> the words a caption may use for it (the first is the canonical one)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little"),
    "large": ("large", "big"),
    "circle": ("circle", "disc"),
    "square": ("square", "box"),
    "above": ("above", "over"),
    "to the left of": ("to the left of", "left of"),
}
# Never in train or validation: each colour and each shape still occurs in training with others.
HELD_OUT_PAIRS = frozenset(
    {("red", "triangle"), ("green", "circle"), ("blue", "diamond"), ("yellow", "square")}
)
HELD_OUT_RELATIONS = frozenset(
    {
        ("circle", "above", "triangle"),
        ("square", "to the left of", "diamond"),
        ("triangle", "above", "square"),
    }
)
IMAGE_SIZE = 64
GRID = 3
MAX_OBJECTS = 4

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
STRIP_SHAPE = (24, 112)  # height, width of a digit strip
MAX_DIGITS = 6


@dataclass(frozen=True)
class SceneObject:
    """One drawn object: attributes, grid cell (row, col) and centre in pixels."""

    colour: str
    shape: str
    size: str
    row: int
    col: int
    x: float
    y: float

    @property
    def words(self) -> tuple[str, str, str]:
        return (self.size, self.colour, self.shape)


@dataclass
class ImageCaptions:
    """One split: ``images`` (N, H, W, C) uint8, one caption each, and what was drawn.

    ``scenes[i]`` is the ground truth a caption can be checked against: a list of
    :class:`SceneObject` in reading order (shapes) or the list of digits (strips).
    ``subset[i]`` is "seen" or "held_out" (shapes' test split), else "seen".
    """

    images: np.ndarray
    captions: list[str]
    scenes: list[Any]
    subset: list[str]

    def __len__(self) -> int:
        return len(self.captions)


@dataclass
class ImageCaptionDataset(Dataset):
    """Images with captions; ``train``/``validation``/``test`` are :class:`ImageCaptions`."""

    train: ImageCaptions = field(default=None)  # type: ignore[assignment]
    validation: ImageCaptions = field(default=None)  # type: ignore[assignment]
    test: ImageCaptions = field(default=None)  # type: ignore[assignment]
    kind: str = "shapes"  # "shapes" or "digits": how captions parse back (truthfulness)

    def samples(self, n: int = 3) -> list[str]:
        h, w, c = self.train.images.shape[1:]
        return [f"{h}x{w}x{c}: {cap}" for cap in self.train.captions[:n]]


# --- shapes: scenes, captions, parsing ---------------------------------------------------------
def relation(a: SceneObject, b: SceneObject) -> str:
    """The relation of ``a`` to the next object ``b`` in reading order."""
    return "to the left of" if a.row == b.row else "above"


def caption_facts(
    objects: list[SceneObject],
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(colour, shape) pairs and (shape, relation, shape) triples a scene's caption uses."""
    pairs = [(o.colour, o.shape) for o in objects]
    triples = [(a.shape, relation(a, b), b.shape) for a, b in itertools.pairwise(objects)]
    return pairs, triples


def is_held_out(objects: list[SceneObject]) -> bool:
    pairs, triples = caption_facts(objects)
    return any(p in HELD_OUT_PAIRS for p in pairs) or any(t in HELD_OUT_RELATIONS for t in triples)


def describe(objects: list[SceneObject], rng: np.random.Generator | None = None) -> str:
    """The caption of a scene; with ``rng``, each word with synonyms is drawn at random."""

    def word(w: str) -> str:
        options = SYNONYMS.get(w, (w,))
        return options[int(rng.integers(len(options)))] if rng is not None else options[0]

    parts = []
    for i, o in enumerate(objects):
        if i:
            parts.append(word(relation(objects[i - 1], o)))
        parts.append(" ".join(["a", word(o.size), word(o.colour), word(o.shape)]))
    return " ".join(parts)


_CANONICAL = {syn: canon for canon, syns in SYNONYMS.items() for syn in syns}
_MULTIWORD = sorted((s for s in _CANONICAL if " " in s), key=len, reverse=True)


def canonical_caption(caption: str) -> str:
    """Synonyms replaced by their canonical words ("a little red disc" -> "a small red circle")."""
    text = " " + " ".join(caption.lower().split()) + " "
    for phrase in _MULTIWORD:  # longest first: "to the left of" before "left of"
        text = text.replace(f" {phrase} ", f" {_CANONICAL[phrase]} ".replace(" ", "\x00"))
    words = [_CANONICAL.get(w, w) for w in text.replace("\x00", " ").split()]
    return " ".join(words)


def parse_caption(caption: str) -> tuple[list[tuple[str, str, str]], list[str]] | None:
    """A caption -> (objects as (size, colour, shape), relations between neighbours).

    Returns None when the caption does not follow the grammar.
    """
    words = canonical_caption(caption).split()
    objects: list[tuple[str, str, str]] = []
    rels: list[str] = []
    i = 0
    while i < len(words):
        if objects:  # a relation comes between two objects
            if words[i : i + 4] == ["to", "the", "left", "of"]:
                rels.append("to the left of")
                i += 4
            elif words[i] == "above":
                rels.append("above")
                i += 1
            else:
                return None
        if i + 4 > len(words):
            return None
        art, size, colour, shape = words[i : i + 4]
        if art != "a" or size not in SIZES or colour not in COLOURS or shape not in SHAPES:
            return None
        objects.append((size, colour, shape))
        i += 4
    return (objects, rels) if objects else None


def _holds(a: SceneObject, rel: str, b: SceneObject) -> bool:
    """Is "a REL b" true of the scene's geometry (grid cells)?"""
    return a.col < b.col if rel == "to the left of" else a.row < b.row


def truthfulness(caption: str, objects: list[SceneObject]) -> tuple[int, int, int, int]:
    """Facts a caption states and a scene holds: (true stated, stated, covered truth, truth).

    A stated object is true if it matches an unmatched scene object in size, colour and
    shape (one-to-one, in order). A stated relation "A rel B" is true if the objects A and
    B were matched to scene objects that stand in that relation. The truth is every scene
    object plus the relation of each object to the next (what the canonical caption says);
    an unparseable caption states one false fact and covers nothing.
    Precision = true stated / stated, recall = covered truth / truth.
    """
    n_truth = len(objects) + max(len(objects) - 1, 0)
    parsed = parse_caption(caption)
    if parsed is None:
        return 0, 1, 0, n_truth
    said, rels = parsed
    free = list(range(len(objects)))
    match: list[int | None] = []
    for desc in said:
        j = next((k for k in free if objects[k].words == desc), None)
        if j is not None:
            free.remove(j)
        match.append(j)
    true_objects = sum(m is not None for m in match)
    true_rels = 0
    covered_rels = 0
    for r, a, b in zip(rels, match, match[1:], strict=False):
        if a is not None and b is not None and _holds(objects[a], r, objects[b]):
            true_rels += 1
            if b == a + 1 and relation(objects[a], objects[b]) == r:
                covered_rels += 1  # the canonical relation of a neighbour pair
    return true_objects + true_rels, len(said) + len(rels), true_objects + covered_rels, n_truth


def _scene(rng: np.random.Generator) -> list[SceneObject]:
    n = int(rng.integers(1, MAX_OBJECTS + 1))
    cells = sorted(rng.choice(GRID * GRID, size=n, replace=False).tolist())  # reading order
    cell = IMAGE_SIZE / GRID
    objects = []
    for c in cells:
        row, col = divmod(int(c), GRID)
        objects.append(
            SceneObject(
                colour=str(rng.choice(list(COLOURS))),
                shape=str(rng.choice(SHAPES)),
                size=str(rng.choice(list(SIZES))),
                row=row,
                col=col,
                x=(col + 0.5) * cell + float(rng.uniform(-2.5, 2.5)),
                y=(row + 0.5) * cell + float(rng.uniform(-2.5, 2.5)),
            )
        )
    return objects


def draw_scene(objects: list[SceneObject], rng: np.random.Generator, scale: int = 4) -> np.ndarray:
    """(64, 64, 3) uint8: drawn at ``scale`` x and downsampled (antialiased edges)."""
    from PIL import Image, ImageDraw

    s = IMAGE_SIZE * scale
    background = tuple(int(v) for v in rng.integers(0, 70, size=3))
    img = Image.new("RGB", (s, s), background)
    draw = ImageDraw.Draw(img)
    for o in objects:
        jitter = rng.integers(-20, 21, size=3)
        fill = tuple(int(np.clip(v + j, 0, 255)) for v, j in zip(COLOURS[o.colour], jitter, strict=True))
        r = SIZES[o.size] * scale
        x, y = o.x * scale, o.y * scale
        if o.shape == "circle":
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        elif o.shape == "square":
            h = r * 0.85  # same area impression as the circle
            draw.rectangle((x - h, y - h, x + h, y + h), fill=fill)
        elif o.shape == "triangle":
            draw.polygon([(x, y - r), (x + r, y + 0.8 * r), (x - r, y + 0.8 * r)], fill=fill)
        else:  # diamond
            draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=fill)
    img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)


def shapes_split(n: int, seed: int, held_out: bool | None) -> ImageCaptions:
    """``n`` scenes; ``held_out``: True = each has a held-out element, False = none has."""
    rng = np.random.default_rng(seed)
    images, captions = [], []
    scenes: list[list[SceneObject]] = []
    while len(scenes) < n:
        objects = _scene(rng)
        if held_out is not None and is_held_out(objects) != held_out:
            continue
        images.append(draw_scene(objects, rng))
        captions.append(describe(objects, rng))
        scenes.append(objects)
    subset = ["held_out" if held_out else "seen"] * n
    return ImageCaptions(np.stack(images), captions, scenes, subset)


# --- digit strips ------------------------------------------------------------------------------
def digit_pool() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MissingDependencyError(
            "dataset 'digit_strips' needs scikit-learn: pip install 'rnnkit[caption]'."
        ) from None
    d = load_digits()
    from PIL import Image

    # 8 x 8 in 0..16 -> 16 x 16 in 0..255 (bilinear): the pixels of the real writers, only larger.
    big = [
        np.asarray(
            Image.fromarray((img * (255 / 16)).astype(np.uint8)).resize((16, 16), Image.Resampling.BILINEAR)
        )
        for img in d.images
    ]
    return np.stack(big), d.target.astype(np.int64)


def strip_pools() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The source digits of each split, (images (n, 16, 16), labels): 1,257 / 180 / 360, disjoint."""
    pool, labels = digit_pool()
    tr, va, te = seeded_split(len(pool), validation=180, test=360)
    return {s: (pool[i], labels[i]) for s, i in (("train", tr), ("validation", va), ("test", te))}


def make_strips(pool: np.ndarray, labels: np.ndarray, n: int, seed: int) -> ImageCaptions:
    rng = np.random.default_rng(seed)
    H, W = STRIP_SHAPE
    images, captions, scenes = [], [], []
    for _ in range(n):
        k = int(rng.integers(1, MAX_DIGITS + 1))
        picks = rng.integers(0, len(pool), size=k)
        gaps = rng.integers(0, 3, size=k)
        width = int(16 * k + gaps.sum())
        x = int(rng.integers(0, W - width + 1))
        canvas = np.zeros((H, W), dtype=np.uint8)
        for p, g in zip(picks, gaps, strict=True):
            y = int(rng.integers(0, H - 16 + 1))
            canvas[y : y + 16, x : x + 16] = np.maximum(canvas[y : y + 16, x : x + 16], pool[p])
            x += 16 + int(g)
        digits = [int(labels[p]) for p in picks]
        images.append(canvas[..., None])
        captions.append(" ".join(DIGIT_NAMES[d] for d in digits))
        scenes.append(digits)
    return ImageCaptions(np.stack(images), captions, scenes, ["seen"] * n)


def parse_digits(caption: str) -> list[int] | None:
    """ "three one four" -> [3, 1, 4]; None if a word is not a digit name."""
    words = caption.split()
    if not words or any(w not in DIGIT_NAMES for w in words):
        return None
    return [DIGIT_NAMES.index(w) for w in words]


# --- caching and loaders -----------------------------------------------------------------------
def _save(path: os.PathLike[str] | str, ds: dict[str, ImageCaptions]) -> None:
    import pickle

    # Atomic: a parallel loader never reads half a file.
    atomic_write(path, pickle.dumps(ds, protocol=pickle.HIGHEST_PROTOCOL))


def _cached(name: str, build: Any) -> dict[str, ImageCaptions]:
    import pickle

    path = cache_dir("images") / f"{name}-{_CACHE_VERSION}.pkl"
    if path.exists():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)  # our own cache file
        except (OSError, EOFError, pickle.UnpicklingError):
            logger.warning("rebuilding the unreadable cache %s", path)
    splits = build()
    _save(path, splits)
    return splits


_SHAPES_SPLITS = {"train": 12_000, "validation": 600, "test": 2_000}
_STRIP_SPLITS = {"train": 12_000, "validation": 600, "test": 1_000}


@register(
    DatasetInfo(
        name="shapes_captions",
        task="image captioning",
        description=(
            "Generated scenes (Pillow), a stand-in for a real caption set, none of which installs "
            "offline: 1-4 coloured shapes of two sizes on a 3x3 grid, captioned by a small grammar "
            "with synonyms and relations ('a small red circle to the left of a big blue box'). "
            "Some colour-shape pairs and shape-relation-shape triples never occur in training; "
            "the test split has 1,000 scenes of seen compositions and 1,000 with held-out ones."
        ),
        license="generated by rnnkit (same license as rnnkit)",
        source="drawn with Pillow, seeded",
        size="14,600 images, 64x64 RGB",
        splits=dict(_SHAPES_SPLITS),
        requires="pip install pillow",
    )
)
def load_shapes_captions(info: DatasetInfo, variant: str | None = None) -> ImageCaptionDataset:
    def build() -> dict[str, ImageCaptions]:
        test_seen = shapes_split(_SHAPES_SPLITS["test"] // 2, SPLIT_SEED + 2, held_out=False)
        test_new = shapes_split(_SHAPES_SPLITS["test"] // 2, SPLIT_SEED + 3, held_out=True)
        return {
            "train": shapes_split(_SHAPES_SPLITS["train"], SPLIT_SEED, held_out=False),
            "validation": shapes_split(_SHAPES_SPLITS["validation"], SPLIT_SEED + 1, held_out=False),
            "test": ImageCaptions(
                np.concatenate([test_seen.images, test_new.images]),
                test_seen.captions + test_new.captions,
                test_seen.scenes + test_new.scenes,
                test_seen.subset + test_new.subset,
            ),
        }

    return ImageCaptionDataset(info=info, kind="shapes", **_cached("shapes_captions", build))


@register(
    DatasetInfo(
        name="digit_strips",
        task="image captioning",
        description=(
            "Strips of 1-6 real handwritten digits (scikit-learn's copy of the UCI digits, 43 "
            "writers, 8x8 upscaled 2x) captioned with the digit names ('three one four'). The "
            "1,797 source digits are split 1,257 / 180 / 360 before strips are made, so test "
            "pixels are never seen in training."
        ),
        license="UCI ML Repository (CC BY 4.0); scikit-learn: BSD-3-Clause",
        source="PyPI scikit-learn (sklearn.datasets.load_digits, bundled)",
        size="13,600 strips, 24x112 grayscale, from 1,797 digits",
        splits=dict(_STRIP_SPLITS),
        requires="pip install scikit-learn pillow",
    )
)
def load_digit_strips(info: DatasetInfo, variant: str | None = None) -> ImageCaptionDataset:
    def build() -> dict[str, ImageCaptions]:
        pools = strip_pools()
        return {
            s: make_strips(*pools[s], _STRIP_SPLITS[s], SPLIT_SEED + k)
            for k, s in enumerate(("train", "validation", "test"))
        }

    return ImageCaptionDataset(info=info, kind="digits", **_cached("digit_strips", build))


__all__ = [
    "DIGIT_NAMES",
    "HELD_OUT_PAIRS",
    "HELD_OUT_RELATIONS",
    "ImageCaptionDataset",
    "ImageCaptions",
    "SceneObject",
    "canonical_caption",
    "describe",
    "draw_scene",
    "parse_caption",
    "parse_digits",
    "truthfulness",
]
