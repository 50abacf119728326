from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.render import Renderer
from monitor.errors import ConfigError
from monitor.models import Alert, AlertState, NotifyReason

T = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
EVIDENCE = {
    "negative": 32,
    "total": 40,
    "baseline": 2.67,
    "ratio": 12.0,
    "negative_share": 0.8,
    "window_start": "2026-03-02T08:45:00+00:00",
    "window_end": "2026-03-02T09:05:00+00:00",
    "samples": [
        {"author": "咖啡爱好者", "text": "阿克米咖啡里喝出异物，" * 20, "url": "https://weibo.example/1"},
        {"author": None, "text": "再也不买了", "url": None},
    ],
}
ALERT = Alert(
    id=12,
    group_key="acme:1",
    brand="acme",
    level="warning",
    state=AlertState.FIRING,
    opened_at=T,
    updated_at=T,
    summary="s",
    evidence=EVIDENCE,
)
PAYLOAD = {
    "level": "warning",
    "level_name": "预警",
    "state": "firing",
    "evidence": EVIDENCE,
    "brand_name": "阿克米咖啡",
    "contact_name": "张三",
    "lang": "zh",
}


def test_chinese_first_notification_has_numbers_samples_and_ack_hint() -> None:
    msg = Renderer(base_url="https://bp.example.com/").render(ALERT, NotifyReason.FIRST, PAYLOAD)
    assert msg.subject == "【预警】阿克米咖啡 负面舆情出现异常升高（告警 #12）"
    body = msg.body
    for part in (
        "张三，您好",
        "负面提及 32 条",
        "基线约 2.67 条",
        "12.0 倍",
        "负面占比 80%",
        "共 40 条",
        "2026-03-02 08:45 UTC",
        "- 咖啡爱好者: 阿克米咖啡里喝出异物",
        "https://weibo.example/1",
        "- ?: 再也不买了",
        "brandpulse alerts ack 12 --by",
        "https://bp.example.com/api/v1/alerts/12",
    ):
        assert part in body, part
    long_line = next(line for line in body.splitlines() if "咖啡爱好者" in line)
    assert "…" in long_line and len(long_line) < 200  # excerpts are cut


def test_english_escalated_repeat_and_drill() -> None:
    payload = {
        **PAYLOAD,
        "lang": "en",
        "level": "crisis",
        "level_name": "Crisis",
        "state": "escalated",
        "drill": True,
    }
    msg = Renderer().render(ALERT, NotifyReason.ESCALATED, payload)
    assert msg.subject == "[DRILL] [Crisis] 阿克米咖啡: negative mentions — alert escalated (alert #12)"
    assert "32 negative mentions (baseline about 2.67, 12.0x), negative share 80% of 40" in msg.body
    assert "brandpulse alerts ack 12 --by NAME" in msg.body and "/alerts/12" not in msg.body  # no base URL
    assert "still unacknowledged" in Renderer().render(ALERT, NotifyReason.REPEAT, payload).subject


def test_repeat_of_an_acknowledged_alert_says_it_is_still_firing_not_unacknowledged() -> None:
    for lang, headline, wrong in (("en", "acknowledged, still firing", "still unacknowledged"),
                                  ("zh", "已确认，信号仍在", "仍未确认")):
        msg = Renderer().render(ALERT, NotifyReason.REPEAT, {**PAYLOAD, "lang": lang, "state": "acknowledged"})
        assert headline in msg.subject + msg.body and wrong not in msg.subject + msg.body


def test_resolved_message() -> None:
    payload = {**PAYLOAD, "resolved_at": "2026-03-02T11:00:00+00:00", "resolved_by": "engine"}
    msg = Renderer().render(ALERT, "resolved", payload)
    assert msg.subject == "【已解除】阿克米咖啡 负面舆情告警 #12（预警）"
    assert "解除时间：2026-03-02 11:00 UTC（engine）" in msg.body and "ack" not in msg.body


def test_default_language_applies_to_contacts_without_one() -> None:
    payload = {**PAYLOAD, "lang": None}
    assert (
        Renderer(default_lang="en")
        .render(ALERT, NotifyReason.FIRST, payload)
        .subject.startswith("[预警] 阿克米咖啡")
    )
    assert Renderer().render(ALERT, NotifyReason.FIRST, payload).subject.startswith("【预警】")
    with pytest.raises(ConfigError, match=r"unknown message language 'fr' \(valid: zh, en\)"):
        Renderer(default_lang="fr")


def test_defaults_when_payload_is_missing() -> None:
    msg = Renderer().render(ALERT, NotifyReason.FIRST)
    assert "【warning】acme" in msg.subject and "负面提及 32 条" in msg.body


def test_template_errors_are_caught_at_startup(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "config" / "templates"
    for f in src.glob("*.txt"):
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    bad = tmp_path / "alert.en.txt"
    bad.write_text(bad.read_text(encoding="utf-8").replace("${negative}", "${negatives}"), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"alert.en.txt: unknown placeholder 'negatives' \(known: ack, alert_id"
    ):
        Renderer(tmp_path)
    bad.write_text("Hello\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"alert.en.txt: line 1: first line must be 'Subject: ...'"):
        Renderer(tmp_path)
    bad.unlink()
    with pytest.raises(ConfigError, match=r"alert.en.txt: cannot read message template"):
        Renderer(tmp_path)


def test_messages_show_top_terms_and_crisis_terms() -> None:
    evidence = {
        **EVIDENCE,
        "top_terms": [{"term": "变质", "mentions": 12}, {"term": "退款", "mentions": 7}],
        "crisis_terms": [{"term": "召回", "mentions": 3}],
    }
    alert = Alert(**{**ALERT.__dict__, "evidence": evidence})
    zh = Renderer().render(alert, NotifyReason.FIRST, {**PAYLOAD, "evidence": evidence})
    assert "负面提及高频词：变质 (12)、退款 (7)" in zh.body
    assert "危机关键词：召回 (3)" in zh.body
    en = Renderer().render(alert, NotifyReason.FIRST, {**PAYLOAD, "evidence": evidence, "lang": "en"})
    assert "Top terms in the negative mentions: 变质 (12), 退款 (7)" in en.body
    assert "Crisis terms seen: 召回 (3)" in en.body
    # Evidence recorded before terms existed (or with none) still renders, saying so.
    old = Renderer().render(ALERT, NotifyReason.FIRST, {**PAYLOAD, "lang": "en"})
    assert "Top terms in the negative mentions: (none)" in old.body and "Crisis terms seen: (none)" in old.body
