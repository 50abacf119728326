"""sources.charset: which encoding a feed is really in (end to end: tests/faults/test_source_faults.py)."""

from __future__ import annotations

import opencc
import pytest

from sources.charset import sniff, to_utf8

SIMPLIFIED = ("<rss><channel><title>新闻</title><item><title>阿克米咖啡门店开业，拿铁买一送一</title></item>"
              "</channel></rss>")
TRADITIONAL = opencc.OpenCC("s2t").convert(SIMPLIFIED)


def decl(encoding: str) -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>'


@pytest.mark.parametrize("content, content_type, expected", [
    (SIMPLIFIED.encode(), None, "utf-8"),
    ((decl("gb18030") + SIMPLIFIED).encode("utf-8"), None, "utf-8"),  # valid UTF-8 wins over a wrong declaration
    ((decl("gb18030") + SIMPLIFIED).encode("gb18030"), "text/xml; charset=iso-8859-1", "gb18030"),
    ((decl("big5") + TRADITIONAL).encode("big5"), "application/rss+xml; charset=utf-8", "big5"),
    (SIMPLIFIED.encode("gb18030"), None, "gb18030"),  # no label at all
    (TRADITIONAL.encode("big5"), "text/xml", "big5"),
    (TRADITIONAL.encode("big5"), "text/xml; charset=iso-8859-1", "big5"),  # a Western label yields to clear Chinese
    ((decl("iso-8859-1") + "<rss><title>Café à Genève, été</title></rss>").encode("latin-1"), None, "iso8859-1"),
    (b"\xff\xfe" + SIMPLIFIED.encode("utf-16-le"), None, "utf-16"),
    (SIMPLIFIED.encode()[:-70], None, "utf-8"),  # cut inside a character: still UTF-8
], ids=["utf8", "utf8-mislabelled", "gb18030-wrong-http", "big5-wrong-http", "gb18030-unlabelled",
        "big5-unlabelled", "big5-latin1-label", "latin1", "utf16-bom", "utf8-truncated"])
def test_sniff(content: bytes, content_type: str | None, expected: str) -> None:
    assert sniff(content, content_type) == expected


def test_to_utf8_rewrites_the_declaration_and_the_content_type() -> None:
    data, ctype = to_utf8((decl("GB18030") + SIMPLIFIED).encode("gb18030"), 'text/xml; charset="ISO-8859-1"')
    assert data.decode("utf-8") == decl("utf-8") + SIMPLIFIED
    assert ctype == "text/xml; charset=utf-8"
    ascii_feed = b"<rss><channel><title>ACME</title></channel></rss>"
    assert to_utf8(ascii_feed, None) == (ascii_feed, None)
