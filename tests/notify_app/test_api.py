"""The REST API against a real notify process, with requests."""

from __future__ import annotations

import pytest
import requests

from tests.clients import Publisher


def get(notify, path: str, token: str, **params) -> requests.Response:
    return requests.get(notify.url + path, params=params,
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)


def post(notify, path: str, token: str, **kwargs) -> requests.Response:
    return requests.post(notify.url + path, headers={"Authorization": f"Bearer {token}"},
                         timeout=10, **kwargs)


def assert_error(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_round_trip_publish_live_list_count_read_and_read_all(
        notify, publisher, recorder, token, user):
    client = recorder().connect(notify.url, auth={"token": token(user)})
    first = publisher.ok(user, "one", body="b1", data={"url": "/x"})
    assert client.next() == first
    response = publisher.publish(users=[user, user + "-2"], title="two")
    assert response.status_code == 201
    second = response.json()["notifications"]
    assert [n["user"] for n in second] == [user, user + "-2"]
    assert client.next() == second[0]

    inbox = get(notify, "/api/notifications", token(user)).json()
    assert [n["id"] for n in inbox["notifications"]] == [second[0]["id"], first["id"]]
    assert get(notify, "/api/notifications/unread-count", token(user)).json() == {"unread": 2}

    marked = post(notify, f"/api/notifications/{first['id']}/read", token(user))
    assert marked.status_code == 200 and marked.json() == {**first, "read": True}
    assert get(notify, "/api/notifications/unread-count", token(user)).json() == {"unread": 1}
    unread = get(notify, "/api/notifications", token(user), unread="true").json()
    assert [n["id"] for n in unread["notifications"]] == [second[0]["id"]]

    assert post(notify, "/api/notifications/read-all", token(user)).json() == {
        "marked": 1, "unread": 0}
    assert get(notify, "/api/notifications/unread-count", token(user + "-2")).json() == {
        "unread": 1}


def test_pagination_with_the_before_cursor(notify, publisher, token, user):
    ids = [publisher.ok(user, f"n{i}")["id"] for i in range(5)]
    page = get(notify, "/api/notifications", token(user), limit=2).json()
    assert [n["id"] for n in page["notifications"]] == ids[:-3:-1]
    seen = [n["id"] for n in page["notifications"]]
    while page["next_before"] is not None:
        page = get(notify, "/api/notifications", token(user), limit=2,
                   before=page["next_before"]).json()
        seen += [n["id"] for n in page["notifications"]]
    assert seen == ids[::-1]


def test_idempotent_retry_returns_the_first_result_and_delivers_once(
        notify, publisher, recorder, token, user):
    client = recorder().connect(notify.url, auth={"token": token(user)})
    first = publisher.publish(user, "once", idempotency_key="k-" + user)
    retry = publisher.publish(user, "once", idempotency_key="k-" + user)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert client.next() == first.json()
    assert client.drain(0.5) == []
    assert get(notify, "/api/notifications/unread-count", token(user)).json() == {"unread": 1}

    reused = publisher.publish(user, "different", idempotency_key="k-" + user)
    assert_error(reused, 409, "idempotency_key_reused")
    other_service = Publisher(notify.url, name="svc-2").publish(
        user, "once", idempotency_key="k-" + user)
    assert other_service.status_code == 201  # keys belong to the publisher that sent them
    assert other_service.json()["id"] != first.json()["id"]


def test_a_user_token_cannot_publish(notify, token, user):
    response = post(notify, "/api/notifications", token(user), json={"user": user, "title": "x"})
    assert_error(response, 403, "insufficient_scope")
    assert get(notify, "/api/notifications/unread-count", token(user)).json() == {"unread": 0}


@pytest.mark.parametrize("path, method", [
    ("/api/notifications", "get"), ("/api/notifications", "post"),
    ("/api/notifications/unread-count", "get"), ("/api/notifications/1/read", "post"),
    ("/api/notifications/read-all", "post"),
])
def test_no_token_is_401_everywhere(notify, path, method):
    response = requests.request(method, notify.url + path, json={}, timeout=10)
    assert_error(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_bad_tokens_are_401_with_their_code(notify, token):
    assert_error(get(notify, "/api/notifications", "x.y.z"), 401, "invalid_token")
    assert_error(get(notify, "/api/notifications", token("a", ttl=-5)), 401, "token_expired")


def test_another_users_notification_is_404_and_stays_unread(notify, publisher, token, user):
    theirs = publisher.ok(user + "-owner")
    assert_error(post(notify, f"/api/notifications/{theirs['id']}/read", token(user)),
                 404, "not_found")
    assert_error(post(notify, "/api/notifications/999999999/read", token(user)), 404, "not_found")
    assert_error(post(notify, "/api/notifications/abc/read", token(user)), 404, "not_found")
    owner_inbox = get(notify, "/api/notifications", token(user + "-owner")).json()
    assert owner_inbox["notifications"][0]["read"] is False
    assert get(notify, "/api/notifications", token(user)).json()["notifications"] == []


@pytest.mark.parametrize("body, field", [
    ({"title": "no user"}, "user"),
    ({"user": "a", "users": ["b"], "title": "both"}, "user"),
    ({"user": "", "title": "x"}, "user"),
    ({"user": 5, "title": "x"}, "user"),
    ({"users": [], "title": "x"}, "users"),
    ({"users": "a", "title": "x"}, "users"),
    ({"users": [f"u{i}" for i in range(1001)], "title": "x"}, "users"),
    ({"user": "a"}, "title"),
    ({"user": "a", "title": "t" * 201}, "title"),
    ({"user": "a", "title": "x", "body": "b" * 4001}, "body"),
    ({"user": "a", "title": "x", "body": 7}, "body"),
    ({"user": "a", "title": "x", "data": [1]}, "data"),
    ({"user": "a", "title": "x", "data": {"big": "d" * 17000}}, "data"),
    ({"user": "a", "title": "x", "colour": "red"}, "colour"),
])
def test_bad_publish_input_is_400_naming_the_field_and_stores_nothing(
        notify, publisher, token, body, field):
    error = assert_error(publisher.session.post(notify.url + "/api/notifications", json=body),
                         400, "invalid_field")
    assert error["field"] == field
    assert get(notify, "/api/notifications/unread-count", token("a")).json() == {"unread": 0}


def test_malformed_json_and_non_object_bodies_are_400(notify, publisher):
    url = notify.url + "/api/notifications"
    assert_error(publisher.session.post(url, data=b"{nope"), 400, "invalid_json")
    assert_error(publisher.session.post(url, json=[1, 2]), 400, "invalid_json")


def test_oversized_body_is_413(notify, publisher):
    response = publisher.session.post(notify.url + "/api/notifications",
                                      data=b"x" * (2 * 1024 * 1024))
    assert_error(response, 413, "request_entity_too_large")


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "x"}, "limit"),
    ({"before": "-1"}, "before"), ({"unread": "maybe"}, "unread"),
])
def test_bad_query_parameters_are_400(notify, token, params, field):
    response = get(notify, "/api/notifications", token("a"), **params)
    assert assert_error(response, 400, "invalid_field")["field"] == field


def test_unknown_path_and_method_use_the_error_shape(notify, token):
    assert_error(get(notify, "/api/nope", token("a")), 404, "not_found")
    response = requests.delete(notify.url + "/api/notifications", timeout=10)
    assert_error(response, 405, "method_not_allowed")


def test_bad_idempotency_key_is_400(notify, publisher, user):
    response = publisher.publish(user, idempotency_key="k" * 300)
    assert assert_error(response, 400, "invalid_field")["field"] == "Idempotency-Key"
