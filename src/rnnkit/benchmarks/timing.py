"""Timing on a shared, noisy machine: run contenders in alternation, keep every sample.

A lone absolute time means little here, so benchmarks time their contenders in turn
(A, B, C, A, B, C, ...) within one run and compare medians: slow spells of the machine
then hit every contender alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def alternate_all(
    contenders: dict[str, Callable[[], Any]], reps: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Every timing (seconds) of each contender, run in alternation after ``warmup`` calls each."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def alternate(contenders: dict[str, Callable[[], Any]], reps: int, warmup: int = 1) -> dict[str, float]:
    """The median seconds per call of each contender, measured in alternation."""
    return {name: statistics.median(ts) for name, ts in alternate_all(contenders, reps, warmup).items()}
