"""The ``brandpulse`` command as a user runs it: a real subprocess, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
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
    for cmd in ("run", "demo", "check-config", "train", "alerts"):
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
