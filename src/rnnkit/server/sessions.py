"""Per-user suggestion sessions: the recurrent state kept between keystrokes, bounded.

A keyboard sends the whole text on every keystroke. Re-running the prefix each time
costs O(length) recurrent steps; a session keeps the language model's state after
the text it last saw (:class:`rnnkit.tasks.language_model.Session`), so a keystroke
costs one step (none inside a word). Sessions live in memory and are bounded twice:
at most ``max_sessions`` (least recently used dropped first) and ``ttl_s`` seconds
of idleness. A dropped session is not an error: the next keystroke starts a new one
and replays the text once.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class Entry:
    """A session object with its run, its lock and when it was last used."""

    run: str
    state: Any
    last_used: float
    # Two requests of one user may overlap (fast typing): the state is updated under this lock.
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionStore:
    """An LRU + TTL map from session id to per-user state; thread-safe."""

    def __init__(
        self, max_sessions: int = 1_000, ttl_s: float = 1_800.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_sessions, self.ttl_s, self.clock = max_sessions, ttl_s, clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.created = self.evicted = self.expired = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries

    def get_or_create(
        self, session_id: str | None, run: str, factory: Callable[[], Any]
    ) -> tuple[str, Entry]:
        """The live session ``session_id`` for ``run``, or a new one under a fresh id.

        An unknown, expired or other-run id gets a new session (and a new id): ids are
        never chosen by the client, so one user cannot take over another's by guessing.
        """
        now = self.clock()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(session_id) if session_id else None
            if entry is not None and entry.run == run:
                self._entries.move_to_end(session_id)  # type: ignore[arg-type]
                entry.last_used = now
                return session_id, entry  # type: ignore[return-value]
        # Build the state outside the store's lock: it runs a model step.
        state = factory()
        new_id = secrets.token_urlsafe(12)
        entry = Entry(run, state, now)
        with self._lock:
            self._entries[new_id] = entry
            self.created += 1
            while len(self._entries) > self.max_sessions:
                self._entries.popitem(last=False)  # least recently used
                self.evicted += 1
        return new_id, entry

    def drop(self, session_id: str) -> bool:
        with self._lock:
            return self._entries.pop(session_id, None) is not None

    def _expire(self, now: float) -> None:
        # Oldest first (LRU order), so stop at the first one still fresh.
        while self._entries:
            sid, entry = next(iter(self._entries.items()))
            if now - entry.last_used <= self.ttl_s:
                break
            del self._entries[sid]
            self.expired += 1


class GenerationSlots:
    """At most ``limit`` generations at once; :meth:`take` returns a handle or None (full)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self) -> Slot | None:
        with self._lock:
            if self.used >= self.limit:
                return None
            self.used += 1
        return Slot(self)

    def _give(self) -> None:
        with self._lock:
            self.used -= 1


class Slot:
    """One taken generation slot; released once, by :meth:`release` or when garbage collected.

    The fallback matters: a streaming response whose client left before the first
    chunk never enters its generator, so the generator's ``finally`` never runs.
    """

    def __init__(self, slots: GenerationSlots) -> None:
        self._slots: GenerationSlots | None = slots

    def release(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots._give()

    def __del__(self) -> None:
        self.release()
