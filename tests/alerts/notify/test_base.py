"""The shared helpers of alerts/notify/base.py: neutralising quoted text and cutting it to size."""

from __future__ import annotations

import re

import pytest

from alerts.notify.base import ZWSP, neutralize, truncate

# What a stranger's post might contain, quoted in an alert's sample mentions.
HOSTILE = (
    "[官方声明](https://evil.example/phish) ![x](https://evil.example/p.png) "
    '<@zhangsan> <at user_id="all">所有人</at> <!channel> <https://evil.example|点此退款> '
    '@all @所有人 <font color="warning">紧急</font> **速转** `rm` ~~删~~ _斜体_'
)


def test_markdown_flavor_disarms_links_mentions_tags_and_emphasis() -> None:
    out = neutralize(HOSTILE)
    # no markdown link or image syntax, no HTML/mention tags, no autolinks, no quotes
    assert not re.search(r"\[[^\]]*\]\(", out)
    assert "<" not in out and ">" not in out
    assert "［官方声明］(https://evil.example/phish)" in out  # the words stay readable
    # every @ that could start a mention is split by a zero-width space
    assert not re.search(r"(?<![\w.])@(?=\w)", out)
    assert f"@{ZWSP}all" in out and f"@{ZWSP}所有人" in out
    # emphasis and code markers are escaped, so they show as typed
    for marked in (r"\*\*速转\*\*", r"\`rm\`", r"\~\~删\~\~", r"\_斜体\_"):
        assert marked in out


def test_markdown_flavor_keeps_ordinary_text_intact() -> None:
    text = "负面提及 32 条，联系 pr@acme.example 或访问 https://acme.example/a_b_c?x=1 查看"
    assert neutralize(text) == text
    assert neutralize("# 标题\n  #二级\n正文 #话题#") == "\\# 标题\n  \\#二级\n正文 #话题#"
    assert neutralize("C:\\temp") == "C:\\\\temp"


def test_slack_flavor_escapes_control_characters_as_slack_documents() -> None:
    out = neutralize(HOSTILE, "slack")
    assert "<" not in out and ">" not in out
    assert "&lt;!channel&gt;" in out and f"&lt;@{ZWSP}zhangsan&gt;" in out
    assert "&lt;https://evil.example|点此退款&gt;" in out
    assert neutralize("R&D <b>", "slack") == "R&amp;D &lt;b&gt;"
    assert f"@{ZWSP}all" in out


def test_plain_flavor_only_touches_tags_and_mentions() -> None:
    assert neutralize('**粗** [a](b) <at user_id="all">x</at> @all', "plain") == (
        f'**粗** [a](b) ＜at user_id="all"＞x＜/at＞ @{ZWSP}all'
    )


@pytest.mark.parametrize(
    ("text", "limit", "encoding", "expected"),
    [
        ("short", 10, None, "short"),
        ("abcdefghij", 5, None, "abcd…"),
        ("中文字符串abc", 10, "utf-8", "中文…"),  # 3 bytes each; the marker takes 3
        ("中文", 6, "utf-8", "中文"),
        ("中文字", 7, "utf-8", "中…"),  # never half a character
    ],
)
def test_truncate(text: str, limit: int, encoding: str | None, expected: str) -> None:
    out = truncate(text, limit, encoding=encoding)
    assert out == expected
    assert len(out.encode(encoding)) <= limit if encoding else len(out) <= limit
