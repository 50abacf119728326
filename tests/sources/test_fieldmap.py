from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ConfigError, ParseError
from sources.fieldmap import PRESETS, FieldMap, RowMapper, lookup, merge_preset, parse_count, parse_time
from tests.sources.helpers import make_source

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-03-02T08:00:00Z", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        ("2026-03-02T16:00:00+08:00", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        ("2026-03-02 16:00:00", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),  # naive: local (Shanghai)
        ("2026/03/02 16:00", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        ("2026年03月02日 16:00", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        (1772438400, datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        ("1772438400", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        (1772438400500, datetime(2026, 3, 2, 8, 0, 0, 500000, tzinfo=UTC)),
        (1772438400.25, datetime(2026, 3, 2, 8, 0, 0, 250000, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_parse_time(value, expected):
    got = parse_time(value, tz=SHANGHAI)
    assert got == expected
    assert got is None or got.tzinfo is UTC


def test_parse_time_explicit_format_and_zone():
    assert parse_time(
        "02.03.2026 09h", tz=timezone(timedelta(hours=1)), time_format="%d.%m.%Y %Hh"
    ) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_time("2026-03-02", tz=SHANGHAI, time_format="%d.%m.%Y")
    for bad in ("昨天 12:00", "next tuesday", True):
        with pytest.raises(ValueError):
            parse_time(bad, tz=SHANGHAI)


@pytest.mark.parametrize(
    "value, expected",
    [
        (12, 12),
        ("1,234", 1234),
        ("1.2万", 12000),
        ("3亿", 300_000_000),
        ("1.5k", 1500),
        ("2w", 20000),
        ("100+", 100),
        (" 7 ", 7),
        (-3, 0),
        ("赞", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_count(value, expected):
    assert parse_count(value) == expected


def test_lookup_follows_dotted_paths():
    row = {"user": {"name": "小王", "tags": [{"t": "kol"}]}, "a.b": "literal wins"}
    assert lookup(row, "user.name") == "小王"
    assert lookup(row, "user.tags.0.t") == "kol"
    assert lookup(row, "a.b") == "literal wins"
    assert lookup(row, "user.missing") is None and lookup(row, "nope") is None


def test_every_preset_is_a_valid_field_map_with_chinese_headers():
    assert set(PRESETS) == {"weibo", "douyin", "xiaohongshu", "zhihu", "bilibili"}
    for name, columns in PRESETS.items():
        fm = FieldMap.model_validate(columns)
        assert fm.text and fm.id and fm.time and fm.engagement_columns(), name
        assert any("\u4e00" <= ch <= "\u9fff" for ch in fm.text), name
    assert PRESETS["weibo"]["text"] == "微博正文" and PRESETS["weibo"]["id"] == "微博id"


def test_explicit_fields_override_the_preset(tmp_path, clock):
    merged = merge_preset("weibo", {"text": "正文"})
    assert merged["text"] == "正文" and merged["author"] == "用户昵称"
    (tmp_path / "w.csv").write_text(
        "微博id,正文,用户昵称,发布时间\n1,阿克米,小王,2026-03-02 16:00:00\n", encoding="utf-8"
    )
    s = make_source(
        "file",
        {"path": "w.csv", "preset": "weibo", "fields": {"text": "正文"}},
        base_dir=tmp_path,
        clock=clock,
    )
    (item,) = s.poll(None).items
    assert (item.text, item.author, item.platform) == ("阿克米", "小王", "weibo")
    assert item.published_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert item.engagement == 0 and item.author_followers is None  # preset columns absent: no numbers


def test_unknown_preset_lists_the_valid_ones(tmp_path, clock):
    with pytest.raises(ConfigError) as exc:
        make_source("file", {"path": "w.csv", "preset": "tiktok"}, base_dir=tmp_path, clock=clock)
    lines = exc.value.lines() if hasattr(exc.value, "lines") else [str(exc.value)]
    assert any(line.startswith("preset:") and "'weibo'" in line and "'tiktok'" in line for line in lines)


def test_row_mapper_errors_name_the_place():
    mapper = RowMapper("s", FieldMap(text="body", time="t"), tz=SHANGHAI)
    with pytest.raises(ParseError) as exc:
        mapper.map({"body": "x", "t": "soon"}, where="exports/a.csv", line=7)
    assert str(exc.value).startswith("source=s url=exports/a.csv:7: cannot read time column 't' value 'soon'")
    with pytest.raises(ParseError, match="expected an object/row, got str"):
        mapper.map("just a string", where="a.json", entry="[3]")


def test_row_mapper_title_joins_text_without_repeating_it():
    mapper = RowMapper(
        "s", FieldMap(text="body", title="title", platform="site"), tz=SHANGHAI, platform="default"
    )
    a = mapper.map({"body": "正文内容", "title": "标题", "site": "zhihu"}, where="f", line=1)
    b = mapper.map({"body": "标题就是开头……", "title": "标题"}, where="f", line=2)
    assert (a.text, a.title, a.platform) == ("标题\n正文内容", "标题", "zhihu")
    assert (b.text, b.platform) == ("标题就是开头……", "default")
