"""Benchmark the gateway against nginx and a direct connection, on this machine.

    python -m bench            # the full run: results into bench/results/
    python -m bench --short    # under 3 minutes: results into bench/results/tmp/short/
    python -m bench --smoke    # seconds, the test suite's smoke test (--out required)
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path

from bench import report
from bench.loadgen import Generators
from bench.measure import MODES, Context
from bench.scenarios import fanout, rest, websocket
from bench.servers import Stack

HERE = Path(__file__).resolve().parent
SCENARIOS = {
    "ws_roundtrip": websocket.roundtrips,
    "ws_latency": websocket.latency,
    "handshakes": websocket.handshakes,
    "rest": rest.run,
    "fanout": fanout.run,  # also measures capacity
}
NOTES = HERE / "NOTES.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--short", action="store_const", dest="mode", const="short")
    size.add_argument("--smoke", action="store_const", dest="mode", const="smoke")
    parser.set_defaults(mode="full")
    parser.add_argument("--out", type=Path, help="results directory")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS),
                        help="run only these scenarios (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite SUMMARY.md from latest.json and NOTES.md")
    return parser.parse_args(argv)


def default_out(mode: str) -> Path:
    return HERE / "results" if mode == "full" else HERE / "results" / "tmp" / mode


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = MODES[args.mode]
    out = args.out or default_out(args.mode)
    if args.render:
        report.render(out, _notes())
        return 0
    ctx = Context(settings)
    # SIGTERM unwinds like Ctrl-C, so the servers and generators are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    print(f"bench: {settings.mode} run, work files in {ctx.workdir}", flush=True)
    ctx.stack = Stack(ctx.workdir / "main").start()
    ctx.generators = Generators(1)
    try:
        for name, scenario in SCENARIOS.items():
            if args.only and name not in args.only:
                continue
            began = time.monotonic()
            scenario(ctx)
            print(f"bench: {name} done in {time.monotonic() - began:.0f} s", flush=True)
    finally:
        ctx.generators.stop()
        ctx.stack.stop()
    notes = _notes() if settings.mode == "full" else {}
    result = report.write(out, ctx.runs, settings, time.monotonic() - started, notes)
    for name, sc in result["scenarios"].items():
        r = sc["ratios"]
        print(f"{name:22} direct={report._fmt(sc['direct'])} gateway={report._fmt(sc['gateway'])}"
              f" nginx={report._fmt(sc['nginx'])} {sc['unit']}; gw/direct="
              f"{report._fmt(r['gateway/direct'])} gw/nginx={report._fmt(r['gateway/nginx'])}"
              f" cpu gw/nginx={report._fmt(r['cpu_per_op gateway/nginx'])}")
    print(f"bench: results in {out}")
    if not args.keep:
        shutil.rmtree(ctx.workdir, ignore_errors=True)
    return 0


def _notes() -> dict[str, str]:
    """Hand-written sections of SUMMARY.md (profiles, changes, before/after): ``## `` titles."""
    if not NOTES.exists():
        return {}
    sections: dict[str, str] = {}
    title = None
    for line in NOTES.read_text().splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            sections[title] = ""
        elif title is not None:
            sections[title] += line + "\n"
    return sections


if __name__ == "__main__":
    sys.exit(main())
