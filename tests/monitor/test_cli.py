"""The ``brandpulse`` command as a user runs it: a real subprocess, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.daemon import Daemon
from monitor.settings import load_config
from tests.acceptance.test_daemon import make_config, write_stream

DATA = Path(__file__).resolve().parent.parent / "data" / "config"


def brandpulse(*args: str, cwd: Path | None = None, timeout: float = 120,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUTF8": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def test_help_lists_commands_and_version() -> None:
    out = brandpulse("--help")
    assert out.returncode == 0
    for cmd in ("run", "demo", "check-config", "check-plan", "drill", "train", "alerts"):
        assert cmd in out.stdout
    version = brandpulse("--version")
    assert version.returncode == 0 and version.stdout.startswith("brandpulse ")


def test_check_config_good(tmp_path: Path) -> None:
    out = brandpulse("check-config", str(DATA / "config.good.yaml"))
    assert out.returncode == 0, out.stderr
    assert "ok (1 brands, 1 sources, 1 notifiers, 1 plan levels)" in out.stdout


@pytest.mark.parametrize("name,needle", [
    ("config.bad-source-kind.yaml", "sources[0].kind: unknown source kind 'twitter'"),
    ("config.bad-notifier.yaml", "notifiers[0].kind: unknown notifier kind 'carrier-pigeon'"),
    ("config.unknown-key.yaml", "storage.uri: unknown key"),
])
def test_check_config_bad_prints_one_line_each_and_exits_1(name: str, needle: str) -> None:
    out = brandpulse("check-config", str(DATA / name))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines and all(line.startswith("brandpulse: ") for line in lines), out.stderr
    assert any(needle in line for line in lines), out.stderr
    assert "Traceback" not in out.stderr


def test_check_config_shipped_files() -> None:
    root = Path(__file__).resolve().parent.parent.parent / "config"
    for name in ("demo.yaml", "brandpulse.example.yaml"):
        out = brandpulse("check-config", str(root / name), env={"BRANDPULSE_WEBHOOK_TOKEN": "t0ken"})
        assert out.returncode == 0, f"{name}: {out.stderr}"
    # the webhook's token comes from the environment: missing, it is named (never a value)
    out = brandpulse("check-config", str(root / "brandpulse.example.yaml"), env={"BRANDPULSE_WEBHOOK_TOKEN": ""})
    assert out.returncode == 1 and "BRANDPULSE_WEBHOOK_TOKEN" in out.stderr


def test_alerts_list_ack_resolve(tmp_path: Path, sqlite_url: str, http_server) -> None:
    write_stream(tmp_path / "stream.jsonl", datetime.now(UTC))
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=404)
    cfg_path = make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml"))
    daemon = Daemon(load_config(cfg_path), registry=CollectorRegistry())
    try:
        daemon.run_once()
    finally:
        daemon.stop()

    listed = brandpulse("alerts", "--config", str(cfg_path), "list")
    assert listed.returncode == 0, listed.stderr
    first = listed.stdout.splitlines()[0].split("\t")
    alert_id, state, brand = first[0], first[1], first[2]
    assert (state, brand) == ("firing", "acme")

    ack = brandpulse("alerts", "--config", str(cfg_path), "ack", alert_id, "--by", "张三", "--note", "on it")
    assert ack.returncode == 0, ack.stderr
    assert "acknowledged by 张三" in ack.stdout
    again = brandpulse("alerts", "--config", str(cfg_path), "resolve", alert_id, "--by", "张三")
    assert again.returncode == 0, again.stderr
    twice = brandpulse("alerts", "--config", str(cfg_path), "ack", alert_id, "--by", "李四")
    assert twice.returncode == 1 and "resolved" in twice.stderr and len(twice.stderr.strip().splitlines()) == 1
    show = brandpulse("alerts", "--config", str(cfg_path), "show", alert_id)
    assert show.returncode == 0
    assert "张三" in show.stdout and "on it" in show.stdout
    missing = brandpulse("alerts", "--config", str(cfg_path), "show", "9999")
    assert missing.returncode == 1 and "9999" in missing.stderr


# --- check-plan, drill, alerts kpi ----------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent.parent
PLANS = Path(__file__).resolve().parent.parent / "data" / "plans"


def test_check_plan_alone_and_against_a_config(tmp_path: Path) -> None:
    example = str(ROOT / "config" / "crisis_plan.example.yaml")
    out = brandpulse("check-plan", example)
    assert out.returncode == 0, out.stderr
    assert "ok (4 levels, 4 contacts, 1 silences, 1 maintenance windows)" in out.stdout
    assert "not checked (pass --config)" in out.stdout
    # demo.yaml has only a console notifier: the example plan's ops-webhook channel is unknown there
    out = brandpulse("check-plan", example, "--config", str(ROOT / "config" / "demo.yaml"))
    assert out.returncode == 1
    assert "contacts[0].channels[1]: unknown notifier 'ops-webhook' (known: console)" in out.stderr

    bad = brandpulse("check-plan", str(PLANS / "plan.bad-mute.yaml"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert all(line.startswith("brandpulse: ") and "plan.bad-mute.yaml: " in line for line in lines), lines
    for needle in ("levels[0].notify[1]: unknown contact 'wang-wu'", "silences[0].level: unknown level 'panic'",
                   "silences[0]: ends (2026-04-01T00:00:00+08:00) must be after starts",
                   "maintenance[0].days: unknown day 'caturday'"):
        assert sum(needle in line for line in lines) == 1, (needle, lines)
    assert not any("wecom-ops" in line for line in lines)  # no --config: any channel is accepted
    missing = brandpulse("check-plan", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "cannot read crisis plan" in missing.stderr


@pytest.mark.slow  # several real subprocesses
def test_drill_goes_through_real_channels_and_reports_time_to_ack(tmp_path: Path, sqlite_url: str,
                                                                  http_server) -> None:
    write_stream(tmp_path / "stream.jsonl", datetime.now(UTC))
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=404)
    cfg = str(make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml")))

    unknown = brandpulse("drill", "--config", cfg, "--brand", "acme", "--level", "apocalypse")
    assert unknown.returncode == 1 and "unknown level 'apocalypse' (known: warning, crisis)" in unknown.stderr
    drill = brandpulse("drill", "--config", cfg, "--brand", "acme", "--level", "crisis", "--by", "张三",
                       "--note", "Q1 产品召回演练")
    assert drill.returncode == 0, drill.stderr
    alert_id = drill.stdout.strip()
    assert alert_id.isdigit() and f"alerts ack {alert_id}" in drill.stderr
    calls = http_server.requests_to("/hook")
    assert sorted(c.json()["contact"] for c in calls) == ["li-si", "zhang-san"]
    assert all(c.json()["drill"] is True and c.json()["subject"].startswith("[演练]") for c in calls)

    listed = brandpulse("alerts", "--config", cfg, "list")
    assert listed.stdout.startswith(f"{alert_id}\tfiring\tacme\tcrisis")
    ack = brandpulse("alerts", "--config", cfg, "ack", alert_id, "--by", "李四")
    assert ack.returncode == 0, ack.stderr

    real = brandpulse("alerts", "--config", cfg, "kpi", "--since", "90d", "--json")
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout)["incidents"] == 0  # a drill is not a real incident
    report = brandpulse("alerts", "--config", cfg, "kpi", "--since", "1d", "--drills", "--json")
    kpis = json.loads(report.stdout)
    assert kpis["drills"] == "only" and kpis["incidents"] == 1 and kpis["time_to_ack"]["count"] == 1
    text = brandpulse("alerts", "--config", cfg, "kpi", "--drills")
    assert text.returncode == 0 and "incidents: 1 (crisis 1)" in text.stdout
    assert "time to acknowledge: median" in text.stdout
    bad = brandpulse("alerts", "--config", cfg, "kpi", "--since", "last quarter")
    assert bad.returncode == 1 and "--since: expected a duration" in bad.stderr


def test_backtest_writes_what_the_scorer_reads(tmp_path: Path) -> None:
    """`brandpulse backtest --counts` writes timestamp,is_alert,level per input row."""
    import csv
    from datetime import timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    counts = tmp_path / "Twitter_volume_TEST.csv"
    rows = []
    for i in range(12 * 24 * 10):  # ten days of 5-minute buckets, a daily rhythm, one spike at the end
        t = start + timedelta(minutes=5 * i)
        value = 20 + (10 if 9 <= t.hour < 21 else 0) + (i % 3)
        if i >= 12 * 24 * 10 - 6:
            value = 400
        rows.append((t.strftime("%Y-%m-%d %H:%M:%S"), value))
    with counts.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        w.writerows(rows)
    out = brandpulse("backtest", "--counts", str(counts), "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    with (tmp_path / "out" / "alerts_TEST.csv").open(encoding="utf-8") as f:
        result = list(csv.DictReader(f))
    assert [r["timestamp"] for r in result] == [r[0] for r in rows]
    alerts = [i for i, r in enumerate(result) if r["is_alert"] == "1"]
    assert alerts and min(alerts) >= len(rows) - 6  # the spike, and nothing in the normal rhythm
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2026-01-01 00:00:00,x\n", encoding="utf-8")
    out = brandpulse("backtest", "--counts", str(bad), "--out", str(tmp_path / "out"))
    assert out.returncode == 1 and "bad.csv" in out.stderr and "Traceback" not in out.stderr


def test_backtest_over_stored_history_prints_the_pages(tmp_path: Path, sqlite_url: str, http_server) -> None:
    """`brandpulse backtest --brand X --since 7d`: the config's plan over the stored mentions."""
    now = datetime.now(UTC)
    write_stream(tmp_path / "stream.jsonl", now)  # six quiet days, then a burst for acme
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=404)
    cfg = make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml"))
    daemon = Daemon(load_config(cfg), registry=CollectorRegistry())
    try:
        daemon.run_once()
    finally:
        daemon.stop()

    out = brandpulse("backtest", "--brand", "acme", "--since", "7d", "--config", str(cfg))
    assert out.returncode == 0, out.stderr
    head, *steps = out.stdout.strip().splitlines()
    assert head.startswith("acme: 1 incidents, ") and "every deadline escalates" in head, out.stdout
    rows = [line.split("\t") for line in steps]
    assert rows and all(len(r) == 6 for r in rows), out.stdout
    # the burst of the last 45 minutes, and nothing in the quiet week before it
    assert all(datetime.strptime(r[0], "%Y-%m-%d %H:%MZ").replace(tzinfo=UTC) > now - timedelta(hours=1)
               for r in rows), out.stdout
    when, incident, level, action, detail, told = rows[0]
    assert (incident, level, action) == ("#1", "warning", "opened") or (incident, action) == ("#1", "opened")
    assert detail.startswith("negative_spike: acme: ") and "negative mentions vs baseline" in detail
    assert "李四" in told  # who the plan would have told
    assert {r[3] for r in rows} <= {"opened", "raised", "escalated", "repeated"}  # nobody acks in a replay
    quiet = brandpulse("backtest", "--brand", "beta", "--since", "7d", "--config", str(cfg))
    assert quiet.returncode == 0 and quiet.stdout.startswith("beta: 0 incidents"), quiet.stdout + quiet.stderr

    unknown = brandpulse("backtest", "--brand", "gamma", "--config", str(cfg))
    assert unknown.returncode == 1 and "unknown brand 'gamma' (known: acme, beta)" in unknown.stderr
    both = brandpulse("backtest", "--brand", "acme", "--counts", "x.csv", "--config", str(cfg))
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    no_out = brandpulse("backtest", "--counts", "x.csv")
    assert no_out.returncode == 1 and "needs --out" in no_out.stderr
