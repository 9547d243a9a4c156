"""Scenarios 1 and 4: request-ack round trips over WebSocket, and handshakes.

The round trip is ``mark_read`` with ``{"ids": []}``: notify answers ``{"ok": true,
"unread": n}`` after one ``COUNT`` query and also emits ``unread_count`` to the user's
room, so every round trip is one frame up and two down, plus notify's database read.
"""

from __future__ import annotations

from bench.measure import Context, cpu_metrics, total


def roundtrips(ctx: Context) -> None:
    """Many sockets, each doing round trips back to back: throughput and latency."""
    s = ctx.settings
    tokens = [ctx.token(f"rt{i}") for i in range(s.roundtrip_sockets)]
    for rep in range(s.reps):
        for target in ctx.order(rep):
            _round(ctx, "ws_roundtrip", target, tokens, s.roundtrip_seconds)


def latency(ctx: Context) -> None:
    """One socket, one round trip at a time: the latency each proxy adds when not loaded."""
    s = ctx.settings
    tokens = [ctx.token("lat0")]
    for rep in range(s.reps):
        for target in ctx.order(rep):
            _round(ctx, "ws_latency", target, tokens, s.latency_seconds)


def _round(ctx: Context, scenario: str, target: str, tokens: list[str], seconds: float
           ) -> None:
    gens = ctx.generators
    url = ctx.stack.urls[target]
    connected = gens.call("connect", url=url, tokens=tokens)
    if total(connected, "connected") != len(tokens):
        raise RuntimeError(f"{scenario} {target}: connect failed: {connected}")
    try:
        gens.call("roundtrips", duration=ctx.settings.warmup_seconds)
        results, cpu, wall = ctx.measured(lambda: gens.call("roundtrips", duration=seconds))
    finally:
        gens.call("close")
    count = total(results, "count")
    first = results[0]
    ctx.add(scenario, target, {
        "throughput": count / wall, "count": count, "errors": total(results, "errors"),
        "p50_ms": first["p50_ms"], "p99_ms": first["p99_ms"], "mean_ms": first["mean_ms"],
        **cpu_metrics(target, cpu, wall, count)})


def handshakes(ctx: Context) -> None:
    """Authenticated connects per second: websocket transport, and polling + upgrade."""
    s = ctx.settings
    tokens = [ctx.token(f"hs{i}") for i in range(50)]
    for mode in ("websocket", "polling"):
        for rep in range(s.reps):
            for target in ctx.order(rep):
                _handshakes(ctx, mode, target, tokens)


def _handshakes(ctx: Context, mode: str, target: str, tokens: list[str]) -> None:
    s = ctx.settings
    gens = ctx.generators

    def run() -> list[dict]:
        return gens.call("handshakes", url=ctx.stack.urls[target], tokens=tokens, mode=mode,
                         duration=s.handshake_seconds, concurrency=s.handshake_concurrency)

    results, cpu, wall = ctx.measured(run)
    count = total(results, "count")
    first = results[0]
    ctx.add(f"handshake_{mode}", target, {
        "throughput": count / wall, "count": count, "errors": total(results, "errors"),
        "error_samples": first["error_samples"], "p50_ms": first["p50_ms"],
        "p99_ms": first["p99_ms"], **cpu_metrics(target, cpu, wall, count)})
