"""Options of the ``file`` source kind (see sources/files.py for what they do).

    FileOptions.model_validate({"path": "demo/weibo.jsonl", "preset": "weibo"})

Exactly one of ``path``, ``glob`` (relative to the config folder), ``url``. ``format`` defaults
from the extension. ``preset`` fills ``fields`` with a platform's export columns; keys given in
``fields`` win. ``encoding`` must be ASCII-compatible (utf-8 with or without BOM, gb18030,
gbk, ...) because records are split on raw bytes.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator, model_validator

from monitor import defaults
from sources.base import SourceOptions
from sources.fieldmap import PRESETS, FieldMap, apply_preset
from sources.http import check_http_url


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone, else a ValueError naming an example (file and push sources)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown IANA time zone (e.g. 'Asia/Shanghai', 'UTC')") from None
    return name

_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class FileOptions(SourceOptions):
    path: str | None = None
    glob: str | None = None
    url: str | None = None
    format: Literal["json", "jsonl", "csv"] | None = Field(None, validate_default=True)
    encoding: str = "utf-8"
    delimiter: str = ","
    list_key: str | None = None  # JSON object exports: the (dotted) key holding the records
    preset: Literal[tuple(PRESETS)] | None = None  # type: ignore[valid-type]
    fields: FieldMap
    time_format: str | None = None
    timezone: str = "Asia/Shanghai"
    platform: str | None = None
    max_items_per_poll: int = Field(defaults.FILE_MAX_ITEMS_PER_POLL, ge=1)
    replay: bool = False
    timeout: float = Field(defaults.HTTP_TIMEOUT_SECONDS, gt=0)  # url only
    max_bytes: int = Field(defaults.HTTP_MAX_BYTES, gt=0)  # url, and whole JSON files

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        return apply_preset(data)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_http_url(v)

    @field_validator("format")
    @classmethod
    def _format(cls, v: str | None, info: ValidationInfo) -> str | None:
        """Default: from the extension of path, glob or url."""
        if v is not None:
            return v
        where = (
            info.data.get("path") or info.data.get("glob") or (info.data.get("url") or "").split("?", 1)[0]
        )
        if not where:
            return None  # no location: _one_location reports that
        suffix = Path(where).suffix.lower().rstrip("*?")  # glob "app.jsonl*" covers rotated files
        if suffix not in _EXTENSIONS:
            raise ValueError(f"cannot tell the format from {where!r}; set format: json, jsonl or csv")
        return _EXTENSIONS[suffix]

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str) -> str:
        try:
            name = codecs.lookup(v).name
        except LookupError:
            raise ValueError("unknown encoding") from None
        name = "utf-8" if name == "utf-8-sig" else name  # a BOM is always dropped anyway
        if '\n,"'.encode(name) != b'\n,"':
            raise ValueError("must be an ASCII-compatible encoding such as utf-8, gb18030, gbk, latin-1")
        return name

    _timezone = field_validator("timezone")(lambda cls, v: check_timezone(v))

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, v: str) -> str:
        if len(v) != 1 or v in '"\r\n':
            raise ValueError("must be one character other than a quote or newline")
        return v

    @field_validator("time_format")
    @classmethod
    def _time_format(cls, v: str | None) -> str | None:
        if v is not None and "%" not in v:
            raise ValueError("must be a strptime format such as '%Y-%m-%d %H:%M:%S'")
        return v

    @model_validator(mode="after")
    def _one_location(self) -> FileOptions:
        given = [k for k in ("path", "glob", "url") if getattr(self, k)]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            raise ValueError(f"set exactly one of path, glob, url (got {got})")
        return self

    def resolved_format(self) -> str:
        assert self.format is not None, "set by the format validator"
        return self.format
