"""Mention text, author names, keywords, platforms, sources and URLs are hostile input: the
HTML and Markdown reports show them as text, never as markup, links or images. The charts are
real PNGs with something drawn on them."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from PIL import Image

from alerts import escalation
from alerts.plan import CrisisPlan
from monitor.reports import charts
from monitor.reports.build import build_for_period
from monitor.reports.period import Period

from .conftest import BRANDS, LAST_DAY, TZ, local, mention, write

PERIOD = Period.week(LAST_DAY, TZ)
NOW = local(LAST_DAY + timedelta(days=1), 10)
SCRIPT = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'
LINK = "[官方声明](javascript:alert(1))"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.fixture
def hostile(store: sa.Engine, plan: CrisisPlan) -> sa.Engine:
    d = PERIOD.first_day
    write(store, [
        mention("acme", local(d + timedelta(days=i), 12), "negative", text=f"{SCRIPT} {IMG} {LINK} | # *x* 第{i}条",
                title=f"<b>{SCRIPT}</b>", author=f"{IMG}|**kol**", platform=f"<i>{IMG}</i>", engagement=100 + i,
                author_followers=1_000_000, source_id="src<script>", url="javascript:alert(document.cookie)",
                keywords=(SCRIPT, LINK, "`code`", "_em_"))
        for i in range(3)
    ] + [mention("acme", local(d, 9), "negative", keywords=(IMG,), url="https://ok.example/p?a=1&b=<2>\"x")])
    with store.begin() as conn:
        alert = escalation.fire(conn, brand="acme", level="warning", group_key="g", now=local(d, 12),
                                ack_deadline=None, summary=f"acme spike {SCRIPT}", evidence={}, reason="t")
        escalation.acknowledge(conn, alert.id, f"{IMG}", local(d, 12, 5))
    return store


def test_html_shows_hostile_text_as_text(hostile: sa.Engine, plan: CrisisPlan) -> None:
    report = build_for_period(hostile, PERIOD, brand="acme", brands=BRANDS, plan=plan, now=NOW, lang="zh")
    page = report.html()
    parser = Tags()
    parser.feed(page)
    names = [t for t, _ in parser.tags]
    assert "script" not in names and "b" not in names and "i" not in names
    assert all(not k.startswith("on") for _, attrs in parser.tags for k in attrs)
    imgs = [a["src"] for t, a in parser.tags if t == "img"]
    assert len(imgs) == 4 and all((src or "").startswith("data:image/png;base64,") for src in imgs)
    hrefs = [a.get("href") or "" for t, a in parser.tags if t == "a"]
    assert hrefs == ['https://ok.example/p?a=1&b=<2>"x']  # the javascript: URLs are not links
    assert "javascript:alert(document" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page  # shown, escaped
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert 'href="https://ok.example/p?a=1&amp;b=&lt;2&gt;&quot;x"' in page
    for key in ("概览", "Summary", "危机事件与处置时效", "Incidents and how fast they were handled"):
        assert key in page
    english = report.html(stylesheet="/reports/report.css")
    assert "<style>" not in english and '<link rel="stylesheet" href="/reports/report.css">' in english


def test_markdown_shows_hostile_text_as_text(hostile: sa.Engine, plan: CrisisPlan, tmp_path) -> None:
    report = build_for_period(hostile, PERIOD, brand="acme", brands=BRANDS, plan=plan, now=NOW, lang="en")
    written = report.write("md", tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert [p.name for p in written] == ["r.md", "trend.png", "sentiment.png", "share_of_voice.png", "platforms.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written[1:])
    assert "<script" not in text and "<img" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;" in text
    # the only images and links are the charts; every [ ( | * ` _ from mentions is escaped
    assert re.findall(r"(?<!\\)!\[[^\]]*\]\(([^)]*)\)", text) == [
        f"r-charts/{n}.png" for n in ("trend", "sentiment", "share_of_voice", "platforms")]
    assert "](javascript" not in text and "\\[官方声明\\]\\(javascript:alert\\(1\\)\\)" in text
    assert "\\*\\*kol\\*\\*" in text and "\\`code\\`" in text and "\\_em\\_" in text
    for line in text.splitlines():
        if line.startswith("| ") and "kol" in line:
            assert len(re.findall(r"(?<!\\)\|", line)) == 8  # 7 cells: the author's | did not add one
    assert "## Summary" in text and "概览" not in text


def test_charts_are_real_pngs_with_content(hostile: sa.Engine, plan: CrisisPlan) -> None:
    report = build_for_period(hostile, PERIOD, brand="acme", brands=BRANDS, plan=plan, now=NOW, lang="zh")
    for chart in report.charts:
        assert chart.png.startswith(b"\x89PNG\r\n\x1a\n"), chart.name
        img = Image.open(io.BytesIO(chart.png)).convert("RGB")
        assert img.width >= 300 and img.height >= 150, (chart.name, img.size)
        colours = img.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50, chart.name  # text, bars, anti-aliasing: not a blank canvas
        white = max(n for n, c in colours if c == (255, 255, 255)) if any(
            c == (255, 255, 255) for _, c in colours) else 0
        assert white < 0.97 * img.width * img.height, chart.name
    trend = Image.open(io.BytesIO(report.charts[0].png)).convert("RGB")
    assert any(c == (0xd6, 0x45, 0x45) for _, c in trend.getcolors(1 << 20) or []), "negative bars drawn"


def test_a_cjk_font_is_installed_for_the_charts() -> None:
    assert charts.cjk_font() is not None, (
        f"no CJK font for chart labels: install the Debian package {charts.DEBIAN_FONT_PACKAGE}")


def test_charts_fall_back_to_english_without_a_cjk_font(hostile: sa.Engine, plan: CrisisPlan,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(charts, "_font", [])
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font",))
    monkeypatch.setattr(charts, "CJK_FILES", ("no-such-file",))
    report = build_for_period(hostile, PERIOD, brand="acme", brands=BRANDS, plan=plan, now=NOW, lang="zh")
    assert all(c.png.startswith(b"\x89PNG") for c in report.charts)
    assert "no CJK font found" in caplog.text and charts.DEBIAN_FONT_PACKAGE in caplog.text
    monkeypatch.setattr(charts, "_font", [])  # the next test finds the real font again
