"""config/dashboards/brandpulse-rules.yml: valid for Prometheus, its alerts behave as the unit
tests say, and every metric it names is one the daemon exposes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy.conftest import METRIC_NAME, RULES, exposed_names, scrape, tool

UNIT_TESTS = Path(__file__).resolve().parent / "brandpulse-rules.test.yml"


def test_promtool_check_rules() -> None:
    out = subprocess.run([tool("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_promtool_unit_tests_of_the_alerts() -> None:
    out = subprocess.run([tool("promtool"), "test", "rules", str(UNIT_TESTS)], capture_output=True, text=True,
                         timeout=120, cwd=UNIT_TESTS.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    tested = {t["alertname"] for case in yaml.safe_load(UNIT_TESTS.read_text(encoding="utf-8"))["tests"]
              for t in case.get("alert_rule_test", [])}
    assert {"BrandPulseSourceSilent", "BrandPulseOutboxStuck", "BrandPulseModelNotLoaded",
            "BrandPulseNotificationsFailing"} <= tested


def test_every_alert_says_how_bad_and_where_the_runbook_is() -> None:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert len(alerts) >= 8
    for rule in alerts:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["annotations"]["runbook"].startswith("README.md#operating-brandpulse"), rule["alert"]


def test_rules_name_only_metrics_the_daemon_exposes(live_daemon) -> None:
    _, base = live_daemon
    exposed = exposed_names(scrape(base))
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    used = {name for g in groups for r in g["rules"] for name in METRIC_NAME.findall(r["expr"])}
    assert used, "no metric names found in the rules"
    assert used <= exposed, f"rules use metrics the daemon does not expose: {sorted(used - exposed)}"
