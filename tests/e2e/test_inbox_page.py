"""The live-inbox page served by the gateway, driven in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

from tests.support import ROOT


def test_page_shows_a_notification_live_and_marks_it_read(gateway, token, user, tmp_path):
    if not shutil.which("chromium") or not (ROOT / "node_modules" / "playwright-core").is_dir():
        pytest.fail("chromium (apt) and `npm ci` are required (.ci/run installs them)",
                    pytrace=False)
    screenshot = tmp_path / "inbox.png"
    options = {"url": gateway.url, "token": token(user), "user": user,
               "publisherToken": token("svc", scopes=["notifications:publish"]),
               "screenshot": str(screenshot)}
    run = subprocess.run(["node", str(ROOT / "tests/js/inbox_page.mjs"), json.dumps(options)],
                         cwd=ROOT, capture_output=True, text=True, timeout=90)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, (result, run.stderr)
    assert result["title"] == "Live inbox"
    assert result["status"] == "connected"
    assert result["itemText"] == "Shown live"
    assert (result["unreadBefore"], result["unreadAfter"]) == ("1", "0")
    assert result["consoleErrors"] == []
    assert screenshot.stat().st_size > 0
    stored = requests.get(gateway.url + "/api/notifications",
                          headers={"Authorization": f"Bearer {token(user)}"}, timeout=10).json()
    assert stored["notifications"][0]["read"] is True
