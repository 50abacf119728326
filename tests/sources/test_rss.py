from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import defaults
from monitor.errors import ConfigError, FetchError, ParseError
from sources.rss import RssSource
from tests.sources.helpers import data, make_source

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


def rss(http_server, clock, tmp_path: Path, path: str = "/feed.xml", **opts) -> RssSource:
    src = make_source("rss", {"url": http_server.url(path), **opts}, base_dir=tmp_path, clock=clock)
    assert isinstance(src, RssSource)
    return src


def feed_with(items: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><guid>{g}</guid><description>{t} body</description></item>"
        for g, t in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


def test_rss2_entries_become_raw_items(http_server, clock, tmp_path):
    http_server.route("/feed.xml", body=data("rss2.xml"), headers=RSS_TYPE)
    result = rss(http_server, clock, tmp_path).poll(None)
    assert result.errors == [] and result.more is False
    first, second, third = result.items
    assert first.external_id == "news-1001"
    assert (
        first.text
        == "阿克米咖啡宣布召回部分批次咖啡豆\n阿克米咖啡今日宣布召回部分批次产品 & 道歉。\n详情见公告。"
    )
    assert first.title == "阿克米咖啡宣布召回部分批次咖啡豆"
    assert first.url == "https://news.example.com/2026/03/acme-recall"
    assert first.author == "记者 王敏"
    assert first.published_at == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    assert first.platform == "rss" and first.source_id == "src"
    assert first.extra["feed"] == "消费新闻 Consumer News"
    assert "<" not in second.text and "ACME Coffee said on Monday it will open 50 stores." in second.text
    assert second.published_at == datetime(2026, 3, 1, 22, 15, tzinfo=UTC)
    assert third.external_id == "https://news.example.com/2026/02/no-guid"  # no guid: the link
    assert third.published_at is None


def test_atom_entries_become_raw_items(http_server, clock, tmp_path):
    http_server.route("/atom", body=data("atom.xml"), headers={"Content-Type": "application/atom+xml"})
    first, second = rss(http_server, clock, tmp_path, "/atom").poll(None).items
    assert first.external_id == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert first.text == "阿克米咖啡新品口碑两极\n有人喜欢，有人吐槽太甜。"
    assert first.author == "小李" and first.url == "https://blog.example.com/acme-new-drink"
    assert first.published_at == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # published beats updated
    assert second.published_at == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)  # only updated
    assert second.text == "Updated only\nBody from content, not summary."


def test_etag_304_gives_no_items_and_keeps_the_cursor(http_server, clock, tmp_path):
    def handler(rec):
        if rec.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"ETag": '"v1"', **RSS_TYPE}, data("rss2.xml")

    http_server.route("/feed.xml", handler=handler)
    src = rss(http_server, clock, tmp_path)
    first = src.poll(None)
    assert len(first.items) == 3 and first.cursor["etag"] == '"v1"'
    second = src.poll(first.cursor)
    assert second.items == [] and second.cursor == first.cursor
    assert [r.headers.get("If-None-Match") for r in http_server.requests_to("/feed.xml")] == [None, '"v1"']
    json.dumps(second.cursor)  # the store keeps it as JSON


def test_last_modified_304(http_server, clock, tmp_path):
    stamp = "Mon, 02 Mar 2026 08:00:00 GMT"

    def handler(rec):
        if rec.headers.get("If-Modified-Since") == stamp:
            return 304, {}, b""
        return 200, {"Last-Modified": stamp}, data("atom.xml")

    http_server.route("/feed.xml", handler=handler)
    src = rss(http_server, clock, tmp_path)
    first = src.poll(None)
    second = src.poll(first.cursor)
    assert first.cursor["last_modified"] == stamp and first.cursor["etag"] is None
    assert second.items == [] and second.cursor == first.cursor


def test_seen_ids_prevent_redelivery_without_validators(http_server, clock, tmp_path):
    route = http_server.route("/feed.xml", body=feed_with([("a", "阿克米 one"), ("b", "阿克米 two")]))
    src = rss(http_server, clock, tmp_path)
    first = src.poll(None)
    assert [i.external_id for i in first.items] == ["a", "b"]
    again = src.poll(first.cursor)
    assert again.items == []
    route.body = feed_with([("c", "阿克米 three"), ("a", "阿克米 one"), ("b", "阿克米 two")])
    third = src.poll(again.cursor)
    assert [i.external_id for i in third.items] == ["c"]
    assert third.cursor["seen"] == ["c", "a", "b"]


def test_seen_ids_are_capped_keeping_the_current_feed(http_server, clock, tmp_path):
    old = [f"old-{i}" for i in range(defaults.SEEN_IDS_KEPT)]
    http_server.route("/feed.xml", body=feed_with([("new", "fresh")]))
    result = rss(http_server, clock, tmp_path).poll({"etag": None, "last_modified": None, "seen": old})
    assert len(result.cursor["seen"]) == defaults.SEEN_IDS_KEPT
    assert result.cursor["seen"][0] == "new" and "old-0" in result.cursor["seen"]
    assert f"old-{defaults.SEEN_IDS_KEPT - 1}" not in result.cursor["seen"]


def test_entry_without_id_gets_a_stable_content_hash(http_server, clock, tmp_path):
    body = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><title>no id, no link</title><description>text</description></item>"
        b"<item><description></description></item></channel></rss>"
    )
    http_server.route("/feed.xml", body=body)
    first = rss(http_server, clock, tmp_path).poll(None)
    again = rss(http_server, clock, tmp_path).poll(None)
    assert len(first.items) == 1 and first.items[0].external_id.startswith("sha1:")
    assert first.items[0].external_id == again.items[0].external_id
    assert len(first.errors) == 1 and "neither title nor text" in str(first.errors[0])


def test_billion_laughs_is_refused(http_server, clock, tmp_path):
    http_server.route("/feed.xml", body=data("billion_laughs.xml"))
    with pytest.raises(ParseError) as exc:
        rss(http_server, clock, tmp_path).poll(None)
    assert "unsafe XML refused" in str(exc.value) and "source=src" in str(exc.value)


@pytest.mark.parametrize("malformed", [False, True])
def test_xxe_is_refused_and_the_local_file_never_leaks(http_server, clock, tmp_path, malformed):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN-4711")
    doc = data("xxe.xml.tmpl").decode().replace("{SECRET_PATH}", str(secret))
    if malformed:  # not well-formed: only feedparser's lenient parser would look at it
        doc = doc.replace("</channel></rss>", "<broken></channel>")
    http_server.route("/feed.xml", body=doc.encode())
    with pytest.raises(ParseError) as exc:
        rss(http_server, clock, tmp_path).poll(None)
    assert "entity declarations" in str(exc.value)
    assert "TOP-SECRET" not in str(exc.value) and "TOP-SECRET" not in repr(exc.value.__dict__)


def test_truncated_xml_is_a_parse_error_naming_the_url(http_server, clock, tmp_path):
    http_server.route("/feed.xml", body=data("truncated.xml"))
    with pytest.raises(ParseError) as exc:
        rss(http_server, clock, tmp_path).poll(None)
    assert http_server.url("/feed.xml") in str(exc.value)
    assert "not a readable feed" in str(exc.value)


def test_html_page_served_as_a_feed_is_a_parse_error(http_server, clock, tmp_path):
    http_server.route("/feed.xml", body=data("not_a_feed.html"), headers={"Content-Type": "text/html"})
    with pytest.raises(ParseError, match="not a readable feed|not an RSS or Atom feed"):
        rss(http_server, clock, tmp_path).poll(None)


def test_well_formed_xhtml_is_not_a_feed(http_server, clock, tmp_path):
    http_server.route(
        "/feed.xml", body=b'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>hi</p></body></html>'
    )
    with pytest.raises(ParseError, match="not an RSS or Atom feed"):
        rss(http_server, clock, tmp_path).poll(None)


def test_a_not_well_formed_feed_with_entries_is_used(http_server, clock, tmp_path):
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>ACME&nbsp;news</title><guid>x1</guid><description>fine</description></item>"
        b"</channel></rss>"
    )
    http_server.route("/feed.xml", body=body)
    result = rss(http_server, clock, tmp_path).poll(None)
    assert [i.external_id for i in result.items] == ["x1"]


def test_an_empty_but_valid_feed_has_no_items(http_server, clock, tmp_path):
    http_server.route("/feed.xml", body=b'<rss version="2.0"><channel><title>quiet</title></channel></rss>')
    result = rss(http_server, clock, tmp_path).poll(None)
    assert result.items == [] and result.cursor["seen"] == []


def test_fetch_errors_propagate_from_poll(http_server, clock, tmp_path):
    http_server.route("/feed.xml", status=503, headers={"Retry-After": "30"})
    with pytest.raises(FetchError) as exc:
        rss(http_server, clock, tmp_path).poll(None)
    assert exc.value.retryable and exc.value.retry_after == 30.0 and exc.value.source_id == "src"
    with pytest.raises(FetchError) as exc:
        rss(http_server, clock, tmp_path, "/missing.xml").poll(None)
    assert exc.value.retryable is False and exc.value.status == 404


def test_size_cap_applies_to_feeds(http_server, clock, tmp_path):
    http_server.route("/feed.xml", body=data("rss2.xml"))
    with pytest.raises(FetchError, match="max_bytes=100"):
        rss(http_server, clock, tmp_path, max_bytes=100).poll(None)


@pytest.mark.parametrize(
    "opts, key",
    [
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "https://x.example/feed", "timeout": 0}, "timeout"),
        ({"url": "https://x.example/feed", "path": "a.xml"}, "path"),
        ({}, "url"),
    ],
)
def test_bad_options_name_the_key(clock, tmp_path, opts, key):
    with pytest.raises(ConfigError) as exc:
        make_source("rss", opts, base_dir=tmp_path, clock=clock)
    assert exc.value.key_path == key


def test_a_cut_off_feed_delivers_complete_entries_and_holds_back_the_last(http_server, clock, tmp_path):
    whole = data("rss2.xml")
    route = http_server.route("/feed.xml", body=whole[: whole.index(b"Monday")])  # inside item 2
    src = rss(http_server, clock, tmp_path)
    cut = src.poll(None)
    assert [i.external_id for i in cut.items] == ["news-1001"]
    route.body = whole
    full = src.poll(cut.cursor)
    assert [i.external_id for i in full.items] == [
        "https://news.example.com/2026/03/acme-stores",
        "https://news.example.com/2026/02/no-guid",
    ]
    assert "50 stores" in full.items[0].text


def test_relative_links_are_made_absolute_against_the_feed_url(http_server, clock, tmp_path):
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>rel</title>'
        b'<link>/posts/7</link><guid isPermaLink="false">p7</guid></item></channel></rss>'
    )
    http_server.route("/feed.xml", body=body)
    (item,) = rss(http_server, clock, tmp_path).poll(None).items
    assert item.url == http_server.url("/posts/7") and item.external_id == "p7"
