"""Scenarios 2 and 5: fan-out to N users, and the memory and descriptors N sockets hold.

Each round starts a fresh stack (so memory freed by an earlier round cannot hide what a
connection costs), connects N sockets of N users through the target, samples every
process's RSS and open descriptors, then publishes one notification per user through the
REST API of the same target (batches of up to 1,000 users, all sent at once) and waits for
the last socket's notification.  (``--short`` and ``--smoke`` keep one stack per size,
so only their first round's memory figures are from fresh processes.)

Past 8,000 sockets the gateway runs as two processes sharing the port (``--reuse-port``)
and nginx as two workers: a tunnel holds two descriptors and a process may have 20,000.
Each generator process holds at most 5,000 sockets.
"""

from __future__ import annotations

import asyncio
import math
import time

import aiohttp

from bench.loadgen import Generators
from bench.measure import Context, total
from bench.servers import Stack, sample

BATCH = 1000
PER_GENERATOR = 5000
PER_GATEWAY = 8000


def run(ctx: Context) -> None:
    for size in ctx.settings.fanout_sizes:
        gens = Generators(math.ceil(size / PER_GENERATOR))
        shared = None if ctx.settings.fresh_stacks else _stack(ctx, size)
        try:
            users = [f"fan{size}-{i}" for i in range(size)]
            for rep in range(ctx.settings.reps):
                for target in ctx.order(rep):
                    stack = shared or _stack(ctx, size)
                    try:
                        _round(ctx, stack, gens, size, users, target)
                    finally:
                        if shared is None:
                            stack.stop()
        finally:
            gens.stop()
            if shared is not None:
                shared.stop()


def _stack(ctx: Context, size: int) -> Stack:
    return Stack(ctx.workdir / f"fanout-{size}-{time.monotonic_ns()}",
                 gateways=math.ceil(size / PER_GATEWAY), secret=ctx.stack.secret).start()


def _round(ctx: Context, stack: Stack, gens: Generators, size: int, users: list[str],
           target: str) -> None:
    gateways = len(stack.processes["gateway"])
    try:
        url = stack.urls[target]
        tokens = [ctx.token(u) for u in users]
        shares = [tokens[i::len(gens.pids)] for i in range(len(gens.pids))]
        before = sample(stack, gens.pids)
        connected = gens.call("connect", [{"url": url, "tokens": share, "concurrency": 200}
                                          for share in shares])
        time.sleep(0.5)  # let every process settle after the connect storm
        held = sample(stack, gens.pids)
        sockets = total(connected, "connected")
        if sockets != size:  # recorded, not fatal: a long run keeps its other numbers
            print(f"bench: fanout {size} {target}: only {sockets} connected: "
                  f"{[c['errors'] for c in connected]}", flush=True)
        publisher = ctx.token("fanout-publisher", publisher=True)
        started = time.monotonic()
        published = asyncio.run(_publish(url, publisher, users))
        waited = gens.call("wait_notified", timeout=60)
        last = max(w["last"] for w in waited)
        notified = total(waited, "notified")
        done = sample(stack, gens.pids)
        seconds = last - started
        ctx.add(f"fanout_{size}", target, {
            "seconds": seconds, "throughput": notified / seconds if seconds > 0 else None,
            "delivered": notified, "missing": size - notified,
            "connect_failed": size - sockets,
            "publish_seconds": published, "connect_seconds": max(
                c["seconds"] for c in connected),
            "cpu_proxy_ms": _per(done, held, target, notified),
            "cpu_notify_ms": _per(done, held, "notify", notified)})
        ctx.add(f"capacity_{size}", target, _capacity(before, held, size, target, gateways))
    finally:
        gens.call("close")
        time.sleep(0.2)  # notify handles the disconnects


def _per(after: dict, before: dict, role: str, ops: int) -> float | None:
    if role == "direct" or not ops:
        return None
    return (after[role]["cpu"] - before[role]["cpu"]) / ops * 1000


def _capacity(before: dict, held: dict, size: int, target: str, gateways: int) -> dict:
    def per_conn(role: str, key: str) -> float:
        return (held[role][key] - before[role][key]) / size

    proxy = target if target != "direct" else None
    notify_kb = per_conn("notify", "rss_kb")
    proxy_kb = per_conn(proxy, "rss_kb") if proxy else 0.0
    return {
        "kb_per_conn": notify_kb + proxy_kb, "notify_kb_per_conn": notify_kb,
        "proxy_kb_per_conn": proxy_kb if proxy else None,
        "notify_rss_mb": held["notify"]["rss_kb"] / 1024,
        "proxy_rss_mb": held[proxy]["rss_kb"] / 1024 if proxy else None,
        "notify_fds": held["notify"]["fds"], "proxy_fds": held[proxy]["fds"] if proxy else None,
        "proxy_processes": gateways if proxy else 0,
        "generator_kb_per_conn": per_conn("generator", "rss_kb"),
    }


async def _publish(url: str, token: str, users: list[str]) -> float:
    """One notification per user, batches of 1,000 sent at once; seconds until all answered."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(trust_env=False) as session:

        async def batch(chunk: list[str]) -> None:
            async with session.post(url + "/api/notifications", headers=headers, json={
                    "users": chunk, "title": "Fan-out", "body": "One for each user"}) as r:
                if r.status != 201:
                    raise RuntimeError(f"publish answered {r.status}: {await r.text()}")
                await r.read()

        await asyncio.gather(*(batch(users[i:i + BATCH]) for i in range(0, len(users), BATCH)))
    return time.monotonic() - started
