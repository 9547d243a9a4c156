"""A whole session at LOG_LEVEL=debug leaves no token and no JWT_SECRET in any log."""

from __future__ import annotations

import pytest
import requests
import socketio

from common.auth import PUBLISH_SCOPE, mint_token
from tests.clients import Recorder
from tests.support import SECRET

pytestmark = pytest.mark.timeout(120)


def test_no_token_or_secret_in_the_logs_of_a_full_session(make_stack, user):
    debug = {"LOG_LEVEL": "debug"}
    stack = make_stack(notify_env=debug, gateway_env=debug)
    user_token = mint_token(SECRET, user)
    publisher_token = mint_token(SECRET, "svc", scopes=[PUBLISH_SCOPE])
    bad_token = mint_token("w" * 40, user)
    tokens = [user_token, publisher_token, bad_token]
    clients = []
    for url in (stack.gateway.url, stack.notify.url):
        for transports in (("websocket",), ("polling",)):
            clients.append(Recorder().connect(url, transports=transports,
                                              auth={"token": user_token}))
            clients.append(Recorder().connect(url, transports=transports, headers={
                "Authorization": f"Bearer {user_token}"}))
            clients.append(Recorder().connect(f"{url}?token={user_token}",
                                              transports=transports))
            anonymous = Recorder().connect(url, transports=transports)
            assert anonymous.call("identify", {"token": user_token})["ok"]
            clients.append(anonymous)
        refused = Recorder()
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect(url, auth={"token": bad_token})
        published = requests.post(url + "/api/notifications", timeout=10, json={
            "user": user, "title": "secret-free"},
            headers={"Authorization": f"Bearer {publisher_token}"})
        assert published.status_code == 201
        for client in clients:
            client.next()
        headers = {"Authorization": f"Bearer {user_token}"}
        assert requests.get(url + "/api/notifications", headers=headers, timeout=10).ok
        assert requests.get(f"{url}/api/notifications?token={user_token}",
                            timeout=10).status_code == 401
        assert requests.get(url + "/api/notifications/unread-count", timeout=10,
                            headers={"Authorization": f"Bearer {bad_token}"}).status_code == 401
        for client in clients:
            client.close()
        clients.clear()
    stack.stop()
    logs = stack.logs()
    assert "DEBUG" in logs  # the debug lines were written, and checked
    for secret in [*tokens, SECRET]:
        assert secret not in logs
        # Not even a recognisable part: the signature is what makes a token usable.
        assert secret.rsplit(".", 1)[-1] not in logs
