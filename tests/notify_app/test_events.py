"""Socket.IO against a real notify process, with the python-socketio client."""

from __future__ import annotations

import time

import jwt
import pytest
import socketio

from tests.support import SECRET

TRANSPORTS = {"websocket": ("websocket",), "polling": ("polling",)}


@pytest.fixture(params=sorted(TRANSPORTS))
def transports(request):
    return TRANSPORTS[request.param]


def present(way: str, url: str, token: str) -> tuple[str, dict]:
    """Connect arguments that present ``token`` the given way (identify: none at connect)."""
    if way == "auth":
        return url, {"auth": {"token": token}}
    if way == "header":
        return url, {"headers": {"Authorization": f"Bearer {token}"}}
    if way == "query":
        return f"{url}?token={token}", {}
    return url, {}


@pytest.mark.parametrize("way", ["auth", "header", "query", "identify"])
def test_each_way_to_present_a_token_receives_notifications(
        notify, publisher, recorder, token, user, transports, way):
    url, options = present(way, notify.url, token(user))
    client = recorder().connect(url, transports=transports, **options)
    if way == "identify":
        assert client.call("identify", {"token": token(user)}) == {"ok": True, "user": user}
    sent = publisher.ok(user, "hi", body="there", data={"k": 1})
    received = client.next()
    assert received == sent
    assert set(received) == {"id", "user", "title", "body", "data", "created_at", "read"}


@pytest.mark.parametrize("bad, code", [
    (lambda token: "not-a-token", "invalid_token"),
    (lambda token: token("x", ttl=-10), "token_expired"),
    (lambda token: token("x", aud="someone-else"), "invalid_audience"),
    (lambda token: jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "w" * 40),
     "invalid_signature"),
])
@pytest.mark.parametrize("way", ["auth", "header", "query"])
def test_bad_tokens_refuse_the_connection_with_their_code(notify, recorder, token, bad, code,
                                                          way, transports):
    bad_token = bad(token)
    url, options = present(way, notify.url, bad_token)
    client = recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, transports=transports, **options)
    error = client.connect_errors.get(timeout=5)
    assert set(error) == {"message", "data"}
    assert error["data"]["code"] == code
    assert bad_token not in error["message"]


def test_wrong_audience_is_refused_when_an_audience_is_required(start_service, recorder, token):
    service = start_service("notify", JWT_AUDIENCE="notify")
    client = recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(service.url, auth={"token": token("x", aud="billing")})
    assert client.connect_errors.get(timeout=5)["data"]["code"] == "invalid_audience"
    ok = recorder().connect(service.url, auth={"token": token("x", aud="notify")})
    assert ok.sio.connected


def test_anonymous_socket_receives_nothing_and_is_dropped_after_the_auth_timeout(
        notify, publisher, recorder, user, transports):
    client = recorder().connect(notify.url, transports=transports)
    publisher.ok(user)
    assert client.drain(0.5) == []
    assert client.disconnected.wait(5), "anonymous socket outlived AUTH_TIMEOUT (1.5 s)"


def test_identify_in_time_keeps_the_socket(notify, recorder, token, user):
    client = recorder().connect(notify.url)
    assert client.call("identify", {"token": token(user)})["ok"] is True
    assert not client.disconnected.wait(2.5)  # past the 1.5 s auth timeout


@pytest.mark.parametrize("payload, code", [
    ({"token": "garbage"}, "invalid_token"),
    ({}, "token_missing"),
    ("not an object", "token_missing"),
])
def test_identify_failure_is_answered_then_disconnected(notify, recorder, payload, code):
    client = recorder().connect(notify.url)
    answer = client.call("identify", payload)
    assert answer["ok"] is False
    assert answer["error"]["code"] == code
    assert client.disconnected.wait(5)


def test_identify_as_another_user_is_refused_and_changes_nothing(
        notify, publisher, recorder, token, user):
    client = recorder().connect(notify.url, auth={"token": token(user)})
    answer = client.call("identify", {"token": token(user + "-other")})
    assert answer["ok"] is False and answer["error"]["code"] == "user_mismatch"
    publisher.ok(user + "-other")
    mine = publisher.ok(user)
    assert client.next() == mine  # still the first user, and only theirs
    assert client.drain(0.3) == []


def test_two_sockets_of_one_user_both_receive_and_nobody_else_does(
        notify, publisher, recorder, token, user):
    first = recorder().connect(notify.url, auth={"token": token(user)})
    second = recorder().connect(notify.url, auth={"token": token(user)}, transports=["polling"])
    other = recorder().connect(notify.url, auth={"token": token(user + "-b")})
    sent = publisher.ok(user)
    assert first.next() == sent
    assert second.next() == sent
    assert other.drain(0.5) == []


def test_expired_token_disconnects_the_socket(notify, recorder, token, user):
    client = recorder().connect(notify.url, auth={"token": token(user, ttl=2)})
    assert not client.disconnected.wait(1)
    assert client.events.get(timeout=5) == (
        "session_expired", {"code": "token_expired", "message": "The token has expired."})
    assert client.disconnected.wait(3)


def test_refresh_with_identify_keeps_the_socket_past_the_old_expiry(
        notify, publisher, recorder, token, user):
    client = recorder().connect(notify.url, auth={"token": token(user, ttl=2)})
    assert client.call("identify", {"token": token(user, ttl=60)}) == {"ok": True, "user": user}
    assert not client.disconnected.wait(3.5)
    sent = publisher.ok(user)
    assert client.next() == sent


def test_mark_read_answers_the_new_unread_count(notify, publisher, recorder, token, user):
    client = recorder().connect(notify.url, auth={"token": token(user)})
    ids = [publisher.ok(user, f"n{i}")["id"] for i in range(3)]
    assert client.call("mark_read", {"ids": ids[:2]}) == {"ok": True, "unread": 1}
    assert client.events.get(timeout=5) == ("unread_count", {"unread": 1})
    assert client.call("mark_read", {"all": True}) == {"ok": True, "unread": 0}
    assert client.call("mark_read", {"ids": "nope"})["error"]["code"] == "bad_request"


def test_mark_read_cannot_touch_another_users_notifications(
        notify, publisher, recorder, token, user):
    theirs = publisher.ok(user + "-victim")
    client = recorder().connect(notify.url, auth={"token": token(user)})
    assert client.call("mark_read", {"ids": [theirs["id"]]}) == {"ok": True, "unread": 0}
    victim = recorder().connect(notify.url, auth={"token": token(user + "-victim")})
    assert victim.call("mark_read", {"ids": []}) == {"ok": True, "unread": 1}


def test_mark_read_needs_identity(notify, recorder):
    client = recorder().connect(notify.url)
    assert client.call("mark_read", {"all": True})["error"]["code"] == "token_missing"


def test_invalid_last_id_refuses_the_connection(notify, recorder, token, user):
    client = recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(notify.url, auth={"token": token(user), "last_id": "drop table"})
    assert client.connect_errors.get(timeout=5)["data"]["code"] == "invalid_last_id"


def test_cross_origin_handshake_is_refused_unless_allowed(notify, start_service, token):
    import requests

    handshake = notify.url + "/socket.io/?EIO=4&transport=polling"
    assert requests.get(handshake, headers={"Origin": "http://evil.example"}).status_code == 400
    same = requests.get(handshake, headers={"Origin": notify.url})
    assert same.status_code == 200
    allowed = start_service("notify", CORS_ALLOWED_ORIGINS="http://app.example")
    ok = requests.get(allowed.url + "/socket.io/?EIO=4&transport=polling",
                      headers={"Origin": "http://app.example"})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "http://app.example"


def test_secret_never_reaches_the_log(notify):
    assert SECRET not in notify.log()
