"""Issue 4's "done when": the real daemon on a timeline, with crashes in between.

A quiet brand, then at t0 a negative burst appended to the export a ``file`` source tails:

1. the on-duty contact (李四) gets a WeCom message within seconds;
2. the daemon is killed (SIGKILL) right after it and restarted;
3. nobody acknowledges by the warning's deadline: the restarted daemon escalates the alert to
   the crisis level, DingTalk and email go to the crisis contact (张三), WeCom tells 李四 it
   escalated; the daemon is killed again and restarted;
4. 张三 acknowledges (``brandpulse alerts ack``): nothing escalates or reminds "unacknowledged"
   any more, though the burst goes on past the crisis deadline; while it still fires, the
   crisis level's contacts are reminded once per repeat interval counted from the
   acknowledgement ("acknowledged, still firing"), never before one interval has passed;
5. the burst stops: the reminders stop and everyone who was told gets "resolved".

Every receiver counts deliveries per outbox id (``X-BrandPulse-Notification``): each message
arrives exactly once. The kills fall between deliveries; a kill in the middle
of one (which may deliver that one message twice, with the same id) is test_crash.py's.
The durations are seconds (a 3 s bucket) so the whole timeline takes about half a minute;
every wait polls for its condition with a deadline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.acceptance.harness import (
    ROOT,
    Burst,
    ChatReceiver,
    DaemonProcess,
    MentionWriter,
    Receipt,
    Receipts,
    SmtpReceiver,
    alerts_and_events,
    outbox_rows,
    wait_until,
)

pytestmark = pytest.mark.slow

WARNING_ACK_WITHIN = 6  # seconds 李四 has before the alert escalates
CRISIS_ACK_WITHIN = 6  # seconds at the crisis level before the first reminder would go out
REPEAT_EVERY = 2  # reminders after that, while unacknowledged
RESOLVE_AFTER = 3  # seconds without a signal before the alert resolves
BUCKET = 3  # seconds per bucket: the detection window is the last full bucket + the current one


def write_config(tmp_path: Path, db_url: str, chat: ChatReceiver, smtp_port: int) -> Path:
    cfg: dict[str, Any] = {
        "storage": {"url": db_url},
        "http": {"listen": "127.0.0.1:0"},
        "alerts": {"evaluate_interval": "0.5s", "dispatch_interval": "0.5s", "claim_timeout": "3s"},
        "brands": [{"id": "qinghe", "name": "青禾乳业", "aliases": ["青禾"]}],
        "sources": [{"id": "weibo-export", "kind": "file", "interval": "0.5s", "path": "stream.jsonl",
                     "format": "jsonl", "fields": MentionWriter.FIELDS}],
        "notifiers": [
            {"id": "duty-wecom", "kind": "wecom", "key_env": "BP_TEST_WECOM_KEY", "url": chat.wecom_url,
             "timeout": 2},
            {"id": "pr-dingtalk", "kind": "dingtalk", "token_env": "BP_TEST_DINGTALK_TOKEN",
             "secret_env": "BP_TEST_DINGTALK_SECRET", "url": chat.dingtalk_url, "timeout": 2},
            {"id": "pr-email", "kind": "email", "host": "127.0.0.1", "port": smtp_port, "timeout": 2,
             "from_address": "BrandPulse <brandpulse@qinghe.example>",
             "recipients": {"zhang-san": ["zhang.san@qinghe.example"]}},
        ],
        "plan": {
            "bucket": f"{BUCKET}s",
            "baseline_days": 1,
            "resolve_after": f"{RESOLVE_AFTER}s",
            "repeat_every": f"{REPEAT_EVERY}s",
            "contacts": [
                {"id": "li-si", "name": "李四", "department": "数据分析部", "role": "舆情值班",
                 "channels": ["duty-wecom"]},
                {"id": "zhang-san", "name": "张三", "department": "品牌管理部", "role": "危机公关负责人",
                 "channels": ["pr-dingtalk", "pr-email"]},
            ],
            "levels": [
                {"id": "warning", "name": "预警", "when": {"negative_spike": 2.5, "min_negative": 4},
                 "notify": ["li-si"], "ack_within": f"{WARNING_ACK_WITHIN}s"},
                # Out of reach of the burst: this alert gets here only by escalation.
                {"id": "crisis", "name": "危机", "when": {"negative_spike": 1000, "min_negative": 100000},
                 "notify": ["li-si", "zhang-san"], "ack_within": f"{CRISIS_ACK_WITHIN}s"},
            ],
        },
    }
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def ack(config: Path, alert_id: int, by: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "alerts", "--config", str(config), "ack", str(alert_id), "--by", by,
         "--note", "危机公关小组已介入"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONUTF8": "1"})


def settled(url: str, n: int) -> None:
    """Wait until the outbox holds ``n`` rows, every one of them sent (nothing in flight)."""
    wait_until(lambda: (rows := outbox_rows(url)) and len(rows) == n
               and all(r["status"] == "done" for r in rows.values()), timeout=20, what=f"{n} sent outbox rows")


def classify(receipts: list[Receipt], rows: dict[int, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(contact, notifier, reason) of each delivery, from its outbox row."""
    out = []
    for r in receipts:
        row = rows[r.outbox_id]
        out.append((row["contact"], row["channel"], row["reason"]))
    return out


def test_burst_pages_escalates_acks_and_resolves_once_each_across_crashes(tmp_path: Path, sqlite_url: str,
                                                                           http_server: Any) -> None:
    started = time.monotonic()
    receipts = Receipts()
    chat = ChatReceiver(http_server, receipts)
    daemons: list[DaemonProcess] = []

    def run_daemon() -> DaemonProcess:
        daemon = DaemonProcess(config, tmp_path / f"daemon-{len(daemons) + 1}.log").start()
        daemons.append(daemon)
        return daemon

    with SmtpReceiver(receipts) as smtp:
        config = write_config(tmp_path, sqlite_url, chat, smtp.port)
        writer = MentionWriter(tmp_path / "stream.jsonl", "青禾乳业")
        now = datetime.now(UTC)
        for minutes in range(20, 0, -2):  # quiet history: the rolling baseline has something to go on
            writer.praise(now - timedelta(minutes=minutes))
        burst = Burst(writer, every=0.3)
        try:
            daemon = run_daemon()
            daemon.wait_for_log(r"source=weibo-export fetched=\d+ stored=\d+", timeout=30)
            assert receipts.all() == []  # quiet: nobody paged

            # 1. the burst; the on-duty contact hears of it within seconds
            t0 = time.monotonic()
            burst.start()
            [first] = receipts.wait(lambda rs: len(rs) >= 1, timeout=30, what="the first WeCom message")
            first_latency = first.at - t0
            assert first.channel == "wecom" and "李四" in first.text and "预警" in first.text

            # 2. crash right after it (once the outbox has it as sent: a kill mid-send is
            #    test_crash.py's subject), restart before the warning deadline
            settled(sqlite_url, 1)
            daemon.kill9()
            daemon = run_daemon()

            # 3. no ack by the deadline: the new process escalates; crash and restart again
            receipts.wait(lambda rs: len(rs) >= 4, timeout=40, what="the three escalation messages")
            settled(sqlite_url, 4)
            daemon.kill9()
            daemon = run_daemon()

            # 4. 张三 acknowledges; the burst goes on past the crisis deadline and a repeat interval
            [alert], _ = alerts_and_events(sqlite_url)
            assert alert["level"] == "crisis" and alert["state"] == "escalated"
            done = ack(config, alert["id"], "张三")
            assert done.returncode == 0, done.stderr
            assert f"alert {alert['id']} acknowledged by 张三" in done.stdout
            [acked], _ = alerts_and_events(sqlite_url)
            assert acked["acknowledged_at"] < acked["ack_deadline"], "acknowledged too late to test anything"
            quiet_until = acked["ack_deadline"] + timedelta(seconds=REPEAT_EVERY + 1.5)
            wait_until(lambda: datetime.now(UTC) >= quiet_until, timeout=CRISIS_ACK_WITHIN + REPEAT_EVERY + 10,
                       what="the crisis deadline and a repeat interval to pass")
            after_ack = receipts.all()[4:]
            rows = outbox_rows(sqlite_url)
            assert after_ack, "no 'still firing' reminder while the acknowledged burst went on"
            assert {c[2] for c in classify(after_ack, rows)} == {"repeat"}, classify(after_ack, rows)
            assert all("已确认，信号仍在" in r.text and "仍未确认" not in r.text for r in after_ack)
            assert min(r.wall for r in after_ack) >= acked["acknowledged_at"] + timedelta(seconds=REPEAT_EVERY)

            # 5. the burst subsides: the reminders stop, "resolved" to everyone who was told
            burst.stop()
            receipts.wait(lambda rs: sum(c[2] == "resolved" for c in classify(rs, outbox_rows(sqlite_url))) >= 3,
                          timeout=40, what="three 'resolved' messages")
            time.sleep(1.5)  # anything more would arrive within a dispatch interval or two
            assert daemon.stop() == 0
        finally:
            burst.stop()
            for d in daemons:
                if d.alive():
                    d.proc.kill()  # type: ignore[union-attr]
                    d.proc.wait(timeout=10)  # type: ignore[union-attr]

    got = receipts.all()
    rows = outbox_rows(sqlite_url)
    # exactly once: no outbox id delivered twice, and one outbox row per message decided
    assert receipts.per_outbox_id() == {oid: 1 for oid in rows}, classify(got, rows)
    [alert], events = alerts_and_events(sqlite_url)
    assert {row["alert_id"] for row in rows.values()} == {alert["id"]}
    assert all(row["status"] == "done" for row in rows.values())
    assert classify(got, rows)[0] == ("li-si", "duty-wecom", "first")
    assert sorted(classify(got, rows)[1:4]) == [("li-si", "duty-wecom", "escalated"),
                                                 ("zhang-san", "pr-dingtalk", "escalated"),
                                                 ("zhang-san", "pr-email", "escalated")]
    later = classify(got, rows)[4:]
    assert sorted(c for c in later if c[2] != "repeat") == [("li-si", "duty-wecom", "resolved"),
                                                            ("zhang-san", "pr-dingtalk", "resolved"),
                                                            ("zhang-san", "pr-email", "resolved")]
    repeats = [c for c in later if c[2] == "repeat"]
    resolved_at = min(r.wall for r, c in zip(got[4:], later, strict=True) if c[2] == "resolved")
    assert all(r.wall <= resolved_at for r, c in zip(got[4:], later, strict=True) if c[2] == "repeat")
    slots = len(repeats) / 3  # each slot reminds the crisis level's three (contact, channel) pairs
    assert slots == int(slots) and {c[:2] for c in repeats} == {
        ("li-si", "duty-wecom"), ("zhang-san", "pr-dingtalk"), ("zhang-san", "pr-email")}, repeats
    # what people read matches: who, which level, what happened
    by_reason = dict(zip(classify(got, rows), got, strict=True))
    assert "危机" in by_reason[("zhang-san", "pr-dingtalk", "escalated")].text
    assert "张三" in by_reason[("zhang-san", "pr-email", "escalated")].text
    assert "已解除" in by_reason[("li-si", "duty-wecom", "resolved")].text

    # the alert's record: one incident, every transition with who and why
    assert [(e["to_state"], e["level"], e["actor"]) for e in events] == [
        ("firing", "warning", "engine"), ("escalated", "crisis", "engine"),
        ("acknowledged", "crisis", "张三"), ("resolved", "crisis", "engine")]
    assert "not acknowledged within 6s" in events[1]["reason"]
    assert alert["state"] == "resolved" and alert["acknowledged_by"] == "张三"
    escalated_at = events[1]["at"]
    assert escalated_at >= alert["opened_at"] + timedelta(seconds=WARNING_ACK_WITHIN)
    assert min(r.wall for r in got[1:4]) >= escalated_at

    assert first_latency < 15, f"first message {first_latency:.1f}s after the burst began"
    print(f"\ntimeline: first WeCom message {first_latency:.1f}s after the burst; "
          f"{len(daemons)} daemon runs; total {time.monotonic() - started:.1f}s")
