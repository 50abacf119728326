"""Structured logs: one line per event in text, json or logfmt, with the message's key=value
context as fields; and a real daemon process in json mode writes nothing but JSON lines."""

from __future__ import annotations

import io
import json
import logging
import re
import shlex
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from monitor.logsetup import context, make_formatter, setup_logging
from tests.acceptance.harness import DaemonProcess, wait_until
from tests.acceptance.test_daemon import make_config, write_stream


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("bp-test-logsetup")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream, handler
    logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_the_message_context_as_fields(capture) -> None:
    logger, stream, handler = capture
    handler.setFormatter(make_formatter("json"))
    logger.info("alert acknowledged alert=%s brand=%s level=%s by=%s", 12, "qinghe", "crisis", "张三")
    logger.warning("auth failed client=%s reason=%r attempts_left=%d", "10.0.0.7", "bad token", 3)
    logger.info("store migrated url=%s from=%s to=%s", "sqlite:///x.db", "0002", "0005",
                extra={"replica": "host-1"})
    first, second, third = (json.loads(line) for line in _lines(stream))
    assert first["level"] == "info" and first["logger"] == "bp-test-logsetup"
    assert first["msg"] == "alert acknowledged alert=12 brand=qinghe level=crisis by=张三"
    # the alert's level= must not overwrite the line's own level
    assert (first["alert"], first["brand"], first["ctx_level"], first["by"]) == (12, "qinghe", "crisis", "张三")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert second["level"] == "warning" and second["reason"] == "bad token" and second["attempts_left"] == 3
    assert third["from"] == "0002" and third["to"] == "0005"  # revisions stay strings
    assert third["replica"] == "host-1"  # extra={...} fields too


def test_a_traceback_stays_on_the_event_line(capture) -> None:
    logger, stream, handler = capture
    for fmt in ("json", "logfmt", "text"):
        handler.setFormatter(make_formatter(fmt))
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            logger.exception("source=%s poll crashed", "weibo")
    as_json, as_logfmt, as_text = _lines(stream)
    event = json.loads(as_json)
    assert event["source"] == "weibo" and event["level"] == "error"
    assert "RuntimeError: boom\nsecond line" in event["exc"] and "Traceback" in event["exc"]
    pairs = dict(tok.split("=", 1) for tok in shlex.split(as_logfmt))
    assert pairs["level"] == "error" and pairs["source"] == "weibo" and pairs["msg"] == "source=weibo poll crashed"
    assert "RuntimeError: boom" in pairs["exc"].replace("\\n", "\n")
    assert "Traceback" in as_text and " | " in as_text


def test_logfmt_quotes_what_needs_quoting(capture) -> None:
    logger, stream, handler = capture
    handler.setFormatter(make_formatter("logfmt"))
    logger.info('source=%s skipped a bad row: line 7: "text" is empty', "weibo-export")
    [line] = _lines(stream)
    pairs = dict(tok.split("=", 1) for tok in shlex.split(line))
    assert pairs["msg"] == 'source=weibo-export skipped a bad row: line 7: "text" is empty'
    assert pairs["source"] == "weibo-export" and pairs["logger"] == "bp-test-logsetup"


def test_context_ignores_urls_and_prose() -> None:
    record = logging.makeLogRecord({})
    msg = "fetched http://x/feed?a=1&b=2 for source=rss-1: count=3, seconds=1.5 sig=0x00"
    assert context(record, msg) == {"source": "rss-1", "count": 3, "seconds": 1.5, "sig": "0x00"}


def test_unknown_format_is_refused_and_settings_reject_it(tmp_path: Path) -> None:
    from monitor.errors import ConfigError
    from monitor.settings import load_config

    with pytest.raises(ValueError, match="text, json, logfmt"):
        make_formatter("xml")
    path = tmp_path / "c.yaml"
    path.write_text("brands: [{id: acme, name: ACME}]\nlogging: {format: xml}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml: logging\.format: Input should be 'text', 'json' or 'logfmt' "
                                          r"\(got 'xml'\)"):
        load_config(path)


def test_uncaught_thread_exception_becomes_one_log_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("INFO", "json")

        def crash() -> None:
            raise ValueError("thread died")

        t = threading.Thread(target=crash, name="bp-test-thread")
        t.start()
        t.join()
        err = capsys.readouterr().err.splitlines()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
        logging.captureWarnings(False)
    [line] = err
    event = json.loads(line)
    assert event["level"] == "critical" and event["ctx_thread"] == "bp-test-thread"
    assert "ValueError: thread died" in event["exc"]


@pytest.mark.slow
def test_every_line_of_a_real_daemon_run_is_json(tmp_path: Path, sqlite_url: str, http_server) -> None:
    """A daemon process ingests, fails a source, pages, prunes old mentions and stops: every
    line it wrote (stdout and stderr) is one JSON object."""
    now = datetime.now(UTC)
    write_stream(tmp_path / "stream.jsonl", now)
    with (tmp_path / "stream.jsonl").open("a", encoding="utf-8") as f:  # two mentions retention will prune
        for n in range(2):
            at = (now - timedelta(days=60, hours=n)).isoformat()
            f.write(json.dumps({"id": f"old{n}", "text": f"阿克米咖啡 老帖子 {n}", "user": "u", "time": at},
                               ensure_ascii=False) + "\n")
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=503)  # a dead source: warnings on stderr
    path = make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml"))
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["logging"] = {"level": "INFO", "format": "json"}
    cfg["alerts"] = {"evaluate_interval": "1s", "dispatch_interval": "0.5s"}
    cfg["storage"]["retention"] = {"raw_days": 30, "prune_interval": "1s"}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")

    daemon = DaemonProcess(path, tmp_path / "daemon.log").start()
    try:
        wait_until(lambda: len(http_server.requests_to("/hook")) >= 2, 90, "the crisis notifications")
        daemon.wait_for_log(r"retention pruned mentions=2 ", 60)
    finally:
        assert daemon.stop() == 0
    lines = daemon.text().splitlines()
    events = []
    for n, line in enumerate(lines, 1):
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"line {n} of the daemon's output is not JSON: {line[:300]!r}")
        assert set(events[-1]) >= {"ts", "level", "logger", "msg"}, line
    messages = [e["msg"] for e in events]
    assert any(m.startswith("brandpulse ") and " started: " in m for m in messages)
    assert any(e.get("source") == "news" and e["level"] == "warning" for e in events)  # the dead feed
    assert any(e["logger"].startswith("alerts.") and e.get("brand") == "acme" for e in events)
    pruned = [e for e in events if e["msg"].startswith("retention pruned")]
    assert pruned[0]["mentions"] == 2 and pruned[0]["complete"] == "true"
    assert messages[-1] == "brandpulse stopped"
