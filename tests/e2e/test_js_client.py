"""The official JavaScript socket.io-client (npm, under node), through the gateway."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from tests.clients import Publisher
from tests.support import ROOT

SCRIPT = ROOT / "tests" / "js" / "socket_client.mjs"


def node() -> str:
    path = shutil.which("node")
    if not path or not (ROOT / "node_modules" / "socket.io-client").is_dir():
        pytest.fail("node and `npm ci` are required (make test runs it)", pytrace=False)
    return path


class JsClient:
    def __init__(self, **options) -> None:
        self.proc = subprocess.Popen([node(), str(SCRIPT), json.dumps(options)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def line(self) -> dict:
        raw = self.proc.stdout.readline()
        if not raw:
            raise AssertionError(f"node exited: {self.proc.wait()} {self.proc.stderr.read()}")
        return json.loads(raw)

    def until(self, *events: str) -> dict:
        """Read lines until each of ``events`` was seen; returns them by name."""
        seen: dict[str, dict] = {}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and set(events) - set(seen):
            message = self.line()
            seen.setdefault(message["event"], message)
        missing = set(events) - set(seen)
        assert not missing, f"no {missing}"
        return seen if len(events) > 1 else seen[events[0]]

    def close(self) -> int:
        try:
            return self.proc.wait(15)
        finally:
            self.proc.kill()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], ["polling", "websocket"]])
@pytest.mark.parametrize("way", ["auth", "header", "query", "identify"])
def test_js_client_connects_and_receives_through_the_gateway(gateway, token, user, way,
                                                             transports):
    client = JsClient(url=gateway.url, token=token(user), way=way, transports=transports)
    # The script reports `connect` once identified, when identifying.
    if len(transports) > 1:
        seen = client.until("connect", "upgrade")
        assert seen["upgrade"]["transport"] == "websocket"  # upgraded through the gateway
    else:
        assert client.until("connect")["transport"] == transports[0]
    sent = Publisher(gateway.url).ok(user, f"js {way}")
    assert client.until("notification")["notification"] == sent
    assert client.close() == 0


def test_js_client_sees_the_refusal_code(gateway, token):
    client = JsClient(url=gateway.url, token=token("x", ttl=-5), way="auth")
    refused = client.until("connect_error")
    assert refused["code"] == "token_expired"
    assert refused["message"] == "The token has expired."
    assert client.close() == 2
