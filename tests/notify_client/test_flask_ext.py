"""The Flask extension, in a real Flask app publishing to a real notify process."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify

from notify_client import Notify, NotifyClient

notify_ext = Notify()  # module level, as an app's extensions.py would have it


def create_shop(notify_url: str, token: str) -> Flask:
    """A service using the usual factory pattern."""
    app = Flask(__name__)
    app.config.update(NOTIFY_URL=notify_url, NOTIFY_TOKEN=token, NOTIFY_RETRIES=1)
    notify_ext.init_app(app)

    @app.post("/orders/<int:order>/ship/<user>")
    def ship(order: int, user: str):
        notification = notify_ext.client.notify(user, "Order shipped", data={"order": order},
                                                idempotency_key=f"order-{order}-shipped")
        return jsonify(notification), 201

    return app


def test_a_view_publishes_through_the_extension(notify, pub_token, socket_of, user):
    app = create_shop(notify.url, pub_token)
    socket = socket_of(notify.url, user)
    response = app.test_client().post(f"/orders/7/ship/{user}")
    assert response.status_code == 201
    assert socket.next() == response.get_json()
    assert response.get_json()["data"] == {"order": 7}
    with app.app_context():
        client = notify_ext.client
        assert isinstance(client, NotifyClient) and client.base_url == notify.url
        assert client.policy.retries == 1


def test_each_app_gets_its_own_client(notify, pub_token):
    one, two = create_shop(notify.url, pub_token), create_shop(notify.url + "/", pub_token)
    with one.app_context():
        first = notify_ext.client
    with two.app_context():
        assert notify_ext.client is not first
    assert Notify(one).client is one.extensions["notify_client"]


def test_missing_settings_fail_at_init_app():
    app = Flask(__name__)
    app.config["NOTIFY_URL"] = "http://127.0.0.1:1"
    with pytest.raises(RuntimeError, match="NOTIFY_TOKEN"):
        Notify().init_app(app)
    with pytest.raises(RuntimeError, match="init_app"):
        _ = Notify().client
