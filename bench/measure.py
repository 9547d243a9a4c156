"""What every scenario shares: the run's settings, the results, and CPU accounting."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import Generators
from bench.servers import TARGETS, Stack, delta, sample
from common.auth import PUBLISH_SCOPE, mint_token


@dataclass(frozen=True)
class Settings:
    """Sizes and durations of one mode (``--smoke``, ``--short`` or the full run)."""

    mode: str
    reps: int
    roundtrip_sockets: int
    roundtrip_seconds: float
    latency_seconds: float
    handshake_seconds: float
    handshake_concurrency: int
    rest_seconds: float
    rest_connections: int
    fanout_sizes: tuple[int, ...]
    warmup_seconds: float = 0.5
    fresh_stacks: bool = False  # a new stack for every fan-out round (memory per connection)


MODES = {
    "smoke": Settings("smoke", reps=1, roundtrip_sockets=10, roundtrip_seconds=1,
                      latency_seconds=1, handshake_seconds=1, handshake_concurrency=4,
                      rest_seconds=1, rest_connections=8, fanout_sizes=(100,),
                      warmup_seconds=0.2),
    "short": Settings("short", reps=3, roundtrip_sockets=50, roundtrip_seconds=2,
                      latency_seconds=1, handshake_seconds=1.5, handshake_concurrency=10,
                      rest_seconds=2, rest_connections=32, fanout_sizes=(1000,)),
    "full": Settings("full", reps=3, roundtrip_sockets=50, roundtrip_seconds=10,
                     latency_seconds=5, handshake_seconds=5, handshake_concurrency=10,
                     rest_seconds=8, rest_connections=32, fanout_sizes=(1000, 5000, 10000),
                     warmup_seconds=1, fresh_stacks=True),
}


@dataclass
class Context:
    settings: Settings
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))
    stack: Stack | None = None
    generators: Generators | None = None
    # scenario -> target -> one dict of metrics per repetition
    runs: dict[str, dict[str, list[dict]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def token(self, user: str, publisher: bool = False) -> str:
        assert self.stack is not None
        return mint_token(self.stack.secret, user, ttl=6 * 3600,
                          scopes=[PUBLISH_SCOPE] if publisher else ())

    def add(self, scenario: str, target: str, metrics: dict) -> None:
        self.runs[scenario][target].append(metrics)

    def order(self, rep: int) -> list[str]:
        """Targets in a rotating order, so drift over the run hits each of them alike."""
        return [TARGETS[(rep + i) % len(TARGETS)] for i in range(len(TARGETS))]

    def measured(self, fn: Callable[[], Any], extra_pids: list[int] | None = None,
                 stack: Stack | None = None) -> tuple[Any, dict[str, float], float]:
        """Run ``fn``; return its result, CPU seconds per role and the wall time."""
        stack = stack or self.stack
        pids = (self.generators.pids if self.generators else []) + (extra_pids or [])
        before = sample(stack, pids)
        result = fn()
        after = sample(stack, pids)
        return result, delta(before, after, "cpu"), after["_time"]["wall"] - before["_time"][
            "wall"]


def cpu_metrics(target: str, cpu: dict[str, float], wall: float, ops: int) -> dict:
    """CPU per operation (ms) of the proxy in the path, notify and the generator, and how
    many cores each kept busy."""
    proxy = cpu.get(target) if target in ("gateway", "nginx") else None
    def per_op(seconds):
        return (seconds / ops * 1000 if ops and seconds is not None else None)
    return {
        "cpu_proxy_ms": per_op(proxy), "cpu_notify_ms": per_op(cpu["notify"]),
        "cpu_generator_ms": per_op(cpu["generator"]),
        "proxy_cores": proxy / wall if proxy is not None else None,
        "notify_cores": cpu["notify"] / wall, "generator_cores": cpu["generator"] / wall,
    }


def total(results: list[dict], key: str) -> float:
    return sum(r[key] for r in results)
