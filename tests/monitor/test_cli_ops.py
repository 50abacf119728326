"""``brandpulse db upgrade|current|prune`` and ``brandpulse status`` as an operator runs them:
real subprocesses against a store a real daemon filled, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from prometheus_client import CollectorRegistry

from monitor.daemon import Daemon
from monitor.errors import ConfigError
from monitor.settings import load_config
from monitor.store import schema
from monitor.store.engine import make_engine
from monitor.store.migrate import head_revision, upgrade
from tests.acceptance.test_daemon import make_config, write_stream
from tests.monitor.test_cli import brandpulse

pytestmark = pytest.mark.slow  # each test runs the CLI as subprocesses, most after a real daemon round


def _config(tmp_path: Path, db_url: str, http_server, **extra: Any) -> Path:
    """The acceptance config (file export + an RSS feed answering 503 + a webhook), plus ``extra``."""
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=503)
    path = make_config(tmp_path, db_url, http_server.url("/hook"), http_server.url("/feed.xml"))
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in extra.items():
        cfg.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def filled(tmp_path: Path, db_url: str, http_server) -> tuple[Path, str]:
    """A store after one real daemon round: mentions, a failing source, a crisis alert, two
    notifications delivered; plus two mentions published 60 days ago."""
    now = datetime.now(UTC)
    write_stream(tmp_path / "stream.jsonl", now)
    with (tmp_path / "stream.jsonl").open("a", encoding="utf-8") as f:
        for n in range(2):
            f.write(json.dumps({"id": f"old{n}", "text": f"阿克米咖啡 很久以前的帖子 {n}", "user": "u",
                                "time": (now - timedelta(days=60, hours=n)).isoformat()}, ensure_ascii=False) + "\n")
    path = _config(tmp_path, db_url, http_server)
    daemon = Daemon(load_config(path), registry=CollectorRegistry())
    try:
        daemon.run_once()
    finally:
        daemon.stop()
    return path, db_url


def test_db_upgrade_reports_from_and_to_and_current_checks(tmp_path: Path, db_url: str) -> None:
    head = head_revision()
    cwd_db = db_url if db_url.startswith("postgresql") else "sqlite:///data/ops.db"  # relative: from the cwd
    empty = brandpulse("db", "current", "--db", cwd_db, "--check", cwd=tmp_path)
    assert empty.returncode == 1 and "empty (no BrandPulse schema)" in empty.stdout
    engine = make_engine(db_url if db_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'data' / 'ops.db'}")
    try:
        upgrade(engine, "0002")  # an older BrandPulse's schema
        behind = brandpulse("db", "current", "--db", cwd_db, "--check", cwd=tmp_path)
        assert behind.returncode == 1 and f"at 0002; this version ships {head}" in behind.stdout
        assert brandpulse("db", "current", "--db", cwd_db, cwd=tmp_path).returncode == 0  # no --check: informs only
        out = brandpulse("db", "upgrade", "--db", cwd_db, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().endswith(f": upgraded from 0002 to {head}")
        assert "password" not in out.stdout
        again = brandpulse("db", "upgrade", "--db", cwd_db, cwd=tmp_path)
        assert again.stdout.strip().endswith(f": already at {head} (head)")
        current = brandpulse("db", "current", "--db", cwd_db, "--check", cwd=tmp_path)
        assert current.returncode == 0 and current.stdout.strip().endswith(f"at {head} (head)")
        with engine.begin() as conn:  # a newer BrandPulse migrated it further
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        newer = brandpulse("db", "current", "--db", cwd_db, cwd=tmp_path)
        assert "a revision this version does not know" in newer.stdout
        refused = brandpulse("db", "upgrade", "--db", cwd_db, cwd=tmp_path)
        assert refused.returncode == 1 and refused.stderr.startswith("brandpulse: ")
        assert len(refused.stderr.strip().splitlines()) == 1
    finally:
        engine.dispose()


def test_db_commands_need_a_database(tmp_path: Path) -> None:
    out = brandpulse("db", "upgrade", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == "brandpulse: no config file 'brandpulse.yaml': pass -c CONFIG or --db URL"
    bad = brandpulse("status", "--db", "mysql://x@y/z", cwd=tmp_path)
    assert bad.returncode == 1 and "is not supported" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_status_shows_sources_alerts_and_outbox(filled: tuple[Path, str], tmp_path: Path) -> None:
    path, db_url = filled
    out = brandpulse("status", "-c", str(path))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"(schema {head_revision()}, current)" in text
    assert "SOURCES: 2, 1 need attention" in text
    news = next(line for line in text.splitlines() if line.startswith("news "))
    assert "FAILING" in news and "never" in news and "503" in news
    export = next(line for line in text.splitlines() if line.startswith("export "))
    assert " ok " in export and "1m" in export  # its interval
    assert "OPEN ALERTS: 1 (crisis 1)" in text
    alert_row = next(line for line in text.splitlines() if "acme" in line and "crisis" in line)
    assert "firing" in alert_row
    assert "OUTBOX: 0 pending, 0 sending, 0 failed, 2 delivered, 0 muted" in text

    snap = json.loads(brandpulse("status", "-c", str(path), "--json").stdout)
    by_id = {s["source"]: s for s in snap["sources"]}
    assert by_id["news"]["consecutive_failures"] == 1 and "503" in by_id["news"]["last_error"]
    assert by_id["news"]["last_success"] is None and by_id["news"]["late"] is True  # tried, never succeeded
    assert by_id["export"]["interval_seconds"] == 60 and by_id["export"]["lag_seconds"] < 120
    assert by_id["export"]["late"] is False and by_id["export"]["newest_mention_age_seconds"] < 120
    [alert] = snap["alerts"]
    assert (alert["brand"], alert["level"], alert["state"], alert["drill"]) == ("acme", "crisis", "firing", False)
    assert alert["ack_overdue"] is False and alert["age_seconds"] < 120
    assert snap["outbox"]["done"] == 2 and snap["outbox"]["oldest_due_age_seconds"] is None


def test_status_flags_a_late_source_and_a_stuck_outbox(filled: tuple[Path, str]) -> None:
    path, db_url = filled
    engine = make_engine(load_config(path).storage_url)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    try:
        with engine.begin() as conn:
            conn.execute(schema.source_state.update().where(schema.source_state.c.source_id == "export")
                         .values(last_success_at=hour_ago))
            conn.execute(schema.outbox.update().values(status="pending", next_attempt_at=hour_ago))
            conn.execute(schema.alerts.update().values(ack_deadline=hour_ago))
    finally:
        engine.dispose()
    snap = json.loads(brandpulse("status", "-c", str(path), "--json").stdout)
    export = next(s for s in snap["sources"] if s["source"] == "export")
    assert export["late"] is True and 3500 < export["lag_seconds"] < 3700
    assert snap["outbox"]["pending"] == 2 and 3500 < snap["outbox"]["oldest_due_age_seconds"] < 3700
    assert snap["alerts"][0]["ack_overdue"] is True
    text = brandpulse("status", "-c", str(path)).stdout
    assert "LATE" in text and "OVERDUE" in text and "due and not taken for 1h" in text
    # --db alone: every source the store knows, none judged late (no intervals without a config)
    bare = json.loads(brandpulse("status", "--db", db_url if "postgresql" in db_url else
                                 load_config(path).storage_url, "--json").stdout)
    assert {s["source"]: s["late"] for s in bare["sources"]} == {"export": False, "news": False}


def test_status_of_a_database_without_schema_is_one_line(tmp_path: Path) -> None:
    out = brandpulse("status", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert out.returncode == 1
    assert out.stderr.strip().endswith("has no BrandPulse schema yet: start the daemon or run `brandpulse db upgrade`")


def test_db_prune_dry_run_then_prune_from_the_config(filled: tuple[Path, str]) -> None:
    path, db_url = filled
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["storage"]["retention"] = {"raw_days": 30, "aggregates_days": 365}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    engine = make_engine(load_config(path).storage_url)

    def counts() -> tuple[int, int]:
        with engine.connect() as conn:
            return (conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)).scalar_one(),
                    conn.execute(sa.select(sa.func.sum(schema.mention_daily.c.mentions))).scalar_one() or 0)

    try:
        before = counts()
        dry = brandpulse("db", "prune", "-c", str(path), "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.startswith("would prune 2 mentions published before ")
        assert counts() == before
        done = json.loads(brandpulse("db", "prune", "-c", str(path), "--json").stdout)
        assert done["mentions"] == 2 and done["complete"] and not done["dry_run"]
        assert counts() == (before[0] - 2, 2)
        assert brandpulse("db", "prune", "-c", str(path)).stdout.startswith("pruned 0 mentions")
    finally:
        engine.dispose()


def test_retention_shorter_than_what_detection_reads_is_refused(filled: tuple[Path, str], tmp_path: Path) -> None:
    from alerts.plan import load_plan
    from monitor.housekeeping import days_detection_reads

    path, _ = filled
    config = load_config(path)
    need = days_detection_reads(load_plan(config.plan, file=config.plan_file, notifier_ids=None))
    assert 3 * 7 < need < 3 * 7 + 4  # the window, its seasonal history, and the tail calibration before it
    short = brandpulse("db", "prune", "-c", str(path), "--raw-days", "5", "--dry-run")
    assert short.returncode == 1
    assert f"storage.retention.raw_days: 5 days is shorter than the {need} days of raw mentions the crisis plan's " \
           f"detectors read (baseline_days 7); set raw_days to at least {need}" in short.stderr
    off = brandpulse("db", "prune", "-c", str(path))
    assert off.returncode == 1 and "retention is off" in off.stderr
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["storage"]["retention"] = {"raw_days": 7}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    checked = brandpulse("check-config", str(path))
    assert checked.returncode == 1 and "storage.retention.raw_days: 7 days is shorter" in checked.stderr
    with pytest.raises(ConfigError, match="storage.retention.raw_days"):
        Daemon(load_config(path), registry=CollectorRegistry())
    cfg["storage"]["retention"] = {"raw_days": 30, "aggregates_days": 10}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"storage\.retention: aggregates_days \(10\) must be at least raw_days "
                                          r"\(30\)"):
        load_config(path)


def test_help_lists_the_ops_commands() -> None:
    out = brandpulse("--help")
    assert "db" in out.stdout and "status" in out.stdout
    db = brandpulse("db", "--help")
    for action in ("upgrade", "current", "prune"):
        assert action in db.stdout
