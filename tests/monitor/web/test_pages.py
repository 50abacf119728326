"""Every page over a real daemon (SQLite and PostgreSQL): what it shows, its filters and forms,
and that hostile text in mentions, authors, brand names, alert evidence and chart labels
renders as text on all of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.auth import ROLES
from monitor.models import AlertState, SentimentLabel
from monitor.store import query
from monitor.store.query import MentionFilter
from monitor.web.i18n import LANGS, STRINGS
from monitor.web.mentions import SINCE
from tests.monitor.web.helpers import BRAND_NAME, IMG, OTHER_NAME, SCRIPT, Site, assert_inert

PAGES = ["/", "/mentions", "/mentions?since=all&q=阿克米", "/mentions?brand=acme&sentiment=negative", "/alerts",
         "/alerts?state=firing", "/reports"]


def _mention_id(site: Site, text: str) -> int:
    rows = query.search_mentions(site.daemon.engine, MentionFilter(text=text, include_irrelevant=True)).rows
    assert len(rows) == 1, rows
    return rows[0].id


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_shows_hostile_text_as_text(site: Site, lang: str) -> None:
    c, _ = site.login("respond", name=f"王五{IMG}")  # the logged-in name is shown too
    for path in [*PAGES, f"/alerts/{site.alert_id}"]:
        resp = c.get(path, params={"lang": lang})
        assert resp.status_code == 200, (path, resp.text[:500])
        found = assert_inert(resp.text)
        text = "".join(found.text)
        assert f"王五{IMG}" in text, path  # visible, as text
        if path in ("/", "/reports", "/mentions"):
            assert BRAND_NAME in text and OTHER_NAME in text, path
        if path.startswith("/mentions"):
            assert SCRIPT in text, path
    # chart labels: the SVG title and aria-label carry the brand name, escaped like everything else
    overview = c.get("/").text
    svgs = [attrs for tag, attrs in assert_inert(overview).tags if tag == "svg"]
    assert any(BRAND_NAME in (a.get("aria-label") or "") for a in svgs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in overview


def test_pages_forbid_scripts_and_inline_styles(site: Site) -> None:
    c = site.client("read")
    for path in [*PAGES, f"/alerts/{site.alert_id}", "/login"]:
        resp = c.get(path)
        csp = resp.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["x-frame-options"] == "DENY" and resp.headers["cache-control"] == "no-store"
        # the policy blocks inline styles, so a page relying on one would look broken: there are none
        assert not [t for t, a in assert_inert(resp.text).tags if "style" in a], path
        assert "<style" not in resp.text
    css = c.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert c.get("/static/nope.css").status_code == 404
    assert c.get("/static/..%2Fpages.py").status_code == 404


def test_overview_shows_trend_split_and_alert_state_per_brand(site: Site) -> None:
    page = site.client("read").get("/", params={"lang": "en"}).text
    acme = page[page.index('id="brand-acme"'):page.index('id="brand-beta"')]
    beta = page[page.index('id="brand-beta"'):]
    # acme: 28 positive + 28 neutral over the week, then 2 negative and 1 positive in the last hour
    assert "59 mentions" in acme and "negative 2" in acme and "neutral 28" in acme and "positive 29" in acme
    assert f'href="/alerts/{site.alert_id}"' in acme and ">firing<" in acme
    assert "No open alert" in beta and "29 mentions" in beta
    chart = acme[acme.index('<svg class="chart"'):acme.index("</svg>")]
    assert len(re.findall(r'<rect class="pos"', chart)) >= 7 and '<rect class="neg"' in chart
    assert "<polyline" in chart  # the negative share line
    assert '<svg class="split"' in acme


def test_mentions_filter_by_brand_sentiment_text_author_source_and_time(site: Site) -> None:
    c = site.client("read")

    def texts(**params: str) -> list[str]:
        resp = c.get("/mentions", params=params)
        assert resp.status_code == 200, resp.text[:300]
        return re.findall(r'<span class="text">(.*?)</span>', resp.text)

    negative = texts(brand="acme", sentiment="negative")
    assert len(negative) == 2 and all("阿克米" in t for t in negative)
    assert all("贝塔" in t for t in texts(brand="beta"))
    assert texts(q="变质") == [f"阿克米变质 {IMG} 起诉".replace("<", "&lt;").replace(">", "&gt;")]
    assert len(texts(author=f"黑粉{IMG}")) == 1
    assert texts(source="nowhere") == []
    assert len(texts(since="24h")) == 16  # 12 of the steady week, 4 in the last hour
    today = site.daemon.clock.now().date().isoformat()
    assert len(texts(brand="beta", **{"from": today, "to": today})) >= 1
    bad = c.get("/mentions", params={"sentiment": "angry"})
    assert bad.status_code == 400 and "sentiment must be one of" in bad.text
    bad_time = c.get("/mentions", params={"from": "yesterday"})
    assert bad_time.status_code == 400 and "from must be a date" in bad_time.text


def test_mentions_page_through_with_cursors(site: Site) -> None:
    c = site.client("read")
    seen: list[str] = []
    resp = c.get("/mentions", params={"brand": "acme"})
    pages = 0
    while True:
        pages += 1
        seen += re.findall(r'<span class="text">(.*?)</span>', resp.text)
        m = re.search(r'<a rel="next" href="([^"]+)"', resp.text)
        if not m:
            break
        resp = c.get(m.group(1).replace("&amp;", "&"))
    assert pages == 2 and len(seen) == 59 and len(set(seen)) == 59  # 50 + 9, nothing twice


def test_corrections_from_the_stream_change_the_store(site: Site) -> None:
    c, csrf = site.login("respond", name="王五")
    mid = _mention_id(site, "新品很好喝")
    page = c.get("/mentions", params={"brand": "acme"}).text
    assert f'action="/mentions/{mid}/relabel"' in page and f'action="/mentions/{mid}/irrelevant"' in page

    # without the session's CSRF token nothing happens
    denied = c.post(f"/mentions/{mid}/relabel", data={"label": "negative"})
    assert denied.status_code == 403 and query.get_mention(site.daemon.engine, mid).sentiment_label == "positive"

    done = c.post(f"/mentions/{mid}/relabel", data={"label": "negative", "csrf": csrf, "back": "/mentions?brand=acme"})
    assert done.status_code == 303 and done.headers["location"] == "/mentions?brand=acme"
    row = query.get_mention(site.daemon.engine, mid)
    assert (row.sentiment_label, row.model_label, row.corrected_by) == ("negative", "positive", "王五")
    assert "王五" in c.get("/mentions", params={"brand": "acme", "sentiment": "negative"}).text

    gone = c.post(f"/mentions/{mid}/irrelevant", data={"brand": "acme", "csrf": csrf})
    assert gone.status_code == 303
    assert query.get_mention(site.daemon.engine, mid).irrelevant_brands == ("acme",)
    assert "58 条提及" in c.get("/").text  # the overview no longer counts it
    again = c.post(f"/mentions/{mid}/irrelevant", data={"brand": "acme", "csrf": csrf})
    assert again.status_code == 409 and "already marked irrelevant" in again.text
    back = c.post(f"/mentions/{mid}/restore", data={"brand": "acme", "csrf": csrf, "back": "//evil.example/"})
    assert back.status_code == 303 and back.headers["location"] == "/mentions"  # never off-site
    assert query.get_mention(site.daemon.engine, mid).brands == ("acme",)
    assert c.post("/mentions/999999/relabel", data={"label": "neutral", "csrf": csrf}).status_code == 404

    analyst, analyst_csrf = site.login("read", name="赵六")
    assert 'action="/mentions/' not in analyst.get("/mentions").text  # no forms for the read role
    refused = analyst.post(f"/mentions/{mid}/relabel", data={"label": "neutral", "csrf": analyst_csrf})
    assert refused.status_code == 403 and query.get_mention(site.daemon.engine, mid).sentiment_label == "negative"


def test_alert_detail_shows_timeline_evidence_and_acknowledges(site: Site) -> None:
    c, csrf = site.login("respond", name="王五")
    url = f"/alerts/{site.alert_id}"
    page = c.get(url, params={"lang": "en"}).text
    found = assert_inert(page)
    text = "".join(found.text)
    assert f"negative_spike: {SCRIPT}" in text  # the fire event's reason, in the timeline
    assert f"退款{SCRIPT}" in text and f"起诉{IMG}" in text and f"黑粉{IMG}" in text  # terms and samples
    links = [a.get("href") or "" for t, a in found.tags if t == "a"]
    assert "https://weibo.example/42" in links  # the sample's original, linked
    assert any(h.startswith("/mentions?brand=acme&sentiment=negative&from=") for h in links)
    assert f'action="/alerts/{site.alert_id}/ack"' in page and "acting as 王五" in page

    assert c.post(f"{url}/ack", data={"note": "x"}).status_code == 403  # no CSRF token
    with site.daemon.engine.connect() as conn:
        from alerts import records

        assert records.get_alert(conn, site.alert_id).state.value == "firing"
    done = c.post(f"{url}/ack", data={"note": f"公关部跟进{SCRIPT}", "csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == url
    with site.daemon.engine.connect() as conn:
        alert = records.get_alert(conn, site.alert_id)
        events = records.alert_events(conn, site.alert_id)
    assert (alert.state.value, alert.acknowledged_by) == ("acknowledged", "王五")
    assert events[-1]["reason"] == f"公关部跟进{SCRIPT}"
    after = c.get(url).text
    assert_inert(after)
    assert f'action="/alerts/{site.alert_id}/ack"' not in after and "/resolve" in after
    conflict = c.post(f"{url}/ack", data={"csrf": csrf})
    assert conflict.status_code == 409 and "already acknowledged" in conflict.text

    analyst = site.client("read")
    assert "/resolve" not in analyst.get(url).text
    assert analyst.post(f"{url}/resolve", data={}).status_code == 403
    assert site.client("read").get("/alerts/424242").status_code == 404


def test_language_switch_is_remembered(site: Site) -> None:
    c = site.client("read")
    assert "品牌概览" in c.get("/").text  # Chinese by default
    en = c.get("/", params={"lang": "en"})
    assert "Brands overview" in en.text and "bp_lang=en" in en.headers["set-cookie"]
    assert "<h1>Alerts</h1>" in c.get("/alerts").text  # remembered without ?lang=
    assert ">Mentions<" in c.get("/reports").text
    assert "品牌概览" in c.get("/", params={"lang": "zh"}).text


def test_reports_page_links_each_brand_and_period(site: Site) -> None:
    c = site.client("read")
    page = c.get("/reports").text
    for href in ("/reports/week", "/reports/month", "/reports/week?brand=acme", "/reports/month?brand=beta"):
        assert f'href="{href}"' in page
        report = c.get(href)  # served by monitor/reports: the links lead somewhere, and stay inert
        assert report.status_code == 200, (href, report.text[:300])
        assert_inert(report.text)


def test_every_ui_string_exists_in_both_languages() -> None:
    assert all(zh.strip() and en.strip() for zh, en in STRINGS.values())
    used: set[str] = set()
    for path in (Path(__file__).resolve().parents[3] / "monitor" / "web").glob("*.py"):
        if path.name != "i18n.py":
            used |= set(re.findall(r'\bt\("([a-z_.0-9]+)"', path.read_text(encoding="utf-8")))
    # keys built at run time
    used |= {f"sentiment.{x.value}" for x in SentimentLabel} | {f"state.{x.value}" for x in AlertState}
    used |= {f"role.{r}" for r in ROLES} | {f"mentions.since.{k}" for k in SINCE}
    assert used and not used - set(STRINGS), f"keys used but missing from STRINGS: {sorted(used - set(STRINGS))}"
