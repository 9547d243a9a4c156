"""A short soak (15 s) through the gateway: nothing lost, nothing duplicated, servers flat."""

from __future__ import annotations

import pytest

from tools import soak

pytestmark = pytest.mark.timeout(180)


def test_short_soak():
    args = soak.parse_args(["--duration", "15", "--clients", "16", "--rate", "15",
                            "--idle", "100", "--auth-timeout", "3"])
    report = soak.run(args)
    soak.print_report(report)
    assert report["published"] > 50
    assert report["received"] >= report["published"]
    assert (report["lost"], report["duplicated"]) == (0, 0), report["examples"]
    assert report["connections"] > 16  # clients really came and went
    assert report["idle_still_open"] == 0
    assert not {k for k in report["errors"] if not k.startswith("connect")}, report["errors"]
    assert report["exit_codes"] == [0, 0]
    for name, stats in report["servers"].items():
        assert stats["tracebacks"] == 0, name
        # Flat once warm: descriptors track the clients connected at the time (they come
        # and go), never a steady climb.
        assert stats["fds"]["last"] <= stats["fds"]["first_warm"] + 60, (name, stats)
