from __future__ import annotations

import logging

import pytest

from alerts.notify import build_notifier
from alerts.notify.console import ConsoleNotifier
from monitor.errors import ConfigError

from .conformance import sample_notification


def test_logs_one_key_value_line_and_prints_the_message(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    notifier = build_notifier("console", "console", {})
    assert isinstance(notifier, ConsoleNotifier) and notifier.kind == "console"
    with caplog.at_level(logging.INFO, logger="alerts.notify.console"):
        notifier.send(sample_notification())
    [record] = caplog.records
    line = record.getMessage()
    assert "\n" not in line
    for part in (
        "alert=3",
        "brand=acme",
        "level=warning",
        "reason=first",
        "contact=zhang-san",
        "channel=console",
    ):
        assert part in line
    out = capsys.readouterr().out
    assert "Subject: 【预警】阿克米咖啡 负面舆情出现异常升高" in out
    assert "负面提及 32 条" in out and "To: zhang-san" in out


def test_stderr_option(capsys: pytest.CaptureFixture[str]) -> None:
    build_notifier("console", "console", {"stream": "stderr"}).send(sample_notification())
    captured = capsys.readouterr()
    assert captured.out == "" and "负面提及 32 条" in captured.err


def test_unknown_option() -> None:
    with pytest.raises(
        ConfigError, match=r"^c.yaml: notifiers\[0\].colour: unknown key 'colour' \(valid: stream\)$"
    ):
        build_notifier("console", "console", {"colour": "red"}, file="c.yaml", key_path="notifiers[0]")
