"""Randomized (seeded) isolation: many users and sockets, publishes, reads and mark-reads
over REST and the socket; nothing of one user is ever visible to or changeable by another.

The test keeps a model of every inbox (ids and read state) and checks each answer and
each event against it; at the end every socket must hold exactly its user's
notifications, and each ``unread_count`` it got must be its own user's count."""

from __future__ import annotations

import random
import time

import pytest
import requests

from common.auth import mint_token
from tests.clients import Publisher, Recorder
from tests.support import SECRET

pytestmark = pytest.mark.timeout(240)

SEED = 20240607
USERS = 8
OPERATIONS = 160


class Model:
    def __init__(self, users: list[str]) -> None:
        self.inbox: dict[str, dict[int, bool]] = {u: {} for u in users}  # id -> read
        self.unread_events: dict[str, list[int]] = {u: [] for u in users}

    def owner(self, nid: int) -> str:
        return next(u for u, box in self.inbox.items() if nid in box)

    def unread(self, user: str) -> int:
        return sum(not read for read in self.inbox[user].values())

    def all_ids(self) -> list[int]:
        return sorted(i for box in self.inbox.values() for i in box)


class World:
    def __init__(self, stack, rng: random.Random) -> None:
        self.rng = rng
        self.urls = [stack.notify.url, stack.gateway.url]
        self.users = [f"iso{SEED}-{n}" for n in range(USERS)]
        self.tokens = {u: mint_token(SECRET, u) for u in self.users}
        self.model = Model(self.users)
        self.publisher = Publisher(stack.gateway.url, "iso-svc")
        self.sockets: dict[str, list[Recorder]] = {}
        for user in self.users:
            self.sockets[user] = []
            for _ in range(rng.randint(1, 3)):
                url = rng.choice(self.urls)
                transports = rng.choice([("websocket",), ("polling",)])
                if rng.random() < 0.5:
                    client = Recorder().connect(url, transports=transports,
                                                auth={"token": self.tokens[user]})
                else:
                    client = Recorder().connect(url, transports=transports)
                    assert client.call("identify", {"token": self.tokens[user]})["ok"]
                self.sockets[user].append(client)

    def rest(self, user: str, method: str, path: str) -> requests.Response:
        return requests.request(method, self.rng.choice(self.urls) + path, timeout=10,
                                headers={"Authorization": f"Bearer {self.tokens[user]}"})

    # -- operations ------------------------------------------------------------------------

    def publish(self) -> None:
        targets = self.rng.sample(self.users, self.rng.randint(1, 3))
        if len(targets) == 1:
            created = [self.publisher.ok(targets[0], "t", data={"for": targets[0]})]
        else:
            response = self.publisher.publish(users=targets, title="many")
            assert response.status_code == 201, response.text
            created = response.json()["notifications"]
        for item in created:
            self.model.inbox[item["user"]][item["id"]] = False

    def read_inbox(self) -> None:
        user = self.rng.choice(self.users)
        unread = self.rng.random() < 0.5
        got = self.rest(user, "GET", f"/api/notifications?limit=100&unread={str(unread).lower()}")
        assert got.status_code == 200
        items = got.json()["notifications"]
        assert all(item["user"] == user for item in items)
        expected = sorted((i for i, read in self.model.inbox[user].items()
                           if not (unread and read)), reverse=True)[:100]
        assert [item["id"] for item in items] == expected
        count = self.rest(user, "GET", "/api/notifications/unread-count").json()
        assert count == {"unread": self.model.unread(user)}

    def mark_one_rest(self) -> None:
        ids = self.model.all_ids()
        if not ids:
            return
        user, nid = self.rng.choice(self.users), self.rng.choice(ids)
        response = self.rest(user, "POST", f"/api/notifications/{nid}/read")
        if self.model.owner(nid) != user:
            assert response.status_code == 404, response.text  # not even "it exists"
            assert response.json()["error"]["code"] == "not_found"
            return
        assert response.status_code == 200 and response.json()["id"] == nid
        self.model.inbox[user][nid] = True
        self.model.unread_events[user].append(self.model.unread(user))

    def mark_some_socket(self) -> None:
        ids = self.model.all_ids()
        user = self.rng.choice(self.users)
        chosen = self.rng.sample(ids, min(len(ids), self.rng.randint(1, 4)))
        answer = self.rng.choice(self.sockets[user]).call("mark_read", {"ids": chosen})
        for nid in chosen:
            if nid in self.model.inbox[user]:
                self.model.inbox[user][nid] = True
        assert answer == {"ok": True, "unread": self.model.unread(user)}
        self.model.unread_events[user].append(self.model.unread(user))

    def mark_all(self) -> None:
        user = self.rng.choice(self.users)
        if self.rng.random() < 0.5:
            response = self.rest(user, "POST", "/api/notifications/read-all")
            assert response.status_code == 200 and response.json()["unread"] == 0
        else:
            assert self.rng.choice(self.sockets[user]).call("mark_read", {"all": True}) \
                == {"ok": True, "unread": 0}
        self.model.inbox[user] = dict.fromkeys(self.model.inbox[user], True)
        self.model.unread_events[user].append(0)


def test_randomized_isolation(stack):
    rng = random.Random(SEED)
    world = World(stack, rng)
    operations = [(world.publish, 5), (world.read_inbox, 2), (world.mark_one_rest, 3),
                  (world.mark_some_socket, 2), (world.mark_all, 1)]
    try:
        for _ in range(OPERATIONS):
            rng.choices([op for op, _ in operations], [w for _, w in operations])[0]()
        deadline = time.monotonic() + 15
        for user, clients in world.sockets.items():
            expected = sorted(world.model.inbox[user])
            for client in clients:
                got: list[dict] = []
                while len(got) < len(expected) and time.monotonic() < deadline:
                    got.extend(client.drain(0.3))
                got.extend(client.drain(0.3))  # and nothing more arrives
                assert all(item["user"] == user for item in got), user
                assert [item["id"] for item in got] == expected, user
                counts = []
                while not client.events.empty():
                    name, data = client.events.get()
                    if name == "unread_count":
                        counts.append(data["unread"])
                assert counts == world.model.unread_events[user], user
    finally:
        for clients in world.sockets.values():
            for client in clients:
                client.close()
