"""Generated music beside Bach's, as figures: the musical checks on pieces composed with the
test chorales' keys, meters, pickups and lengths, and on harmonisations of their sopranos."""

from __future__ import annotations

import dataclasses
from typing import Any

from rnnkit.tasks.music.predictor import MusicModel
from rnnkit.tasks.music.sampling import Sampling, compose_chorales, compose_melodies
from rnnkit.tasks.music.theory import Piece, bar_length, musical_checks


def _bars(piece: Piece) -> int:
    return max(1, round((piece.duration + piece.bar_offset) / bar_length(piece.meter)))


def compose_like(music: MusicModel, test: list[Piece], n: int, sampling: Sampling) -> list[Piece]:
    """``n`` pieces, the i-th with the key, meter, pickup and length of test piece i mod len(test)."""
    out: list[Piece] = []
    for i, ref in enumerate(test):
        want = sum(1 for j in range(n) if j % len(test) == i)
        if not want:
            continue
        fn = compose_melodies if music.voices == 1 else compose_chorales
        pieces = fn(
            music.model,  # type: ignore[arg-type]
            n=want,
            bars=_bars(ref),
            key=ref.key,
            meter=ref.meter,
            sampling=dataclasses.replace(sampling, seed=sampling.seed * len(test) + i),  # distinct seeds
            bar_offset=ref.bar_offset,
        )
        out.extend(pieces)
    return out


def checks_beside_bach(music: MusicModel, test: list[Piece], n: int, sampling: Sampling) -> dict[str, Any]:
    """The musical checks of ``n`` composed pieces and of the test chorales (the same voices)."""
    real = [Piece(p.voices[: music.voices], p.meter, p.bar_offset, p.key) for p in test]
    return {"model": musical_checks(compose_like(music, test, n, sampling)), "bach": musical_checks(real)}


def harmonisation_checks(music: MusicModel, test: list[Piece], sampling: Sampling) -> dict[str, Any]:
    """Each test chorale's soprano harmonised by the model, checked beside Bach's harmonisation."""
    made = [
        music.harmonize(Piece([p.voices[0]], p.meter, p.bar_offset, p.key), sampling=sampling)[0]
        for p in test
    ]
    return {"model": musical_checks(made), "bach": musical_checks(test)}
