"""Shared by the deployment tests: the shipped files, the tools, and a live daemon to scrape."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from monitor.daemon import Daemon
from monitor.settings import load_config
from tests.acceptance.test_daemon import make_config, write_stream

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "config" / "dashboards"
DEPLOY = ROOT / "config" / "deploy"
RULES = DASHBOARDS / "brandpulse-rules.yml"
DASHBOARD = DASHBOARDS / "brandpulse.json"

# Grafana's variables, replaced by what they expand to so the expressions are plain PromQL.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "${brand}": ".*", "$brand": ".*"}
METRIC_NAME = re.compile(r"\bbrandpulse_[a-z0-9_]+\b")

SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "gauge": ("",), "info": ("_info",), "summary": ("", "_count", "_sum", "_created")}


def tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(f"{name} not found: `make test` installs Debian's prometheus package")
    return path


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana's variables expanded) for every target of every panel."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            out.append((panel["title"], expr))
    return out


def exposed_names(exposition: str) -> set[str]:
    """Every sample name a scrape can contain, from its families (including those with no
    samples yet, e.g. a counter no event has touched): counter ``x`` -> ``x_total``..."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
        names |= {s.name for s in family.samples}
    return names


@pytest.fixture
def live_daemon(tmp_path: Path, sqlite_url: str, http_server) -> Iterator[tuple[Daemon, str]]:
    """A started daemon (port 0) after one full round: a negative burst for acme stored, a dead RSS
    source, a crisis alert delivered to two webhook contacts and acknowledged by one of them."""
    write_stream(tmp_path / "stream.jsonl", datetime.now(UTC))
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=503)
    config = load_config(make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml")))
    daemon = Daemon(config, registry=CollectorRegistry(), listen="127.0.0.1:0")
    daemon.run_once()
    [alert_id] = [a.id for a in _open_alerts(daemon)]
    daemon.alert_engine.acknowledge(alert_id, by="li-si", note="on it")
    daemon.start()
    host, port = daemon.address
    yield daemon, f"http://{host}:{port}"
    daemon.stop()


def _open_alerts(daemon: Daemon) -> list[Any]:
    from alerts import records

    with daemon.engine.connect() as conn:
        return records.list_alerts(conn, open_only=True)


def scrape(base: str) -> str:
    resp = httpx.get(f"{base}/metrics", timeout=10)
    resp.raise_for_status()
    return resp.text
