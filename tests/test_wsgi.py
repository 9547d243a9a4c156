"""The process entry point: serve, stop on signals, mint tokens, refuse bad config."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from common.auth import AuthError, TokenVerifier
from common.config import BaseConfig
from tests.support import ROOT, SECRET, Service, _base_env


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "wsgi.py"), *args], capture_output=True,
                          text=True, env={**_base_env(), **env}, timeout=30)


@pytest.mark.parametrize("command", ["gateway", "notify"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_service_starts_serves_and_stops_cleanly(tmp_path, command, sig):
    service = Service(command, {}, tmp_path).start()
    assert requests.get(service.url + "/healthz", timeout=5).json()["service"] == command
    assert service.stop(sig, timeout=10) == 0
    assert "stopped" in service.log()
    assert "Traceback" not in service.log()


def test_token_command_prints_a_token_only_this_secret_accepts():
    result = run("token", "--sub", "alice", "--scope", "notifications:publish", "--ttl", "60")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    identity = TokenVerifier(BaseConfig(JWT_SECRET=SECRET)).verify(token)
    assert identity.user == "alice"
    assert identity.scopes == {"notifications:publish"}
    assert 0 < identity.expires_at - identity.claims["iat"] <= 60
    with pytest.raises(AuthError):
        TokenVerifier(BaseConfig(JWT_SECRET="another-secret-" + "y" * 30)).verify(token)


@pytest.mark.parametrize("env, variable", [
    ({"NOTIFY_PORT": "abc"}, "NOTIFY_PORT"),
    ({"JWT_SECRET": ""}, "JWT_SECRET"),
    ({"JWT_ALGORITHMS": "none"}, "JWT_ALGORITHMS"),
])
def test_bad_config_stops_start_up_with_one_line(env, variable):
    result = run("notify", "--port", "0", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and variable in lines[0], result.stderr
    assert "Traceback" not in result.stderr
