"""Scenario 3: ``GET`` and ``POST /api/notifications`` under concurrent load, with wrk.

wrk's Lua script sets the token and the body and prints its summary as one JSON line;
wrk's own CPU time comes from ``wait4`` (it has exited by then, so ``/proc`` is gone).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import requests

from bench.measure import Context, cpu_metrics

READER = "rest-reader"
INBOX_SIZE = 20  # the default page size: every GET returns a full page

LUA = """
wrk.method = "%(method)s"
wrk.headers["Authorization"] = "Bearer %(token)s"
%(body)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "mean_us": %%f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is required for the REST scenario: apt-get install wrk")
    return binary


def run(ctx: Context) -> None:
    reader = ctx.token(READER)
    publisher = ctx.token("bench-publisher", publisher=True)
    _seed(ctx, publisher)
    scripts = {
        "rest_get": _script(ctx, "GET", reader, None),
        "rest_post": _script(ctx, "POST", publisher, {
            "user": READER + "-post", "title": "Benchmark", "body": "A REST publish",
            "data": {"n": 1}}),
    }
    for scenario, (script, path) in scripts.items():
        for rep in range(ctx.settings.reps):
            for target in ctx.order(rep):
                _wrk(ctx, scenario, target, script, path)


def _seed(ctx: Context, publisher: str) -> None:
    response = requests.post(ctx.stack.urls["direct"] + "/api/notifications", json={
        "users": [READER] * INBOX_SIZE, "title": "Seed", "body": "x" * 100},
        headers={"Authorization": f"Bearer {publisher}"}, timeout=30)
    response.raise_for_status()


def _script(ctx: Context, method: str, token: str, body: dict | None) -> tuple[str, str]:
    lines = ""
    if body is not None:
        lines = (f"wrk.body = {json.dumps(json.dumps(body))}\n"
                 'wrk.headers["Content-Type"] = "application/json"')
    path = ctx.workdir / f"wrk-{method.lower()}.lua"
    path.write_text(LUA % {"method": method, "token": token, "body": lines})
    return str(path), "/api/notifications"


def _wrk(ctx: Context, scenario: str, target: str, script: str, path: str) -> None:
    s = ctx.settings
    cmd = [wrk_binary(), "-t1", f"-c{s.rest_connections}", f"-d{max(1, round(s.rest_seconds))}s",
           "--timeout", "10s", "-s", script, ctx.stack.urls[target] + path]
    usage: list = []

    def run() -> str:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.stdout.read().decode(errors="replace")
        _pid, _status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = 0  # reaped above
        usage.append(rusage.ru_utime + rusage.ru_stime)
        return output

    output, cpu, wall = ctx.measured(run)
    line = next((x for x in output.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    summary = json.loads(line[6:])
    cpu["generator"] += usage[0]
    count = summary["requests"]
    seconds = summary["duration_us"] / 1e6
    ctx.add(scenario, target, {
        "throughput": count / seconds, "count": count, "errors": summary["non2xx"]
        + summary["socket_errors"], "p50_ms": summary["p50_us"] / 1000,
        "p99_ms": summary["p99_us"] / 1000, "mean_ms": summary["mean_us"] / 1000,
        **cpu_metrics(target, cpu, wall, count)})
