"""Soak test: clients connect, receive, disconnect and recover through the gateway for a while.

    python -m tools.soak --duration 60 [--clients N] [--rate R] [--idle N]
                         [--gateway URL --secret S] [--json]

Without ``--gateway`` it starts notify and a gateway itself (SQLite in a temporary
directory, rate limits off, since every client here has the same address).  Each client is
one user's python-socketio client that reconnects with ``last_id`` after every
disconnect; a publisher posts to random users through the gateway with an
``Idempotency-Key``, retrying the same key until it is stored.  ``--idle`` opens that many
anonymous WebSockets that never identify, which the server must cut off.  At the end it
reports connections, notifications published and received, lost and duplicated ones
(exit status 1 if either is not 0), errors by kind, and the descriptor and RSS trend of
each server process it started.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.auth import PUBLISH_SCOPE, mint_token  # noqa: E402 - after the path is set

_LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")


# -- the servers ---------------------------------------------------------------------------

class Server:
    """One ``wsgi.py`` process on a free port, and samples of its descriptors and RSS."""

    def __init__(self, command: str, env: dict[str, str], workdir: Path) -> None:
        self.command = command
        self.log_path = workdir / f"{command}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "wsgi.py"), command, "--host", "127.0.0.1",
             "--port", "0"], env=env, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT)
        self.url = self._wait_listening()
        self.samples: list[tuple[float, int, int]] = []  # (t, fds, rss KiB)

    def _wait_listening(self, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.command} did not start:\n{self.log_path.read_text()}")

    def sample(self, t: float) -> None:
        with contextlib.suppress(OSError):
            fds = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
            rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            self.samples.append((t, fds, rss))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def tracebacks(self) -> int:
        return self.log_path.read_text(errors="replace").count("Traceback")


def start_servers(workdir: Path, secret: str, auth_timeout: float) -> list[Server]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(JWT_SECRET=secret, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT),
               PYTHONWARNINGS="ignore", CONNECT_RATE_LIMIT="", IDENTIFY_RATE_LIMIT="",
               PUBLISH_RATE_LIMIT="", AUTH_TIMEOUT=str(auth_timeout),
               DATABASE_URL=f"sqlite:///{workdir}/soak.db")
    notify = Server("notify", env, workdir)
    gateway = Server("gateway", {**env, "NOTIFY_URL": notify.url}, workdir)
    return [notify, gateway]


# -- the clients ---------------------------------------------------------------------------

@dataclass
class Tally:
    """What everybody saw, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    published: dict[str, list[int]] = field(default_factory=lambda: collections.defaultdict(list))
    received: dict[str, list[int]] = field(default_factory=lambda: collections.defaultdict(list))
    connections: int = 0
    errors: collections.Counter = field(default_factory=collections.Counter)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1


class Client(threading.Thread):
    """One user's socket: connected for a while, away for a while, back with ``last_id``."""

    def __init__(self, url: str, user: str, secret: str, tally: Tally, stop: threading.Event,
                 rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.url, self.user, self.tally, self.stop_event, self.rng = url, user, tally, stop, rng
        self.token = mint_token(secret, user, ttl=24 * 3600)
        self.last_id = 0  # a new user: everything since the start is this client's
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2,
                                   reconnection_delay_max=2)
        self.sio.on("notification", self._on_notification)
        self.sio.on("connect_error", lambda data: tally.error(f"connect_error:{_code(data)}"))

    def _auth(self) -> dict:
        return {"token": self.token, "last_id": self.last_id}

    def _on_notification(self, item: dict) -> None:
        with self.tally.lock:
            if item.get("user") != self.user:
                self.tally.errors["foreign_notification"] += 1
                return
            self.tally.received[self.user].append(item["id"])
            self.last_id = item["id"]

    def connect(self) -> bool:
        transports = self.rng.choice([["websocket"], ["polling", "websocket"], ["polling"]])
        try:
            self.sio.connect(self.url, auth=self._auth, transports=transports, wait_timeout=10)
        except socketio.exceptions.ConnectionError as exc:
            self.tally.error(f"connect:{type(exc).__name__}")
            return False
        with self.tally.lock:
            self.tally.connections += 1
        return True

    def run(self) -> None:
        while not self.stop_event.is_set():
            if self.connect():
                self.stop_event.wait(self.rng.uniform(1.0, 6.0))
                with contextlib.suppress(Exception):
                    self.sio.disconnect()
            self.stop_event.wait(self.rng.uniform(0.0, 1.0))

    def settle(self, deadline: float) -> None:
        """Connect once more and wait until everything published for this user arrived."""
        if not self.connect():
            return
        while time.monotonic() < deadline:
            with self.tally.lock:
                if len(self.tally.received[self.user]) >= len(self.tally.published[self.user]):
                    break
            time.sleep(0.1)
        time.sleep(0.5)  # and see that nothing more (a duplicate) arrives
        with contextlib.suppress(Exception):
            self.sio.disconnect()


def _code(data: object) -> str:
    if isinstance(data, dict):
        return str((data.get("data") or {}).get("code") or data.get("message"))
    return str(data)


def publish_loop(url: str, secret: str, users: list[str], rate: float, tally: Tally,
                 stop: threading.Event, rng: random.Random) -> None:
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + mint_token(
        secret, "soak-publisher", scopes=[PUBLISH_SCOPE], ttl=24 * 3600)
    n = 0
    while not stop.is_set():
        user = rng.choice(users)
        key = f"soak-{os.getpid()}-{n}"
        while True:  # the same key until stored: a retry can never duplicate
            try:
                response = session.post(url + "/api/notifications", timeout=10,
                                         json={"user": user, "title": f"soak {n}"},
                                         headers={"Idempotency-Key": key})
                if response.status_code == 201:
                    with tally.lock:
                        tally.published[user].append(response.json()["id"])
                    break
                tally.error(f"publish:{response.status_code}")
            except requests.RequestException as exc:
                tally.error(f"publish:{type(exc).__name__}")
            time.sleep(0.2)
        n += 1
        time.sleep(rng.expovariate(rate))


def open_idle(url: str, count: int, tally: Tally) -> list:
    """Anonymous WebSockets that never identify (the server must cut them off)."""
    import websocket

    sockets = []
    for _ in range(count):
        try:
            ws = websocket.create_connection(
                url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
                timeout=10)
            ws.recv()
            ws.send("40")
            sockets.append(ws)
        except (OSError, websocket.WebSocketException) as exc:
            tally.error(f"idle_open:{type(exc).__name__}")
    return sockets


def still_open(sockets: list) -> int:
    import websocket

    alive = 0
    for ws in sockets:
        ws.settimeout(0.01)
        try:
            while ws.recv() not in ("", None):
                pass
        except websocket.WebSocketTimeoutException:
            alive += 1
        except (OSError, websocket.WebSocketException):
            pass
        with contextlib.suppress(Exception):
            ws.close()
    return alive


# -- the report ----------------------------------------------------------------------------

def trend(samples: list[tuple[float, int, int]], warm_after: float) -> dict:
    """First warm sample, last sample, and least-squares slope per minute, fds and RSS."""
    warm = [s for s in samples if s[0] >= warm_after] or samples
    if not warm:
        return {}
    result = {}
    for index, name in ((1, "fds"), (2, "rss_kib")):
        xs, ys = [s[0] for s in warm], [s[index] for s in warm]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mean_x) ** 2 for x in xs)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var \
            if var else 0.0
        result[name] = {"first_warm": ys[0], "last": ys[-1], "max": max(ys),
                        "slope_per_min": round(slope * 60, 2)}
    return result


def summarize(tally: Tally, servers: list[Server], warm_after: float, idle: tuple[int, int],
              duration: float) -> dict:
    lost = duplicated = 0
    examples = []
    for user, ids in tally.published.items():
        got = collections.Counter(tally.received.get(user, []))
        missing = [i for i in ids if got[i] == 0]
        lost += len(missing)
        duplicated += sum(n - 1 for n in got.values() if n > 1)
        if missing or len(got) != sum(got.values()):
            examples.append({"user": user, "missing": missing[:5], "published": ids[-10:],
                             "received": tally.received.get(user, [])[-10:]})
    return {
        "duration_s": round(duration, 1),
        "connections": tally.connections,
        "published": sum(map(len, tally.published.values())),
        "received": sum(map(len, tally.received.values())),
        "lost": lost,
        "duplicated": duplicated,
        "errors": dict(sorted(tally.errors.items())),
        "examples": examples[:5],
        "idle_opened": idle[0],
        "idle_still_open": idle[1],
        "servers": {s.command: {**trend(s.samples, warm_after), "tracebacks": s.tracebacks()}
                    for s in servers},
    }


def print_report(report: dict) -> None:
    print(f"soak: {report['duration_s']} s, {report['connections']} connections, "
          f"{report['published']} published, {report['received']} received, "
          f"lost {report['lost']}, duplicated {report['duplicated']}")
    print(f"idle anonymous sockets: {report['idle_opened']} opened, "
          f"{report['idle_still_open']} still open at the end")
    print("errors: " + (", ".join(f"{k}={v}" for k, v in report["errors"].items()) or "none"))
    for example in report["examples"]:
        print(f"  {example}")
    for name, stats in report["servers"].items():
        parts = [f"{key} {v['first_warm']} -> {v['last']} (max {v['max']}, "
                 f"{v['slope_per_min']:+}/min)" for key, v in stats.items() if key != "tracebacks"]
        print(f"{name}: " + "; ".join(parts) + f"; tracebacks {stats['tracebacks']}")


# -- main ----------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--clients", type=int, default=40, help="users, one socket each")
    parser.add_argument("--rate", type=float, default=20, help="publishes per second")
    parser.add_argument("--idle", type=int, default=0,
                        help="anonymous WebSockets that never identify")
    parser.add_argument("--gateway", help="use this gateway instead of starting servers")
    parser.add_argument("--secret", default=os.environ.get("JWT_SECRET"),
                        help="JWT_SECRET of a given gateway's services")
    parser.add_argument("--auth-timeout", type=float, default=5,
                        help="AUTH_TIMEOUT of the servers started here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.gateway and not args.secret:
        parser.error("--gateway needs --secret (or JWT_SECRET) to mint tokens")
    return args


def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    secret = args.secret if args.gateway else secrets.token_urlsafe(48)
    servers = [] if args.gateway else start_servers(workdir, secret, args.auth_timeout)
    url = args.gateway or servers[1].url
    tally, stop = Tally(), threading.Event()
    users = [f"soak-{args.seed}-{n}" for n in range(args.clients)]
    started = time.monotonic()
    clients = [Client(url, u, secret, tally, stop, random.Random(rng.random())) for u in users]
    try:
        idle = open_idle(url, args.idle, tally)
        for client in clients:
            client.start()
        publisher = threading.Thread(target=publish_loop, daemon=True, args=(
            url, secret, users, args.rate, tally, stop, random.Random(rng.random())))
        publisher.start()
        while (elapsed := time.monotonic() - started) < args.duration:
            for server in servers:
                server.sample(elapsed)
            time.sleep(1.0)
        stop.set()
        publisher.join(30)
        for client in clients:
            client.join(30)
        deadline = time.monotonic() + 30
        for client in clients:
            client.settle(deadline)
        idle_left = still_open(idle)
    finally:
        stop.set()
        codes = [server.stop() for server in servers]
    report = summarize(tally, servers, min(args.duration * 0.25, 15), (len(idle), idle_left),
                       time.monotonic() - started)
    report["exit_codes"] = codes
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(json.dumps(report, indent=2)) if args.json else print_report(report)
    return 1 if report["lost"] or report["duplicated"] else 0


if __name__ == "__main__":
    sys.exit(main())
