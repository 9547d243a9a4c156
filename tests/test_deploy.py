"""The deploy files agree with the configuration they deploy."""

from __future__ import annotations

import json

from common.config import GatewayConfig, NotifyConfig
from tests.support import ROOT


def test_app_json_lists_every_setting_but_those_the_platform_sets():
    manifest = json.loads((ROOT / "app.json").read_text())
    settings = {name for cls in (NotifyConfig, GatewayConfig) for name, _, _ in cls.documented()}
    # PORT comes from the router, DATABASE_URL from the Heroku Postgres add-on.
    assert set(manifest["env"]) == settings - {"PORT", "DATABASE_URL"}
    assert manifest["env"]["JWT_SECRET"]["generator"] == "secret"
    assert {addon["plan"] for addon in manifest["addons"]} == {"heroku-postgresql",
                                                               "heroku-redis"}


def test_procfiles_run_the_documented_commands():
    single = (ROOT / "Procfile").read_text().splitlines()
    assert single == ["web: python wsgi.py gateway", "notify: python wsgi.py notify"]
    cluster = (ROOT / "Procfile.cluster").read_text()
    assert "NODE_ID=n1" in cluster and "NODE_ID=n2" in cluster
