"""RSS and Atom feeds: fetched by sources.http, checked by defusedxml, parsed by feedparser.

Config (kind ``rss``)::

    - id: news-acme
      kind: rss
      url: https://news.example.com/acme.xml
      timeout: 20          # seconds, optional
      max_bytes: 20971520  # optional

Cursor: ``{"etag", "last_modified", "seen": [entry ids, newest feed first]}``. The validators
make an unchanged feed a cheap 304; ``seen`` keeps entries already delivered from being
delivered again when the server sends no validators (or changes them on every request).

Security: feedparser only ever sees bytes (never a URL or path it could open itself), and
only after defusedxml parsed them without entity declarations or external references, so
billion-laughs and XXE documents are refused with a ParseError.
"""

from __future__ import annotations

import io
import logging
import re
import xml.etree.ElementTree as StdET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urljoin

import defusedxml.ElementTree as SafeET
import feedparser
from defusedxml import DefusedXmlException
from pydantic import Field, field_validator

from monitor import defaults
from monitor.clock import Clock, SystemClock
from monitor.errors import ParseError
from monitor.models import RawItem
from sources.base import PollResult, SourceOptions, content_id, join_title, strip_html
from sources.charset import to_utf8
from sources.http import HttpFetcher, check_http_url, redact_url

log = logging.getLogger(__name__)

# An entity declaration anywhere: refused even when the document is not well-formed XML
# (defusedxml only sees well-formed ones; feedparser's lenient parser sees the rest).
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)
_BENIGN = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


class RssOptions(SourceOptions):
    url: str
    timeout: float = Field(defaults.HTTP_TIMEOUT_SECONDS, gt=0)
    max_bytes: int = Field(defaults.HTTP_MAX_BYTES, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v)


def refuse_unsafe_xml(content: bytes, *, url: str, source_id: str | None) -> None:
    """Raise ParseError for XML using entity declarations or external references."""
    try:
        SafeET.fromstring(content)
        return
    except DefusedXmlException as exc:
        raise ParseError(
            f"unsafe XML refused ({type(exc).__name__}): entity declarations and "
            "external references are not allowed",
            source_id=source_id,
            url=url,
        ) from None
    except (StdET.ParseError, ValueError):
        pass  # not well-formed: feedparser's lenient parser decides below
    texts = [content.decode("latin-1")]
    for enc in ("utf-16", "utf-32"):  # wide encodings hide the ASCII bytes of "<!ENTITY"
        try:
            texts.append(content.decode(enc))
        except UnicodeDecodeError:
            pass
    if any(_ENTITY_DECL.search(t) for t in texts):
        raise ParseError(
            "unsafe XML refused: entity declarations are not allowed", source_id=source_id, url=url
        )


def parse_feed(
    content: bytes, *, url: str, content_type: str | None, source_id: str | None
) -> feedparser.FeedParserDict:
    """Parse feed bytes leniently, as real feeds need; ParseError when nothing usable."""
    # Decoded here, on evidence, not by feedparser's RFC 3023 rules: a GB18030 or Big5 feed
    # with a wrong or missing charset would otherwise be mojibake that matches no brand.
    content, content_type = to_utf8(content, content_type)
    refuse_unsafe_xml(content, url=url, source_id=source_id)
    # No content-location: feedparser would rewrite relative guids ("a") into URLs, and ids
    # must stay as the feed wrote them. Links are made absolute in entry_to_item instead.
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    # A BytesIO, never bytes: feedparser tries to open() a bytes argument as a file name.
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
    reason = parsed.get("bozo_exception")
    # A missing or odd Content-Type or a declared encoding that was wrong still parsed fine.
    malformed = bool(parsed.get("bozo")) and not isinstance(reason, _BENIGN)
    if not parsed.entries:
        if malformed:
            raise ParseError(
                f"not a readable feed: {type(reason).__name__}: {reason}", source_id=source_id, url=url
            )
        if not parsed.get("version"):
            raise ParseError("not an RSS or Atom feed (no feed element found)", source_id=source_id, url=url)
    elif malformed:
        log.info(
            "feed is not well-formed, using %s entries anyway source=%s url=%s reason=%r",
            len(parsed.entries),
            source_id,
            url,
            str(parsed.get("bozo_exception")),
        )
    return parsed


_ENDS_WITH_CLOSING_TAG = re.compile(rb"</\s*[\w:.-]+\s*>\s*$")


def looks_truncated(parsed: feedparser.FeedParserDict, content: bytes) -> bool:
    """A malformed document that does not end with a closing tag was cut off mid-transfer:
    its last entry may be incomplete. (Cut right after ``</item>``, the last one is whole.)"""
    reason = parsed.get("bozo_exception")
    if not parsed.get("bozo") or isinstance(reason, _BENIGN):
        return False
    return not _ENDS_WITH_CLOSING_TAG.search(content[-200:])


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        t = entry.get(key)
        if t:
            try:  # feedparser normalises to UTC
                return datetime(t[0], t[1], t[2], t[3], t[4], t[5], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


def entry_to_item(entry: Any, *, source_id: str, feed_title: str | None, base_url: str = "") -> RawItem:
    title = strip_html(entry.get("title") or "") or None
    link = entry.get("link") or None
    if link and base_url:
        link = urljoin(base_url, link)
    body_html = entry.get("summary") or ""
    contents = entry.get("content") or []
    if contents and len(contents[0].get("value") or "") > len(body_html):
        body_html = contents[0].get("value") or ""
    body = strip_html(body_html)
    external_id = entry.get("id") or entry.get("link") or content_id(title, link, body)
    text = join_title(title, body)
    if not text:
        raise ParseError("entry has neither title nor text", source_id=source_id, entry=str(external_id))
    extra: dict[str, Any] = {}
    if feed_title:
        extra["feed"] = feed_title
    return RawItem(
        source_id=source_id,
        external_id=str(external_id),
        text=text,
        url=link,
        author=entry.get("author") or None,
        title=title,
        published_at=_entry_time(entry),
        platform="rss",
        extra=extra,
    )


class RssSource:
    """An RSS 2.0 / Atom feed.

    src = RssSource("news", RssOptions(url="https://example.com/feed.xml"))
    r1 = src.poll(None)          # everything in the feed
    r2 = src.poll(r1.cursor)     # only entries not delivered before (often a 304)
    """

    kind: ClassVar[str] = "rss"
    options_model: ClassVar[type[RssOptions]] = RssOptions

    def __init__(
        self, source_id: str, options: RssOptions, *, base_dir: Path | None = None, clock: Clock | None = None
    ) -> None:
        self.id = source_id
        self.options = options
        self._fetcher = HttpFetcher(options.timeout, options.max_bytes, clock=clock or SystemClock())

    def close(self) -> None:
        self._fetcher.close()

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        prev = cursor or {}
        seen_before: list[str] = [str(s) for s in prev.get("seen") or []]
        url = self.options.url
        res = self._fetcher.fetch(
            url, etag=prev.get("etag"), last_modified=prev.get("last_modified"), source_id=self.id
        )
        if res.content is None:
            return PollResult([], {"etag": res.etag, "last_modified": res.last_modified, "seen": seen_before})
        parsed = parse_feed(
            res.content, url=redact_url(url), content_type=res.content_type, source_id=self.id
        )
        feed_title = strip_html(parsed.feed.get("title") or "") or None
        seen = set(seen_before)
        current: list[str] = []  # ids in this feed, in feed order
        current_set: set[str] = set()
        items: list[RawItem] = []
        errors: list[ParseError] = []
        entries = list(parsed.entries)
        if looks_truncated(parsed, res.content) and len(entries) > 0:
            # Not delivered and not marked seen: it comes whole with the next complete fetch.
            log.info("feed cut off, holding back its last entry source=%s", self.id)
            entries.pop()
        for entry in entries:
            try:
                item = entry_to_item(entry, source_id=self.id, feed_title=feed_title, base_url=res.url)
            except ParseError as err:
                errors.append(err)
                continue
            if item.external_id in current_set:
                continue  # the same entry twice in one feed
            current.append(item.external_id)
            current_set.add(item.external_id)
            if item.external_id not in seen:
                items.append(item)
        # Ids still in the feed come first so they are never trimmed while they can reappear.
        kept = current + [s for s in seen_before if s not in current_set]
        new_cursor = {
            "etag": res.etag,
            "last_modified": res.last_modified,
            "seen": kept[: defaults.SEEN_IDS_KEPT],
        }
        log.debug("feed polled source=%s entries=%s new=%s", self.id, len(parsed.entries), len(items))
        return PollResult(items, new_cursor, errors=errors)
