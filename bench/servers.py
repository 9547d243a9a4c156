"""The three things under test, on loopback: notify, the gateway (1+ processes), nginx.

Every process is a child of the benchmark with its files under one temporary directory.
``/proc`` gives each one's CPU time (utime + stime), resident memory and open descriptors.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
TARGETS = ("direct", "gateway", "nginx")
RATE_LIMITS = ("CONNECT_RATE_LIMIT", "IDENTIFY_RATE_LIMIT", "PUBLISH_RATE_LIMIT")
UNREACHABLE_RATE = "1000000/second"
_LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_KB


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]
    return []


class Process:
    """One child process with a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=env, cwd=log.parent, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 5) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@dataclass
class Stack:
    """notify, ``gateways`` gateway processes sharing one port, nginx with as many workers."""

    workdir: Path
    gateways: int = 1
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    log_level: str = "info"
    processes: dict[str, list[Process]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def start(self, timeout: float = 30) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ports = {name: free_port() for name in TARGETS}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        env = self._env()
        self.processes["notify"] = [self._python("notify", ports["direct"], {
            **env, "DATABASE_URL": f"sqlite:///{self.workdir}/notify.db"})]
        gateway_env = {**env, "NOTIFY_URL": self.urls["direct"]}
        extra = ["--reuse-port"] if self.gateways > 1 else []
        self.processes["gateway"] = [
            self._python("gateway", ports["gateway"], gateway_env, extra, index)
            for index in range(self.gateways)]
        self.processes["nginx"] = [self._nginx(ports["nginx"], ports["direct"])]
        deadline = time.monotonic() + timeout
        for name in ("notify", "gateway"):
            for process in self.processes[name]:
                _wait_listening(process, deadline)
        for target in TARGETS:
            _wait_healthy(self.urls[target] + "/healthz", self.processes, deadline)
        return self

    def stop(self) -> None:
        for name in ("nginx", "gateway", "notify"):
            for process in self.processes.get(name, []):
                process.stop()
        self.processes.clear()

    def pids(self, name: str) -> list[int]:
        """Every pid of ``name`` (nginx: the master and its workers)."""
        pids = [p.pid for p in self.processes.get(name, [])]
        if name == "nginx":
            pids += [c for pid in pids for c in children(pid)]
        return pids

    def _env(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(JWT_SECRET=self.secret, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT),
                   LOG_LEVEL=self.log_level, PYTHONWARNINGS="ignore")
        # All the load comes from one address and one publisher: limits meant for one client
        # out of many are raised out of reach, not turned off, so their cost is still paid.
        env.update({name: UNREACHABLE_RATE for name in RATE_LIMITS})
        return env

    def _python(self, command: str, port: int, env: dict[str, str], extra=(), index: int = 0
                ) -> Process:
        cmd = [sys.executable, str(ROOT / "wsgi.py"), command, "--host", "127.0.0.1",
               "--port", str(port), *extra]
        return Process(command, cmd, env, self.workdir / f"{command}{index}.log")

    def _nginx(self, port: int, notify_port: int) -> Process:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        tmp = self.workdir / "nginx"
        tmp.mkdir(exist_ok=True)
        config = string.Template(TEMPLATE.read_text()).substitute(
            user_line="user root;" if os.geteuid() == 0 else "",
            workers=self.gateways, nofile=_nofile_limit(), tmp=tmp, port=port,
            notify_port=notify_port, reuseport="reuseport" if self.gateways > 1 else "")
        (tmp / "nginx.conf").write_text(config)
        cmd = [binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e",
               str(tmp / "error.log")]
        return Process("nginx", cmd, dict(os.environ), self.workdir / "nginx.log")


def _nofile_limit() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def _wait_listening(process: Process, deadline: float) -> None:
    while time.monotonic() < deadline:
        process.check()
        if _LISTENING.search(process.log()):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{process.name} did not start:\n{process.log()[-3000:]}")


def _wait_healthy(url: str, processes: dict[str, list[Process]], deadline: float) -> None:
    while time.monotonic() < deadline:
        for group in processes.values():
            for process in group:
                process.check()
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).ok:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} never answered")


def sample(stack: Stack, generator_pids: list[int]) -> dict[str, dict[str, float]]:
    """CPU seconds, RSS (KB) and open descriptors per role, summed over its processes."""
    roles = {"notify": stack.pids("notify"), "gateway": stack.pids("gateway"),
             "nginx": stack.pids("nginx"), "generator": generator_pids}
    result: dict[str, dict[str, float]] = {}
    for role, pids in roles.items():
        cpu = rss = fds = 0.0
        for pid in pids:
            with contextlib.suppress(OSError, IndexError, ValueError):
                cpu += cpu_seconds(pid)
                rss += rss_kb(pid)
                fds += open_fds(pid)
        result[role] = {"cpu": cpu, "rss_kb": rss, "fds": fds}
    result["_time"] = {"wall": time.monotonic()}
    return result


def delta(before: dict, after: dict, key: str) -> dict[str, float]:
    return {role: after[role][key] - before[role][key] for role in after if role != "_time"}
