"""Real Redis and PostgreSQL servers for tests, on free loopback ports in temporary dirs.

A missing binary fails the test with a message saying what to install; it never skips,
so CI cannot pass without exercising them (``.ci/run`` installs both from apt).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require(binary: str, package: str) -> str:
    path = shutil.which(binary) or next(iter(sorted(glob.glob(binary))), None)
    if not path:
        pytest.fail(f"{os.path.basename(binary)} is required for this test: "
                    f"apt-get install {package} (.ci/run does)", pytrace=False)
    return path


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


class RedisServer:
    """``redis-server`` with no persistence; ``stop()`` and ``start()`` make outages."""

    def __init__(self, workdir: Path) -> None:
        self.binary = _require("redis-server", "redis-server")
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.proc, "redis-server")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class PostgresServer:
    """A throwaway PostgreSQL cluster (run as the `postgres` user when we are root)."""

    def __init__(self) -> None:
        self.bindir = os.path.dirname(_require("/usr/lib/postgresql/*/bin/postgres",
                                               "postgresql"))
        # Not under pytest's tmp dirs: those are private to root, and the cluster is not.
        self.workdir = Path(tempfile.mkdtemp(prefix="notify-pg-"))
        self.port = free_port()
        self.url = f"postgresql+pg8000://notify:notify@127.0.0.1:{self.port}/notify"
        self.proc: subprocess.Popen | None = None

    def _as_owner(self, *cmd: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)

    def start(self) -> PostgresServer:
        data = self.workdir / "data"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
        pwfile = self.workdir / "pw"
        pwfile.write_text("notify\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres")
        subprocess.run(self._as_owner(f"{self.bindir}/initdb", "-D", str(data), "-U", "notify",
                                      "--pwfile", str(pwfile), "-A", "scram-sha-256"),
                       check=True, capture_output=True)
        self.proc = subprocess.Popen(self._as_owner(
            f"{self.bindir}/postgres", "-D", str(data), "-p", str(self.port), "-k",
            str(self.workdir), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.proc, "postgres")
        subprocess.run(self._as_owner(f"{self.bindir}/createdb", "-h", "127.0.0.1", "-p",
                                      str(self.port), "-U", "notify", "notify"),
                       check=True, capture_output=True, env={**os.environ, "PGPASSWORD": "notify"})
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        shutil.rmtree(self.workdir, ignore_errors=True)
