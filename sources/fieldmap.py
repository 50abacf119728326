"""Export rows onto RawItem: the ``fields`` option, platform presets, value parsing.

``fields`` names, for each RawItem field, the export column that holds it::

    fields: {id: mid, text: text, author: user, time: created_at,
             engagement: [reposts, comments, likes], followers: followers}

A column name may be a dotted path into nested JSON objects (``user.screen_name``). A
preset fills in the columns a platform's export tool writes (Chinese headers, as the CSV
exports of those tools use them); explicit ``fields`` keys override the preset's::

    preset: weibo
    fields: {text: 正文}      # everything else from the weibo preset

Times: ISO-8601 (naive ones are in the source's ``timezone``), epoch seconds or
milliseconds, the common local formats of Chinese exports (``2024-05-01 12:30:00``,
``2024/05/01 12:30``, ``2024年05月01日 12:30``), or the explicit ``time_format``.
Counts: ``1,234``, ``1.2万`` (10^4), ``3亿`` (10^8), ``1.5k``, ``2w``; anything else counts 0.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from monitor.errors import ParseError
from monitor.models import RawItem
from sources.base import content_id, join_title

log = logging.getLogger(__name__)


class FieldMap(BaseModel):
    """RawItem field -> export column (``engagement`` may sum several columns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    id: str | None = None
    title: str | None = None
    author: str | None = None
    time: str | None = None
    url: str | None = None
    engagement: str | tuple[str, ...] | None = None
    followers: str | None = None
    platform: str | None = None

    @field_validator("engagement", mode="before")
    @classmethod
    def _engagement(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    def engagement_columns(self) -> tuple[str, ...]:
        if self.engagement is None:
            return ()
        return (self.engagement,) if isinstance(self.engagement, str) else self.engagement


# Column names as the platforms' own export tools and the common listening tools write them.
PRESETS: dict[str, dict[str, Any]] = {
    "weibo": {
        "id": "微博id",
        "text": "微博正文",
        "author": "用户昵称",
        "time": "发布时间",
        "url": "微博链接",
        "engagement": ["转发数", "评论数", "点赞数"],
        "followers": "粉丝数",
    },
    "douyin": {
        "id": "视频id",
        "text": "视频描述",
        "author": "作者昵称",
        "time": "发布时间",
        "url": "视频链接",
        "engagement": ["点赞数", "评论数", "分享数", "收藏数"],
        "followers": "粉丝数",
    },
    "xiaohongshu": {
        "id": "笔记id",
        "title": "笔记标题",
        "text": "笔记内容",
        "author": "博主昵称",
        "time": "发布时间",
        "url": "笔记链接",
        "engagement": ["点赞数", "收藏数", "评论数", "分享数"],
        "followers": "粉丝数",
    },
    "zhihu": {
        "id": "回答id",
        "title": "问题标题",
        "text": "回答内容",
        "author": "作者",
        "time": "发布时间",
        "url": "回答链接",
        "engagement": ["赞同数", "评论数"],
        "followers": "粉丝数",
    },
    "bilibili": {
        "id": "BV号",
        "title": "视频标题",
        "text": "视频简介",
        "author": "UP主",
        "time": "发布时间",
        "url": "视频链接",
        "engagement": ["点赞数", "投币数", "收藏数", "评论数", "分享数"],
        "followers": "粉丝数",
    },
}


def apply_preset(data: Any) -> Any:
    """A source's raw options with its ``preset`` expanded: the preset's columns under the
    ``fields`` given, and ``platform`` defaulting to the preset's name. Anything that is not a
    known preset name (a typo, a list) is left for the options model to reject with its path."""
    preset = data.get("preset") if isinstance(data, dict) else None
    if not isinstance(preset, str) or preset not in PRESETS:
        return data
    fields = data.get("fields")
    data = dict(data)
    data["fields"] = merge_preset(preset, fields if isinstance(fields, dict) else None)
    data.setdefault("platform", preset)
    return data


def merge_preset(preset: str, fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """The preset's columns with ``fields`` on top. KeyError for an unknown preset."""
    merged = dict(PRESETS[preset])
    merged.update(fields or {})
    return merged


_COUNT = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(万|w|W|亿|k|K|千)?\+?\s*$")
_MULTIPLIER = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "k": 1_000, "K": 1_000, "千": 1_000}


def parse_count(value: Any) -> int | None:
    """A non-negative count as exports write it; None when there is no number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(0, value)
    # NaN, Infinity (JSON exports may hold them) and 400-digit "counts" are no number either:
    # int() of them raised and stalled the source on that row.
    if isinstance(value, float):
        return max(0, int(value)) if math.isfinite(value) else None
    m = _COUNT.match(str(value))
    if not m:
        return None
    number = float(m.group(1).replace(",", "")) * _MULTIPLIER.get(m.group(2) or "", 1)
    return int(round(number)) if math.isfinite(number) else None


_LOCAL_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
)
_EPOCH = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
# Epoch values at or above this are milliseconds (1e11 s is the year 5138).
_MILLIS_FROM = 100_000_000_000


def parse_time(value: Any, *, tz: tzinfo, time_format: str | None = None) -> datetime | None:
    """An aware UTC datetime, None for an empty value; ValueError when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float) or (isinstance(value, str) and _EPOCH.match(value)):
        number = float(value)
        if abs(number) >= _MILLIS_FROM:
            number /= 1000.0
        return datetime.fromtimestamp(number, UTC)
    text = str(value).strip()
    if time_format:
        dt = datetime.strptime(text, time_format)
    else:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            for fmt in _LOCAL_FORMATS:
                try:
                    dt = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
            else:
                raise ValueError("not ISO-8601, epoch seconds/milliseconds or a known local format") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


def lookup(row: Mapping[str, Any], column: str) -> Any:
    """``row[column]``, or a dotted path into nested objects; None when absent."""
    if column in row:
        return row[column]
    if "." not in column:
        return None
    node: Any = row
    for part in column.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return None
    s = str(value).strip()
    return s or None


class RowMapper:
    """Maps one export row (a dict) onto a RawItem.

    mapper = RowMapper("demo-weibo", FieldMap(text="text", id="mid"), tz=ZoneInfo("Asia/Shanghai"))
    item = mapper.map({"mid": "1", "text": "..."}, where="weibo.jsonl", line=3)
    """

    def __init__(
        self,
        source_id: str,
        fields: FieldMap,
        *,
        tz: tzinfo,
        time_format: str | None = None,
        platform: str | None = None,
    ) -> None:
        self.source_id = source_id
        self.fields = fields
        self.tz = tz
        self.time_format = time_format
        self.platform = platform

    def _fail(self, problem: str, where: str, line: int | None, entry: str | None) -> ParseError:
        return ParseError(problem, source_id=self.source_id, url=where, line=line, entry=entry)

    def row_time(
        self, row: Mapping[str, Any], *, where: str, line: int | None = None, entry: str | None = None
    ) -> datetime | None:
        if not self.fields.time:
            return None
        raw = lookup(row, self.fields.time)
        try:
            return parse_time(raw, tz=self.tz, time_format=self.time_format)
        except (ValueError, OverflowError, OSError) as exc:
            raise self._fail(
                f"cannot read time column {self.fields.time!r} value {raw!r}: {exc}", where, line, entry
            ) from None

    def map(
        self, row: Any, *, where: str, line: int | None = None, entry: str | None = None, shift: float = 0.0
    ) -> RawItem:
        """The RawItem for ``row``; ParseError naming ``where``/``line`` when it is unusable.
        ``shift`` (seconds) is added to the time (replay)."""
        f = self.fields
        if not isinstance(row, Mapping):
            raise self._fail(f"expected an object/row, got {type(row).__name__}", where, line, entry)
        body = _text(lookup(row, f.text))
        if body is not None:
            body = body.replace("\r\n", "\n")  # multi-line CSV cells keep the exporter's CRLF
        if body is None:
            raise self._fail(f"text column {f.text!r} is missing or empty", where, line, entry)
        title = _text(lookup(row, f.title)) if f.title else None
        author = _text(lookup(row, f.author)) if f.author else None
        url = _text(lookup(row, f.url)) if f.url else None
        published = self.row_time(row, where=where, line=line, entry=entry)
        raw_time = _text(lookup(row, f.time)) if f.time else None
        if published is not None and shift:
            try:
                published += timedelta(seconds=shift)
            except OverflowError:
                raise self._fail(f"time {raw_time!r} moved by the replay shift ({shift:.0f}s) is out of range",
                                 where, line, entry) from None
        external_id = _text(lookup(row, f.id)) if f.id else None
        if external_id is None:
            # Content only (never the file name or line), so a re-read or re-exported file
            # yields the same ids; engagement is left out because it changes between exports.
            external_id = content_id(body, title, author, raw_time, url)
        engagement = 0
        for column in f.engagement_columns():
            engagement += parse_count(lookup(row, column)) or 0
        followers = parse_count(lookup(row, f.followers)) if f.followers else None
        platform = (_text(lookup(row, f.platform)) if f.platform else None) or self.platform
        origin = f"{where}:{line}" if line is not None else f"{where}{entry or ''}"
        return RawItem(
            source_id=self.source_id,
            external_id=external_id,
            text=join_title(title, body),
            url=url,
            author=author,
            title=title,
            published_at=published,
            engagement=engagement,
            author_followers=followers,
            platform=platform,
            extra={"origin": origin},
        )
