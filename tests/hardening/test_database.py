"""The database down or locked: publish answers 503 database_unavailable (JSON, with
Retry-After), stores nothing half-way, and the service recovers without a restart."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests
import socketio

from tests.clients import Publisher, Recorder
from tests.hardening.faults import wait_until
from tests.servers import PostgresServer, _wait_for_port

pytestmark = pytest.mark.timeout(180)


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


def inbox_titles(url: str, token: str) -> list[str]:
    response = requests.get(url + "/api/notifications?limit=100", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return [n["title"] for n in response.json()["notifications"]]


class Postgres(PostgresServer):
    """A dedicated server that can be stopped and started again on its data."""

    def halt(self) -> None:
        if self.proc.poll() is not None:
            return
        # Fast shutdown: ends the open sessions too (SIGTERM's "smart" one waits for them).
        subprocess.run(self._as_owner(f"{self.bindir}/pg_ctl", "-D", str(self.workdir / "data"),
                                      "stop", "-m", "fast", "-w"),
                       check=True, capture_output=True, timeout=30)
        self.proc.wait(30)

    def resume(self) -> None:
        self.proc = subprocess.Popen(self._as_owner(
            f"{self.bindir}/postgres", "-D", str(self.workdir / "data"), "-p", str(self.port),
            "-k", str(self.workdir), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.proc, "postgres")


def test_postgresql_stopped_and_started_again(make_stack, token, user):
    database = Postgres().start()
    try:
        stack = make_stack(notify_env={"DATABASE_URL": database.url})
        url, publisher = stack.gateway.url, Publisher(stack.gateway.url)
        publisher.ok(user, "before")
        database.halt()
        assert_unavailable(publisher.publish(user, "during"))
        assert_unavailable(publisher.publish(users=[user, user + "b"], title="during many"))
        assert_unavailable(requests.get(url + "/api/notifications", timeout=10,
                                        headers={"Authorization": f"Bearer {token(user)}"}))
        refused = Recorder()
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect(url, auth={"token": token(user)})
        assert refused.connect_errors.get(timeout=5)["data"]["code"] == "database_unavailable"
        database.resume()
        # Back without restarting notify (stale pooled connections are replaced).
        assert wait_until(lambda: publisher.publish(user, "after").status_code == 201, 20)
        assert inbox_titles(url, token(user)) == ["after", "before"]
        assert inbox_titles(url, token(user + "b")) == []
        client = Recorder().connect(url, auth={"token": token(user)})
        sent = publisher.ok(user, "live")
        assert client.next() == sent
        client.close()
        assert "Traceback" not in stack.logs(), stack.logs()[-3000:]
    finally:
        database.halt()
        database.stop()


LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


def test_sqlite_locked_by_another_process(make_stack, token, user):
    stack = make_stack()
    url, publisher = stack.gateway.url, Publisher(stack.gateway.url)
    publisher.ok(user, "before")
    path = stack.notify_env["DATABASE_URL"].removeprefix("sqlite:///")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert_unavailable(publisher.publish(user, "during"))
        assert time.monotonic() - started < 15  # the busy timeout, not a hang
    finally:
        locker.stdin.close()
        locker.wait(10)
    assert publisher.publish(user, "after").status_code == 201
    assert inbox_titles(url, token(user)) == ["after", "before"]
    assert "Traceback" not in stack.logs(), stack.logs()[-3000:]
