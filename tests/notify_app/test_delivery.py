"""Recovery: what was published while a client was away is replayed, in order, then live."""

from __future__ import annotations

import threading

from tests.clients import Publisher, Recorder
from tests.support import Service


def test_reconnect_with_last_id_gets_exactly_the_missed_ones_in_order_then_live(
        notify, publisher, recorder, token, user):
    client = recorder().connect(notify.url, auth={"token": token(user)})
    last = publisher.ok(user, "before")
    assert client.next() == last
    client.close()
    missed = [publisher.ok(user, f"missed {i}") for i in range(3)]

    again = recorder().connect(notify.url, auth={"token": token(user), "last_id": last["id"]})
    assert [again.next() for _ in missed] == missed
    live = publisher.ok(user, "live")
    assert again.next() == live
    assert again.drain(0.5) == []


def test_last_id_in_identify_replays_too(notify, publisher, recorder, token, user):
    first = publisher.ok(user, "first")
    rest = [publisher.ok(user, f"n{i}") for i in range(2)]
    client = recorder().connect(notify.url, transports=["polling"])
    assert client.call("identify", {"token": token(user), "last_id": first["id"]})["ok"]
    assert [client.next() for _ in rest] == rest
    assert client.drain(0.3) == []


def test_replay_under_concurrent_publishing_loses_and_repeats_nothing(
        notify, publisher, recorder, token, user):
    base = publisher.ok(user, "base")
    for i in range(50):
        publisher.ok(user, f"old {i}")
    published: list[int] = []

    def publish_more() -> None:
        mine = Publisher(notify.url)
        published.extend(mine.ok(user, f"new {i}")["id"] for i in range(50))

    thread = threading.Thread(target=publish_more)
    thread.start()
    client = recorder().connect(notify.url, auth={"token": token(user), "last_id": base["id"]})
    thread.join()
    received = [n["id"] for n in client.drain(1.0)]
    assert received == sorted(received), "out of order"
    assert len(received) == len(set(received)), "duplicated"
    assert received[0] == base["id"] + 1
    assert set(published) <= set(received)
    assert len(received) == 100


def test_recovery_across_a_restart_on_the_same_sqlite_file(tmp_path, token):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/inbox.db"}
    first = Service("notify", env, tmp_path).start()
    client = Recorder(reconnection=False).connect(first.url, auth={"token": token("ann")})
    seen = Publisher(first.url).ok("ann", "seen")
    assert client.next() == seen
    missed = [Publisher(first.url).ok("ann", f"missed {i}") for i in range(3)]
    client.sio.disconnect()  # the client drops them on the floor, say
    assert first.stop() == 0

    second = Service("notify", env, tmp_path).start()
    try:
        again = Recorder().connect(second.url, auth={"token": token("ann"), "last_id": seen["id"]})
        assert [again.next() for _ in missed] == missed
        live = Publisher(second.url).ok("ann", "after restart")
        assert again.next() == live
        assert live["id"] > missed[-1]["id"]
        again.close()
    finally:
        assert second.stop() == 0


def test_sockets_are_told_to_reconnect_when_notify_stops(tmp_path, token):
    service = Service("notify", {"DATABASE_URL": f"sqlite:///{tmp_path}/inbox.db"},
                      tmp_path).start()
    client = Recorder().connect(service.url, auth={"token": token("bo")})
    assert service.stop() == 0
    assert client.disconnected.wait(5)
    # A transport drop, not a server-side disconnect: clients reconnect after it.
    assert client.disconnect_reason == client.sio.reason.TRANSPORT_ERROR
    assert "Traceback" not in service.log()
