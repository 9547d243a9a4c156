"""Smoke test of the benchmark harness: the tiny ``--smoke`` run produces every scenario.

It asserts only that numbers came out, not how good they are: timing on a shared CI
machine is not a test.  Needs nginx and wrk (apt) like the real run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.bench

SCENARIOS = ("ws_roundtrip", "ws_latency", "handshake_websocket", "handshake_polling",
             "rest_get", "rest_post", "fanout_100", "capacity_100")


@pytest.mark.timeout(170)
def test_smoke_run_measures_every_scenario_three_ways(tmp_path):
    out = tmp_path / "results"
    result = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=160)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "latest.json").read_text())
    assert set(SCENARIOS) <= set(report["scenarios"])
    for name in SCENARIOS:
        scenario = report["scenarios"][name]
        for target in ("direct", "gateway", "nginx"):
            assert isinstance(scenario[target], (int, float)) and scenario[target] > 0, (
                name, target, scenario)
        assert scenario["ratios"]["gateway/direct"] is not None, name
        assert scenario["ratios"]["gateway/nginx"] is not None, name
        assert (out / f"{name}.png").exists()
    summary = (out / "SUMMARY.md").read_text()
    assert "gateway/nginx" in summary
    assert report["machine"]["nproc"] >= 1
