"""Stored text never executes: hostile mentions, all the way to every channel.

Strangers' posts (and their author names) become alert evidence, and the evidence is quoted
in every notification. Here the real daemon (in-process, ``run_once``) ingests complaints
that carry markdown links and images, HTML and script, group pings (``@all``, ``<@all>``,
``<at user_id="all">``, ``<!channel>``), terminal escape sequences, bidi overrides, and an
author name with line breaks that forges a "resolved" line; it raises the alert and delivers
it to WeCom, DingTalk, Slack and Feishu robots and a webhook on loopback, an SMTP server and
the console. Each channel must show the words and nothing active: no link, image, tag, ping,
control sequence or forged line.
"""

from __future__ import annotations

import email
import json
import re
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry

from monitor.daemon import Daemon
from monitor.settings import load_config
from tests.acceptance.harness import SmtpReceiver
from tests.faults.helpers import BRAND, complaint, jsonl

EVIL = "https://evil.example/phish"
PAYLOADS = [
    f"[官方声明：产品已全部召回]({EVIL}) 详情见链接",
    "![追踪](https://evil.example/pixel.png) 看图",
    '<font color="red">紧急</font><a href="https://evil.example">点击领取补偿</a>',
    '@all 大家注意 <@all> <at user_id="all">所有人</at> <!channel> <!here> <@U024BE7LH>',
    "**加粗** __下划线__ ~~删除线~~ `code` ```fence``` > 引用",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "\x1b[2J\x1b[31m红字\x1b]8;;https://evil.example\x1b\\点我\x1b]8;;\x1b\\ 还有\x07响铃",
    "\u202egnp.exe 反转的文件名\u202c",
]
FORGED = "#### 危机已解除，无需处理"
TOKENS = {"BP_INJ_WECOM": "wecom-key-1234", "BP_INJ_DING": "ding-token-1234", "BP_INJ_SLACK": "",
          "BP_INJ_FEISHU": "feishu-token-1234"}


class RawSmtp(SmtpReceiver):
    """aiosmtpd keeping every whole message (both parts), not only the plain text."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.messages.append(email.message_from_bytes(envelope.original_content,  # type: ignore[arg-type]
                                                               policy=policy.default))
                return "250 OK"

        Controller.__init__(self, Handler(), hostname="127.0.0.1")


def active_markup(text: str, markdown: bool = True) -> list[str]:
    """Anything in ``text`` a chat client would act on rather than show (``markdown``: the
    client renders ``[text](url)``; Slack links are ``<url|text>``, Feishu text elements are plain)."""
    found = []
    for name, rx in {
        "markdown link/image": r"\]\(" if markdown else r"(?!)",
        "html tag": r"<\s*/?\s*[A-Za-z!@]", "ping @all": r"(?<![\w.])@all\b",
        "escape sequence": r"[\x00-\x08\x0b-\x1f\x7f\x9b]", "bidi override": r"[\u202a-\u202e\u2066-\u2069]",
        "forged line": r"(?m)^\W*#{1,6}\s*危机已解除",
    }.items():
        if re.search(rx, text):
            found.append(name)
    return found


def test_hostile_mentions_are_shown_inert_on_every_channel(
        tmp_path: Path, sqlite_url: str, http_server: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    TOKENS["BP_INJ_SLACK"] = http_server.url("/slack")
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    ok = json.dumps({"errcode": 0, "errmsg": "ok", "code": 0}).encode()
    for path in ("/wecom", "/dingtalk", "/feishu/feishu-token-1234"):
        http_server.route(path, body=ok, headers={"Content-Type": "application/json"})
    http_server.route("/slack", body=b"ok")
    http_server.route("/hook", body=b"{}")
    now = datetime.now(UTC)
    export = tmp_path / "export.jsonl"
    export.write_text(jsonl(
        {"id": f"evil{i}", "text": f"{complaint(i)} {p}", "user": f"攻击者{i}\n\n{FORGED}\n", "time":
         (now - timedelta(minutes=2, seconds=i)).isoformat()} for i, p in enumerate(PAYLOADS)), encoding="utf-8")
    smtp = RawSmtp()
    smtp.start()
    try:
        channels = ["wecom", "dingtalk", "slack", "feishu", "hook", "mail", "console"]
        cfg = {
            "storage": {"url": sqlite_url}, "http": {"listen": "127.0.0.1:0"},
            "brands": [{"id": BRAND.id, "name": BRAND.name, "aliases": list(BRAND.aliases)}],
            "sources": [{"id": "export", "kind": "file", "path": "export.jsonl",
                         "fields": {"id": "id", "text": "text", "author": "user", "time": "time"}}],
            "notifiers": [
                {"id": "wecom", "kind": "wecom", "key_env": "BP_INJ_WECOM", "url": http_server.url("/wecom")},
                {"id": "dingtalk", "kind": "dingtalk", "token_env": "BP_INJ_DING", "url": http_server.url("/dingtalk")},
                {"id": "slack", "kind": "slack", "url_env": "BP_INJ_SLACK"},
                {"id": "feishu", "kind": "feishu", "token_env": "BP_INJ_FEISHU", "url": http_server.url("/feishu")},
                {"id": "hook", "kind": "webhook", "url": http_server.url("/hook")},
                {"id": "mail", "kind": "email", "host": "127.0.0.1", "port": smtp.port,
                 "from_address": "BrandPulse <bp@example.com>", "to": ["duty@example.com"]},
                {"id": "console", "kind": "console"},
            ],
            "plan": {"bucket": "5m", "baseline_days": 1,
                     "contacts": [{"id": "duty", "name": "值班", "channels": channels}],
                     "levels": [{"id": "warning", "name": "预警", "when": {"negative_spike": 2, "min_negative": 5},
                                 "notify": ["duty"]}]},
        }
        config = tmp_path / "brandpulse.yaml"
        config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        daemon = Daemon(load_config(config), registry=CollectorRegistry())
        try:
            summary = daemon.run_once()
        finally:
            daemon.stop()
    finally:
        smtp.stop()
    assert summary["stored"] == len(PAYLOADS) and summary["notifications"] == len(channels), summary

    def one(path: str) -> dict[str, Any]:
        [request] = http_server.requests_to(path)
        return request.json()  # type: ignore[no-any-return]

    shown = {
        "wecom": one("/wecom")["markdown"]["content"],
        "dingtalk": one("/dingtalk")["markdown"]["text"],
        "slack": one("/slack")["text"],
        "feishu": "\n".join(part["text"] for line in
                            next(iter(one("/feishu/feishu-token-1234")["content"]["post"].values()))["content"]
                            for part in line),
    }
    [mail] = smtp.messages
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    plain = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    console = capsys.readouterr().out
    for channel, text in shown.items():
        assert "产品已全部召回" in text and "点击领取补偿" in text, f"{channel}: the words themselves are shown"
        found = active_markup(text, markdown=channel in ("wecom", "dingtalk"))  # feishu: plain text elements
        assert not found, f"{channel}: {found} in {text!r}"
    assert "<" not in shown["slack"], "slack: <!channel>, <@U...>, <url|text> all escaped"
    body = html.split("<pre", 1)[1]
    assert not re.search(r"<(script|img|font|a)\b", body), "email: HTML from a mention is escaped"
    assert "&lt;script&gt;" in body and "点击领取补偿" in body
    # text/plain shows markup as the words it is; only control characters and forged lines matter
    assert set(active_markup(plain)) <= {"markdown link/image", "html tag", "ping @all"}, active_markup(plain)
    assert "\n" not in str(mail["Subject"]) and "\r" not in str(mail["Subject"])
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\x9b]", console), "console: no terminal escape sequences"
    assert not re.search(r"(?m)^\W*#{1,6}\s*危机已解除", console), "console: no forged line"
