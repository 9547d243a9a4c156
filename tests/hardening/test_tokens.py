"""The hostile-token set at every entry point, direct and through the gateway.

Every token is refused with its code (a 1 MB one may instead meet a size limit first: a
clean 4xx or a closed connection), nothing logs a traceback, and the service serves a good
token right afterwards.  The stack requires an audience and an issuer, so that wrong ones
can be tried."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
import socketio

from common.auth import PUBLISH_SCOPE
from tests.clients import Recorder
from tests.hardening.conftest import Stack, still_serving
from tests.support import SECRET

pytestmark = pytest.mark.timeout(300)

AUD, ISS = "notify", "https://id.test"
BIG = "1mb"  # the code column's marker for "any clean refusal"


def claims(**changes) -> dict:
    now = int(time.time())
    payload = {"sub": "mallory", "iat": now, "exp": now + 600, "aud": AUD, "iss": ISS,
               "scope": PUBLISH_SCOPE}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def good(user: str = "mallory") -> str:
    return jwt.encode(claims(sub=user), SECRET)


def hostile() -> list[tuple[str, str, set[str]]]:
    """``(name, token, accepted codes)``."""
    now = int(time.time())
    valid = good()
    return [
        ("expired", jwt.encode(claims(exp=now - 30), SECRET), {"token_expired"}),
        ("not yet valid", jwt.encode(claims(nbf=now + 600), SECRET), {"token_not_yet_valid"}),
        ("wrong key", jwt.encode(claims(), "k" * 40), {"invalid_signature"}),
        ("wrong aud", jwt.encode(claims(aud="billing"), SECRET), {"invalid_audience"}),
        ("wrong iss", jwt.encode(claims(iss="https://evil.test"), SECRET), {"invalid_issuer"}),
        ("no sub", jwt.encode(claims(sub=None), SECRET), {"invalid_token"}),
        ("no exp", jwt.encode(claims(exp=None), SECRET), {"invalid_token"}),
        ("alg none", jwt.encode(claims(), None, algorithm="none"), {"invalid_token"}),
        ("truncated", valid[:-5], {"invalid_signature", "invalid_token"}),
        ("half", valid[: len(valid) // 2], {"invalid_token"}),
        ("not base64", "eyJ!!!.eyJ###.sig", {"invalid_token"}),
        ("non-string sub", jwt.encode(claims(sub=42), SECRET), {"invalid_token"}),
        ("1 MB", "eyJ" + "A" * (1024 * 1024), {"invalid_token", BIG}),
    ]


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("strict"),
                  notify_env={"JWT_AUDIENCE": AUD, "JWT_ISSUER": ISS},
                  gateway_env={"JWT_AUDIENCE": AUD, "JWT_ISSUER": ISS}).start()
    yield stack
    assert stack.stop() == [0, 0]
    logs = stack.logs()
    assert "Traceback" not in logs, logs[-3000:]
    assert " 500" not in logs and "internal_error" not in logs


@pytest.fixture(params=["direct", "gateway"])
def url(request, strict):
    return strict.notify.url if request.param == "direct" else strict.gateway.url


def connect_outcome(url: str, way: str, token: str, transport: str) -> str:
    """The code a refused connect reported, ``1mb`` for a refusal without one."""
    options: dict = {}
    if way == "auth":
        options["auth"] = {"token": token}
    elif way == "header":
        options["headers"] = {"Authorization": f"Bearer {token}"}
    else:
        url = f"{url}?token={token}"
    client = Recorder()
    try:
        client.connect(url, transports=(transport,), **options)
    except socketio.exceptions.ConnectionError:
        try:
            return client.connect_errors.get(timeout=3)["data"]["code"]
        except Exception:  # noqa: BLE001 - no connect_error: refused at the HTTP level
            return BIG
    finally:
        client.close()
    return "accepted"


def check(outcomes: dict[str, str], expected: dict[str, set[str]]) -> None:
    wrong = {name: got for name, got in outcomes.items() if got not in expected[name]}
    assert not wrong, wrong


@pytest.mark.parametrize("way, transport", [("auth", "websocket"), ("auth", "polling"),
                                            ("header", "websocket"), ("query", "websocket"),
                                            ("header", "polling"), ("query", "polling")])
def test_connect(url, way, transport):
    tokens = hostile()
    outcomes = {name: connect_outcome(url, way, token, transport) for name, token, _ in tokens}
    check(outcomes, {name: codes for name, _, codes in tokens})
    assert connect_outcome(url, way, good(), transport) == "accepted"


def test_identify(url):
    tokens = hostile()
    outcomes = {}
    for name, token, _codes in tokens:
        client = Recorder().connect(url)
        try:
            answer = client.call("identify", {"token": token}, timeout=5)
            outcomes[name] = answer["error"]["code"] if not answer["ok"] else "accepted"
            assert client.disconnected.wait(5), name  # a failed identify is then dropped
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            outcomes[name] = BIG  # the message was over MAX_MESSAGE_BYTES: dropped at once
        finally:
            client.close()
    check(outcomes, {name: codes for name, _, codes in tokens})
    client = Recorder().connect(url)
    assert client.call("identify", {"token": good()}) == {"ok": True, "user": "mallory"}
    client.close()


REST = [("POST", "/api/notifications", {"user": "victim", "title": "x"}),
        ("GET", "/api/notifications", None),
        ("GET", "/api/notifications/unread-count", None),
        ("POST", "/api/notifications/1/read", None),
        ("POST", "/api/notifications/read-all", None)]


@pytest.mark.parametrize("method, path, body", REST)
def test_rest(url, method, path, body):
    tokens = hostile()
    outcomes = {}
    for name, token, _codes in tokens:
        try:
            response = requests.request(method, url + path, json=body, timeout=10,
                                        headers={"Authorization": f"Bearer {token}"})
        except requests.ConnectionError:
            outcomes[name] = BIG  # the server refused the head and closed
            continue
        if response.status_code in (400, 414, 431) and name == "1 MB":
            outcomes[name] = BIG
            continue
        assert response.status_code == 401, (name, response.status_code, response.text)
        assert "Bearer" in response.headers["WWW-Authenticate"]
        outcomes[name] = response.json()["error"]["code"]
    check(outcomes, {name: codes for name, _, codes in tokens})
    response = requests.request(method, url + path, json=body, timeout=10,
                                headers={"Authorization": f"Bearer {good()}"})
    assert response.status_code < 500 and response.status_code != 401, response.text


def test_the_victim_got_nothing_and_the_service_serves(strict):
    still_serving(strict.notify.url, strict.gateway.url)
    inbox = requests.get(strict.gateway.url + "/api/notifications", timeout=10,
                         headers={"Authorization": f"Bearer {good('victim')}"}).json()
    # Only the good publisher tokens (one per REST test run) reached the victim.
    assert len(inbox["notifications"]) == 2
