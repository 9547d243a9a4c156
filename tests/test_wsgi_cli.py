"""The operator commands of wsgi.py: `publish` and `check`, run as real processes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.servers import free_port
from tests.support import ROOT, SECRET, _base_env


def run(workdir, *args: str, **env: str) -> subprocess.CompletedProcess:
    # Run from an empty directory so that no developer's .env is read.
    return subprocess.run([sys.executable, str(ROOT / "wsgi.py"), *args], capture_output=True,
                          text=True, env={**_base_env(), **env}, cwd=workdir, timeout=60)


@pytest.fixture
def notify(start_service, tmp_path):
    return start_service("notify", DATABASE_URL=f"sqlite:///{tmp_path}/inbox.db")


# -- publish -------------------------------------------------------------------------------

def test_publish_prints_the_stored_notification_and_delivers_it(tmp_path, notify, socket_of):
    socket = socket_of(notify.url, "cli-ann")
    result = run(tmp_path, "publish", "--user", "cli-ann", "--title", "Deployed",
                 "--body", "v2 is live", "--data", '{"k": 1}', "--url", notify.url)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert (printed["user"], printed["title"], printed["data"]) == ("cli-ann", "Deployed", {"k": 1})
    assert socket.next() == printed


def test_publish_to_several_users_with_an_idempotency_key(tmp_path, notify, socket_of):
    socket = socket_of(notify.url, "cli-bob")
    args = ("publish", "--user", "cli-bob", "--user", "cli-cy", "--title", "Maintenance",
            "--url", notify.url, "--idempotency-key", "maint-1")
    first = run(tmp_path, *args)
    again = run(tmp_path, *args)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    printed = json.loads(first.stdout)
    assert [n["user"] for n in printed] == ["cli-bob", "cli-cy"]
    assert json.loads(again.stdout) == printed  # replayed, not published twice
    assert socket.next() == printed[0] and socket.drain(0.3) == []


def test_publish_with_a_given_token(tmp_path, notify, token):
    result = run(tmp_path, "publish", "--user", "cli-dee", "--title", "t", "--url", notify.url,
                 "--token", token("ops", scopes=["notifications:publish"]), JWT_SECRET="")
    assert result.returncode == 0, result.stderr


def test_publish_errors_are_one_line_and_non_zero(tmp_path, notify):
    refused = run(tmp_path, "publish", "--user", "cli-eve", "--title", "", "--url", notify.url)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "publish failed: 400 invalid_field: title: must be a non-empty string"]

    down = run(tmp_path, "publish", "--user", "cli-eve", "--title", "t",
               "--url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1
    assert "unreachable" in down.stderr and "Traceback" not in down.stderr

    no_secret = run(tmp_path, "publish", "--user", "x", "--title", "t", JWT_SECRET="")
    assert no_secret.returncode == 2 and "JWT_SECRET" in no_secret.stderr

    bad_json = run(tmp_path, "publish", "--user", "x", "--title", "t", "--data", "[1]")
    assert bad_json.returncode == 2 and "--data" in bad_json.stderr


# -- check ---------------------------------------------------------------------------------

def test_check_with_everything_up_passes_and_masks_secrets(
        tmp_path, notify, postgres_server, redis_server):
    result = run(tmp_path, "check", NOTIFY_URL=notify.url, DATABASE_URL=postgres_server.url,
                 REDIS_URL=redis_server.url)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert SECRET not in out + result.stderr
    assert "JWT_SECRET = *** (hidden)" in out
    assert "notify:notify@" not in out and "postgresql+pg8000://notify:***@127.0.0.1" in out
    assert f"check upstream {notify.url}/healthz: ok" in out
    assert "check database: ok" in out and "check redis: ok" in out
    assert "FAILED" not in out
    for setting in ("PORT", "NOTIFY_URL", "TRUSTED_PROXIES", "NOTIFY_PORT", "PING_INTERVAL"):
        assert f"\n  {setting} = " in out


def test_check_names_each_failed_connection(tmp_path, postgres_server, redis_server):
    dead = f"http://127.0.0.1:{free_port()}"
    wrong_password = postgres_server.url.replace("notify:notify@", "notify:wrong-pw@")
    result = run(tmp_path, "check", "all", NOTIFY_URL=dead, DATABASE_URL=wrong_password,
                 REDIS_URL=redis_server.url)
    out = result.stdout
    assert result.returncode == 1, out
    assert f"check upstream {dead}/healthz: FAILED (" in out
    assert "check database: FAILED (" in out
    assert "check redis: ok" in out
    assert "wrong-pw" not in out + result.stderr


def test_check_one_service_and_a_dead_database(tmp_path):
    result = run(tmp_path, "check", "notify",
                 DATABASE_URL=f"postgresql+pg8000://u:pw@127.0.0.1:{free_port()}/db")
    assert result.returncode == 1
    assert "gateway:" not in result.stdout and "notify:" in result.stdout
    assert "check database: FAILED (" in result.stdout
    assert "check redis" not in result.stdout  # REDIS_URL unset: nothing to check


def test_check_with_a_bad_setting_says_so_in_one_line(tmp_path):
    result = run(tmp_path, "check", NOTIFY_PORT="abc")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: NOTIFY_PORT: expected a whole number, got 'abc'"]
    assert result.stdout == ""
