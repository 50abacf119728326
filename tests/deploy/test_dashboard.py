"""config/dashboards/brandpulse.json: a Grafana dashboard whose every query is valid PromQL over
metrics the daemon really exposes, and which covers what the on-call and brand teams look at."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.deploy.conftest import DASHBOARD, METRIC_NAME, dashboard_exprs, exposed_names, scrape, tool


def test_dashboard_is_grafana_json_with_unique_ids_and_a_datasource_variable() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["uid"] == "brandpulse-overview" and board["title"] == "BrandPulse"
    assert isinstance(board["schemaVersion"], int) and board["panels"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["brand"]["query"]["query"] == "label_values(brandpulse_mentions_ingested_total, brand)"
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["description"], panel["title"]
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"]), panel["title"]


def test_dashboard_covers_what_issue_6_asks_for() -> None:
    exprs = " ".join(e for _, e in dashboard_exprs())
    titles = " ".join(p["title"].lower() for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"])
    for needle in ("brandpulse_mentions_ingested_total", 'sentiment="negative"', "brandpulse_alerts_open",
                   "brandpulse_alert_time_to_ack_seconds_bucket", "brandpulse_source_last_success_timestamp_seconds",
                   "brandpulse_source_consecutive_failures", 'brandpulse_notifications_total{result="failed"}',
                   "brandpulse_outbox_notifications", "brandpulse_outbox_oldest_due_timestamp_seconds"):
        assert needle in exprs, needle
    for words in ("by brand and sentiment", "negative share", "open alerts by level", "time to acknowledge",
                  "last successful poll", "given up", "outbox backlog"):
        assert words in titles, words


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """promtool has no bare PromQL parser, so each query becomes a recording rule for `check rules`."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}:check", "expr": expr} for i, (_, expr) in enumerate(dashboard_exprs())]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    out = subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(dashboard_exprs())} rules found" in out.stdout


def test_dashboard_names_only_metrics_the_daemon_exposes(live_daemon) -> None:
    _, base = live_daemon
    exposed = exposed_names(scrape(base))
    used = {name for _, expr in dashboard_exprs() for name in METRIC_NAME.findall(expr)}
    assert len(used) >= 15
    assert used <= exposed, f"dashboard queries metrics the daemon does not expose: {sorted(used - exposed)}"
