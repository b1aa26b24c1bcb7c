"""shapes_captions and digit_strips: the grammar, its parser, the held-out split, the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import datasets
from rnnkit.datasets import images as im
from rnnkit.datasets.images import SceneObject


def obj(colour: str, shape: str, size: str, row: int, col: int) -> SceneObject:
    cell = im.IMAGE_SIZE / im.GRID
    return SceneObject(colour, shape, size, row, col, (col + 0.5) * cell, (row + 0.5) * cell)


# A scene worked by hand: red circle top left, blue square top right, green triangle bottom middle.
SCENE = [
    obj("red", "circle", "small", 0, 0),
    obj("blue", "square", "large", 0, 2),
    obj("green", "triangle", "small", 2, 1),
]
CANONICAL = "a small red circle to the left of a large blue square above a small green triangle"


def test_describe_golden_caption_and_synonyms() -> None:
    assert im.describe(SCENE) == CANONICAL
    rng = np.random.default_rng(0)
    variants = {im.describe(SCENE, rng) for _ in range(60)}
    assert len(variants) > 4  # synonyms are drawn
    assert {im.canonical_caption(v) for v in variants} == {CANONICAL}
    assert im.canonical_caption("A  little red DISC left of a big blue box") == (
        "a small red circle to the left of a large blue square"
    )


def test_parse_caption_round_trip_and_refusals() -> None:
    objects, rels = im.parse_caption("a little red disc left of a big blue box over a small green triangle")
    assert objects == [
        ("small", "red", "circle"),
        ("large", "blue", "square"),
        ("small", "green", "triangle"),
    ]
    assert rels == ["to the left of", "above"]
    for bad in [
        "",
        "a small red",
        "a small red circle near a blue square",
        "the small red circle",
        "a huge red circle",
    ]:
        assert im.parse_caption(bad) is None, bad


def test_truthfulness_counts_true_and_covered_facts() -> None:
    n_truth = 3 + 2  # three objects, two neighbour relations
    assert im.truthfulness(CANONICAL, SCENE) == (5, 5, 5, n_truth)
    # a wrong colour: that object and both relations touching it are not true
    wrong = CANONICAL.replace("blue square", "white square")
    assert im.truthfulness(wrong, SCENE) == (2, 5, 2, n_truth)
    # a true but non-canonical relation: the circle is also above the triangle
    assert im.truthfulness("a small red circle above a small green triangle", SCENE) == (3, 3, 2, n_truth)
    # a false relation: the triangle is not left of the circle
    assert im.truthfulness("a small green triangle to the left of a small red circle", SCENE) == (
        2,
        3,
        2,
        n_truth,
    )
    assert im.truthfulness("red red red", SCENE) == (0, 1, 0, n_truth)


def test_held_out_compositions_never_reach_training() -> None:
    seen = im.shapes_split(120, seed=5, held_out=False)
    new = im.shapes_split(40, seed=6, held_out=True)
    for objects in seen.scenes:
        pairs, triples = im.caption_facts(objects)
        assert not set(pairs) & im.HELD_OUT_PAIRS and not set(triples) & im.HELD_OUT_RELATIONS
    assert all(im.is_held_out(objects) for objects in new.scenes)
    # every colour and shape still occurs in the seen scenes: held out is the combination only
    pairs = {p for objects in seen.scenes for p in im.caption_facts(objects)[0]}
    assert {c for c, _ in pairs} == set(im.COLOURS) and {s for _, s in pairs} == set(im.SHAPES)
    assert new.subset == ["held_out"] * 40 and seen.subset == ["seen"] * 120


def test_scenes_are_deterministic_and_captions_describe_them() -> None:
    a, b = im.shapes_split(8, seed=3, held_out=None), im.shapes_split(8, seed=3, held_out=None)
    assert np.array_equal(a.images, b.images) and a.captions == b.captions
    assert a.images.shape == (8, 64, 64, 3) and a.images.dtype == np.uint8
    for caption, objects in zip(a.captions, a.scenes, strict=True):
        assert im.canonical_caption(caption) == im.describe(objects)
        assert [o.row * 3 + o.col for o in objects] == sorted(o.row * 3 + o.col for o in objects)


def test_drawn_pixels_show_the_object_colour() -> None:
    objects = [obj("yellow", "square", "large", 1, 1)]
    img = im.draw_scene(objects, np.random.default_rng(0)).astype(int)
    centre = img[32, 32]
    assert abs(centre - np.array(im.COLOURS["yellow"])).max() <= 25  # colour jitter is +-20
    assert img[2, 2].max() < 80  # a dark background corner


def test_digit_strips_from_disjoint_source_digits() -> None:
    pools = im.strip_pools()
    assert [len(pools[s][0]) for s in ("train", "validation", "test")] == [1257, 180, 360]
    train_px = {p.tobytes() for p in pools["train"][0]}
    unseen = sum(p.tobytes() not in train_px for p in pools["test"][0])
    assert unseen == 360  # test strips are built from pixels training never sees
    strips = im.make_strips(*pools["test"], 20, seed=1)
    assert strips.images.shape == (20, *im.STRIP_SHAPE, 1)
    for caption, digits in zip(strips.captions, strips.scenes, strict=True):
        assert im.parse_digits(caption) == digits and 1 <= len(digits) <= im.MAX_DIGITS
    assert im.parse_digits("three one four") == [3, 1, 4]
    assert im.parse_digits("three won four") is None and im.parse_digits("") is None


def test_registered_with_honest_descriptions() -> None:
    shapes, strips = datasets.info("shapes_captions"), datasets.info("digit_strips")
    assert shapes.splits == {"train": 12_000, "validation": 600, "test": 2_000}
    assert "stand-in" in shapes.description and "held-out" in shapes.description
    assert strips.splits["test"] == 1_000 and "never seen" in strips.description


@pytest.mark.slow
@pytest.mark.parametrize("name", ["shapes_captions", "digit_strips"])
def test_full_load_matches_info(name: str) -> None:
    ds = datasets.load(name)  # ~30 s the first time, then from the user cache
    assert ds.splits == datasets.info(name).splits
    if name == "shapes_captions":
        assert ds.test.subset.count("held_out") == 1_000 and not any(map(im.is_held_out, ds.train.scenes))
