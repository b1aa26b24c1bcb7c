"""Session store (LRU + TTL) and generation slots, without a model or a server."""

from __future__ import annotations

import gc

from rnnkit.server.sessions import GenerationSlots, SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_session_goes_first():
    store = SessionStore(max_sessions=2, ttl_s=100, clock=Clock())
    a, _ = store.get_or_create(None, "lm", object)
    b, _ = store.get_or_create(None, "lm", object)
    store.get_or_create(a, "lm", object)  # a is used again: b is now the oldest
    c, _ = store.get_or_create(None, "lm", object)
    assert a in store and c in store and b not in store
    assert (len(store), store.evicted) == (2, 1)


def test_idle_sessions_expire_and_ids_are_never_taken_from_the_client():
    clock = Clock()
    store = SessionStore(max_sessions=10, ttl_s=5, clock=clock)
    sid, first = store.get_or_create(None, "lm", lambda: "state-1")
    clock.now = 4
    assert store.get_or_create(sid, "lm", lambda: "other")[1] is first  # still fresh
    clock.now = 9.5
    new_id, entry = store.get_or_create(sid, "lm", lambda: "state-2")
    assert new_id != sid and entry.state == "state-2" and store.expired == 1
    chosen, _ = store.get_or_create("my-own-id", "lm", object)
    assert chosen != "my-own-id"


def test_a_session_belongs_to_one_run():
    store = SessionStore()
    sid, _ = store.get_or_create(None, "lm-a", object)
    other, _ = store.get_or_create(sid, "lm-b", object)
    assert other != sid


def test_generation_slots_are_bounded_and_released_once():
    slots = GenerationSlots(2)
    one, two = slots.take(), slots.take()
    assert one is not None and two is not None
    assert slots.take() is None
    one.release()
    one.release()  # twice is harmless
    assert slots.used == 1
    del two  # a slot dropped without release (a stream that never started) is given back
    gc.collect()
    assert slots.used == 0
