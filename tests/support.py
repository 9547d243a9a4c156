"""Start the real services as subprocesses on ephemeral loopback ports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-" + "x" * 40  # 32+ bytes, as the config requires
_LISTENING = re.compile(r"(\w+) listening on (http://[\d.]+:\d+)")


class Service:
    """One ``python wsgi.py <command>`` process; ``url`` is known once it listens."""

    def __init__(self, command: str, env: dict[str, str], workdir: Path, args=(),
                 port: int = 0) -> None:
        self.command = command
        self.requested_port = port  # 0: any free port; a fixed one lets a restart keep it
        self.env = {**_base_env(), **env}
        self.workdir = workdir
        self.args = list(args)
        self.log_path = workdir / f"{command}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 15) -> Service:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, str(ROOT / "wsgi.py"), self.command, "--host", "127.0.0.1",
               "--port", str(self.requested_port), *self.args]
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log())
            if match:
                self.url = match.group(2)
                return self._wait_healthy(deadline)
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command} exited {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.command} did not start:\n{self.log()}")

    def _wait_healthy(self, deadline: float) -> Service:
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.command} never became healthy:\n{self.log()}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the process and wait for it; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(JWT_SECRET=SECRET, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    return env
