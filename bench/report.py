"""Aggregate the runs into ``latest.json``, ``SUMMARY.md`` and one PNG per scenario."""

from __future__ import annotations

import json
import platform
import re
import statistics
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.servers import TARGETS

# scenario prefix -> (primary metric, unit, higher is better, title)
INFO = {
    "ws_roundtrip": ("throughput", "round trips/s", True,
                     "WebSocket round trips (mark_read + ack), many sockets"),
    "ws_latency": ("p99_ms", "ms (p99)", False, "WebSocket round-trip latency, one socket"),
    "handshake_websocket": ("throughput", "connects/s", True,
                            "Authenticated connects, websocket transport"),
    "handshake_polling": ("throughput", "connects/s", True,
                          "Authenticated connects, polling + upgrade"),
    "rest_get": ("throughput", "requests/s", True, "GET /api/notifications"),
    "rest_post": ("throughput", "requests/s", True, "POST /api/notifications (one user)"),
    "fanout": ("seconds", "s until the last socket has it", False,
               "Fan-out, one notification per user"),
    "capacity": ("kb_per_conn", "KB RSS per connection (proxy + notify)", False,
                 "Idle authenticated sockets held"),
}
SHOWN = ("throughput", "seconds", "p50_ms", "p99_ms", "cpu_proxy_ms", "cpu_notify_ms",
         "generator_cores", "errors", "kb_per_conn", "notify_kb_per_conn",
         "proxy_kb_per_conn", "proxy_fds", "notify_fds", "missing")


def info(scenario: str) -> tuple[str, str, bool, str]:
    return INFO.get(scenario) or INFO[scenario.rsplit("_", 1)[0]]


def stats(values: list[Any]) -> dict | None:
    numbers = [v for v in values if isinstance(v, (int, float))]
    if not numbers:
        return None
    return {"median": statistics.median(numbers), "min": min(numbers), "max": max(numbers),
            "runs": numbers}


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def aggregate(runs: dict[str, dict[str, list[dict]]]) -> dict:
    scenarios = {}
    for scenario, by_target in runs.items():
        primary, unit, higher, title = info(scenario)
        keys = sorted({k for rs in by_target.values() for r in rs for k in r})
        metrics = {key: {t: stats([r.get(key) for r in by_target.get(t, [])])
                         for t in TARGETS} for key in keys}
        median = {t: (metrics[primary][t] or {}).get("median") for t in TARGETS}
        cpu = {t: (metrics.get("cpu_proxy_ms", {}).get(t) or {}).get("median") for t in TARGETS}
        scenarios[scenario] = {
            "title": title, "primary": primary, "unit": unit, "higher_is_better": higher,
            **median,
            "ratios": {"gateway/direct": ratio(median["gateway"], median["direct"]),
                       "gateway/nginx": ratio(median["gateway"], median["nginx"]),
                       "cpu_per_op gateway/nginx": ratio(cpu["gateway"], cpu["nginx"])},
            "metrics": metrics,
        }
    return scenarios


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    import os

    return {"nproc": os.cpu_count(), "cpu_model": model.group(1) if model else None,
            "kernel": platform.release(), "python": platform.python_version(),
            "eventlet": version("eventlet"), "flask_socketio": version("Flask-SocketIO"),
            "aiohttp": version("aiohttp"), "uvloop": version("uvloop"),
            "nginx": nginx.split("/")[-1], "wrk": wrk.strip()}


def write(out: Path, runs: dict, settings: Any, seconds: float, notes: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    result = {"mode": settings.mode, "settings": vars(settings), "seconds": seconds,
              "machine": machine(), "notes": notes, "scenarios": aggregate(runs)}
    (out / "latest.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    plots = plot(out, result["scenarios"])
    (out / "SUMMARY.md").write_text(markdown(result, plots))
    return result


def render(out: Path, notes: dict) -> None:
    """Rewrite ``SUMMARY.md`` and the plots from ``latest.json`` with new ``notes``."""
    result = json.loads((out / "latest.json").read_text())
    result["notes"] = notes
    (out / "latest.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    (out / "SUMMARY.md").write_text(markdown(result, plot(out, result["scenarios"])))


def plot(out: Path, scenarios: dict) -> dict[str, str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    made = {}
    colors = {"direct": "#7a7a7a", "gateway": "#2b6cb0", "nginx": "#2f855a"}
    for name, sc in scenarios.items():
        panels = [(sc["primary"], sc["unit"])]
        if sc["metrics"].get("cpu_proxy_ms", {}).get("gateway"):
            panels.append(("cpu_proxy_ms", "proxy CPU ms per op"))
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2))
        axes = axes if len(panels) > 1 else [axes]
        for ax, (metric, label) in zip(axes, panels, strict=True):
            values = sc["metrics"].get(metric, {})
            shown = [t for t in TARGETS if values.get(t)]
            med = [values[t]["median"] for t in shown]
            err = [[values[t]["median"] - values[t]["min"] for t in shown],
                   [values[t]["max"] - values[t]["median"] for t in shown]]
            ax.bar(shown, med, yerr=err, capsize=4, color=[colors[t] for t in shown])
            ax.set_ylabel(label)
            ax.grid(axis="y", alpha=0.3)
        fig.suptitle(sc["title"], fontsize=10)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made[name] = path.name
    return made


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def markdown(result: dict, plots: dict[str, str]) -> str:
    m = result["machine"]
    lines = [f"# Benchmark: direct vs gateway vs nginx ({result['mode']} run)", "",
             f"Run took {result['seconds']:.0f} s. Machine: {m['nproc']} cores, "
             f"{m['cpu_model']}, Linux {m['kernel']}, Python {m['python']}, "
             f"eventlet {m['eventlet']}, Flask-SocketIO {m['flask_socketio']}, "
             f"nginx {m['nginx']}, {m['wrk']}, generator aiohttp {m['aiohttp']} "
             f"+ uvloop {m['uvloop']}.", "",
             "Each figure is the median of the repetitions, with [min–max]; the three "
             "targets ran interleaved in rotating order. CPU per op is the process's "
             "utime+stime from /proc divided by the operations in the same window.", ""]
    for name, sc in result["scenarios"].items():
        lines += _section(name, sc, plots.get(name))
    lines += ["## Was the load generator the bottleneck?", "", generator_check(
        result["scenarios"]), ""]
    for title, text in result.get("notes", {}).items():
        lines += [f"## {title}", "", text.strip(), ""]
    return "\n".join(lines)


def _section(name: str, sc: dict, png: str | None) -> list[str]:
    r = sc["ratios"]
    lines = [f"## {name}: {sc['title']}", "",
             f"Primary: **{sc['primary']}** ({sc['unit']}). gateway/direct "
             f"**{_fmt(r['gateway/direct'])}**, gateway/nginx **{_fmt(r['gateway/nginx'])}**, "
             f"CPU per op gateway/nginx **{_fmt(r['cpu_per_op gateway/nginx'])}**.", "",
             "| metric | direct | gateway | nginx |", "|---|---|---|---|"]
    for key in SHOWN:
        values = sc["metrics"].get(key)
        if not values or not any(values.values()):
            continue
        cells = []
        for t in TARGETS:
            v = values.get(t)
            cells.append("–" if not v else f"{_fmt(v['median'])} [{_fmt(v['min'])}–"
                         f"{_fmt(v['max'])}]")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines.append("")
    if png:
        lines += [f"![{name}]({png})", ""]
    return lines


def generator_check(scenarios: dict) -> str:
    """Was the load generator the limit? Direct must beat both proxies, and the generator
    must have had CPU to spare (under 0.9 of a core per process)."""
    lines = ["| scenario | direct ≥ both proxies | generator cores (max of runs) |",
             "|---|---|---|"]
    for name, sc in scenarios.items():
        if sc["primary"] != "throughput":
            continue
        direct, gateway, nginx = sc["direct"], sc["gateway"], sc["nginx"]
        ok = direct is not None and direct >= max(gateway or 0, nginx or 0) * 0.98
        cores = sc["metrics"].get("generator_cores", {})
        peak = max((v["max"] for v in cores.values() if v), default=None)
        lines.append(f"| {name} | {'yes' if ok else 'NO'} | {_fmt(peak)} |")
    return "\n".join(lines)
