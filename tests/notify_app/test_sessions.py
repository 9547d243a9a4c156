"""The per-socket watermark that keeps replays and live delivery exact."""

from __future__ import annotations

from notify_app.sessions import SocketRegistry


def note(i: int, user: str = "ann") -> dict:
    return {"id": i, "user": user}


def test_anonymous_and_unknown_sockets_get_nothing():
    registry = SocketRegistry()
    registry.add("s1")
    assert not registry.admit("s1", note(1))
    assert not registry.admit("nobody", note(1))


def test_someone_elses_notification_is_never_admitted():
    registry = SocketRegistry()
    registry.add("s1").user = "ann"
    assert not registry.admit("s1", note(1, user="bob"))
    assert registry.admit("s1", note(2))


def test_live_delivery_skips_what_was_already_sent():
    registry = SocketRegistry()
    state = registry.add("s1")
    state.user, state.last_id = "ann", 5
    assert not registry.admit("s1", note(5))
    assert registry.admit("s1", note(6))
    assert state.last_id == 6
    assert not registry.admit("s1", note(6))


def test_during_a_replay_live_ones_are_held_back():
    registry = SocketRegistry()
    state = registry.add("s1")
    state.user, state.replaying = "ann", True
    assert not registry.admit("s1", note(9))
    assert state.held == [note(9)]


def test_remove_cancels_the_pending_timer():
    registry = SocketRegistry()
    registry.add("s1")
    fired = []
    registry.schedule("s1", 0.01, fired.append)
    registry.remove("s1")
    import time

    time.sleep(0.05)
    assert fired == [] and registry.get("s1") is None
