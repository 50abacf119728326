"""The round trip through a real Prometheus (Debian's /usr/bin/prometheus): it scrapes a running
daemon every second, answers BrandPulse series through its HTTP API with the daemon's own
values, evaluates the shipped rules, and runs every dashboard query without an error."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.acceptance.harness import wait_until
from tests.deploy.conftest import RULES, dashboard_exprs, tool

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """One Prometheus server on 127.0.0.1 with a temporary config and TSDB."""

    def __init__(self, workdir: Path, target: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(RULES)],
                  "scrape_configs": [{"job_name": "brandpulse", "static_configs": [{"targets": [target]}]}]}
        self.config = workdir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log = workdir / "prometheus.log"
        self.args = [tool("prometheus"), f"--config.file={self.config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT)
        wait_until(self._ready, 60, "Prometheus to be ready")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, path: str, **params: Any) -> Any:
        resp = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = resp.json()
        assert resp.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] in ("vector", "scalar"), data
        return data["result"] if data["resultType"] == "vector" else [{"metric": {}, "value": data["result"]}]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def prometheus(live_daemon, tmp_path: Path) -> Iterator[tuple[Prometheus, Any]]:
    daemon, base = live_daemon
    prom = Prometheus(tmp_path, base.removeprefix("http://")).start()
    try:
        yield prom, daemon
    finally:
        prom.stop()


def test_prometheus_reads_back_what_the_daemon_counted(prometheus) -> None:
    prom, daemon = prometheus
    labels = {"brand": "acme", "source": "export", "sentiment": "negative"}
    expected = daemon.registry.get_sample_value("brandpulse_mentions_ingested_total", labels)
    assert expected and expected >= 40
    selector = 'brandpulse_mentions_ingested_total{brand="acme", source="export", sentiment="negative"}'
    [sample] = wait_until(lambda: prom.query(selector), 30, "the first scrape of the daemon")
    assert sample["metric"]["job"] == "brandpulse" and sample["metric"]["__name__"] == \
        "brandpulse_mentions_ingested_total"
    assert float(sample["value"][1]) == expected

    # store-derived gauges at scrape time, and the ack the fixture made
    [open_alert] = prom.query('brandpulse_alerts_open{brand="acme"}')
    assert (open_alert["metric"]["level"], open_alert["metric"]["state"], open_alert["value"][1]) == \
        ("crisis", "acknowledged", "1")
    [acks] = prom.query('brandpulse_alert_time_to_ack_seconds_count{level="crisis", drill="false"}')
    assert acks["value"][1] == "1"
    [up] = prom.query('up{job="brandpulse"}')
    assert up["value"][1] == "1"


def test_the_shipped_rules_evaluate_against_the_live_daemon(prometheus) -> None:
    prom, daemon = prometheus

    def evaluated() -> list[dict[str, Any]] | None:
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        return rules if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules) else None

    rules = wait_until(evaluated, 30, "every rule evaluated once")
    assert len(rules) == 17
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]

    # recording rules hold the daemon's numbers
    [interval] = wait_until(lambda: prom.query('brandpulse:source_poll_interval:seconds{source="export"}'), 30,
                            "the interval recording rule")
    assert interval["value"][1] == "60"
    [silence] = wait_until(lambda: prom.query('brandpulse:source_silence:seconds{source="export"}'), 30,
                           "the silence recording rule")
    assert 0 <= float(silence["value"][1]) < 120
    assert prom.query('brandpulse:source_silence:seconds{source="news"}') == []  # never succeeded

    # the dead feed never succeeded: that alert is pending (it fires after 30 minutes), nothing fires
    def news_pending() -> list[dict[str, Any]]:
        return [a for a in prom.api("alerts")["alerts"] if a["labels"]["alertname"] == "BrandPulseSourceNeverSucceeded"]

    [pending] = wait_until(news_pending, 30, "BrandPulseSourceNeverSucceeded pending for the dead feed")
    assert pending["state"] == "pending" and pending["labels"]["source"] == "news"
    assert pending["labels"]["severity"] == "warning"
    assert [a for a in prom.api("alerts")["alerts"] if a["state"] == "firing"] == []


def test_every_dashboard_query_runs_and_the_main_panels_have_data(prometheus) -> None:
    prom, _ = prometheus
    wait_until(lambda: prom.query("brandpulse_polls_total"), 30, "the first scrape")
    time.sleep(2.5)  # rate() needs two samples of every series
    empty = []
    for title, expr in dashboard_exprs():
        if not prom.query(expr):  # raises on any PromQL or evaluation error
            empty.append(title)
    print("dashboard panels without data after one round:", sorted(set(empty)))
    # with one round of real traffic behind it, only panels about events that did not happen may be empty
    allowed = {"Time to acknowledge (7 days, p50 and p90 by level)",  # one ack: quantiles of one observation exist
               "Muted or held (dashboard range)", "Oldest due notification not taken, and notifier latency",
               "Items not stored, by reason", "Alerts raised and resolved per hour", "Median sentiment score by brand",
               "Notifications given up (dashboard range)", "Poll errors by source and reason"}
    must_have = {"Mentions per minute by brand and sentiment", "Negative share by brand (1 h)",
                 "Open alerts by level", "Open alerts by brand, level and state",
                 "Time since last successful poll (lag)", "Source health", "Outbox backlog", "Replicas up",
                 "Versions and sentiment model"}
    assert not (set(empty) & must_have), f"panels without data: {sorted(set(empty) & must_have)}"
    assert set(empty) <= allowed, f"panels unexpectedly without data: {sorted(set(empty) - allowed)}"
