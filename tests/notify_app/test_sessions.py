"""The per-socket watermark that keeps replays and live delivery exact and in order."""

from __future__ import annotations

import time

from notify_app.sessions import Admission, SocketRegistry


def note(i: int, prev: int = 0, user: str = "ann") -> dict:
    return {"id": i, "prev_id": prev, "user": user}


def identified(registry: SocketRegistry, sid: str = "s1", last_id: int = 0):
    state = registry.add(sid)
    state.user, state.last_id = "ann", last_id
    return state


def test_anonymous_and_unknown_sockets_get_nothing():
    registry = SocketRegistry()
    registry.add("s1")
    assert registry.admit("s1", note(1)) is Admission.SKIP
    assert registry.admit("nobody", note(1)) is Admission.SKIP


def test_someone_elses_notification_is_never_admitted():
    registry = SocketRegistry()
    identified(registry)
    assert registry.admit("s1", note(1, user="bob")) is Admission.SKIP
    assert registry.admit("s1", note(2)) is Admission.SEND


def test_live_delivery_skips_what_was_already_sent():
    registry = SocketRegistry()
    state = identified(registry, last_id=5)
    assert registry.admit("s1", note(5, prev=3)) is Admission.SKIP
    assert registry.admit("s1", note(6, prev=5)) is Admission.SEND
    assert state.last_id == 6
    assert registry.admit("s1", note(6, prev=5)) is Admission.SKIP


def test_one_that_overtook_an_earlier_one_is_held_for_a_catch_up():
    registry = SocketRegistry()
    state = identified(registry, last_id=5)
    assert registry.admit("s1", note(9, prev=7)) is Admission.GAP
    assert state.held == [note(9, prev=7)] and state.last_id == 5


def test_during_a_replay_live_ones_are_held_back():
    registry = SocketRegistry()
    state = identified(registry)
    state.replaying = True
    assert registry.admit("s1", note(9)) is Admission.SKIP
    assert state.held == [note(9)]


def test_remove_cancels_the_pending_timer():
    registry = SocketRegistry()
    registry.add("s1")
    fired = []
    registry.schedule("s1", 0.01, fired.append)
    registry.remove("s1")
    time.sleep(0.05)
    assert fired == [] and registry.get("s1") is None
