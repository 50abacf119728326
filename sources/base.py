"""What every source kind shares: the Source protocol, PollResult, the options base model.

A source kind is a class with ``kind``, an ``options_model`` (a :class:`SourceOptions`
subclass) and a constructor ``(source_id, options, *, base_dir, clock)``; it is registered in
``sources/__init__.py``. The pipeline only ever calls ``poll(cursor)`` and ``close()``::

    source = build_source("demo-weibo", "file", {"path": "demo/weibo.jsonl", ...},
                          base_dir=config_dir, clock=SystemClock())
    result = source.poll(saved_cursor)        # None on the very first poll
    store(result.items, result.cursor)        # one transaction: mentions + cursor
    for err in result.errors: log and count   # rows skipped, the poll still succeeded
    if result.more: poll again soon
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from monitor.errors import ConfigError, ParseError
from monitor.models import RawItem


@dataclass(frozen=True)
class PollResult:
    """What one poll delivered.

    ``cursor`` is JSON-serialisable and opaque to the caller: it is saved in the same
    transaction as ``items`` and handed back to the next ``poll``. ``more`` asks for a quick
    follow-up poll (a per-poll cap was hit). ``errors`` are skipped rows or entries; the poll
    itself succeeded and the cursor has moved past them.
    """

    items: list[RawItem]
    cursor: dict[str, Any]
    more: bool = False
    errors: list[ParseError] = field(default_factory=list)


@runtime_checkable
class Source(Protocol):
    """A configured feed or export. ``poll`` raises FetchError (see ``retryable``,
    ``retry_after``) or ParseError when the whole feed or file is unreadable."""

    kind: ClassVar[str]
    id: str

    def poll(self, cursor: dict[str, Any] | None) -> PollResult: ...

    def close(self) -> None: ...


class SourceOptions(BaseModel):
    """Base of every kind's options model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _loc_path(loc: tuple[int | str, ...]) -> str | None:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or None


def config_errors(exc: ValidationError, model: type[BaseModel]) -> list[ConfigError]:
    """Turn a pydantic ValidationError into ConfigErrors with key paths relative to the
    source entry (``fields.text``); the config loader prefixes ``sources[2].``."""
    errors: list[ConfigError] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            parent = model
            for part in loc[:-1]:  # walk nested models so the hint lists the right keys
                ann = parent.model_fields.get(str(part)) if isinstance(part, str) else None
                sub = getattr(ann, "annotation", None) if ann else None
                parent = sub if isinstance(sub, type) and issubclass(sub, BaseModel) else parent
            valid = ", ".join(sorted(parent.model_fields))
            problem = f"unknown key {loc[-1]!r} (valid keys: {valid})"
        elif kind == "missing":
            problem = "required key is missing"
        else:
            msg = str(err.get("msg", "invalid value"))
            msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            value = err.get("input")
            shown = "" if value is None or isinstance(value, dict) else f" (got {value!r})"
            problem = f"{msg}{shown}"
        errors.append(ConfigError(problem, key_path=_loc_path(loc)))
    return errors


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
    _SKIP = {"script", "style"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_TAG_HINT = re.compile(r"<[A-Za-z/!]")


def strip_html(markup: str) -> str:
    """Visible text of an HTML fragment: tags dropped, entities decoded, whitespace tidied
    (block elements become line breaks, runs of spaces one space, empty lines dropped)."""
    if _TAG_HINT.search(markup):
        parser = _TextExtractor()
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = unescape(markup)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def join_title(title: str | None, body: str) -> str:
    """The text a RawItem carries: title and body joined, without repeating a title the body
    already starts with (microblog feeds often use the first words of the body as title)."""
    title = (title or "").strip()
    body = body.strip()
    if not title or body.startswith(title.rstrip(".…")):
        return body or title
    if not body:
        return title
    return f"{title}\n{body}"


def content_id(*parts: str | None) -> str:
    """A stable id for an item that has none: sha1 over its identifying fields."""
    h = hashlib.sha1()
    for p in parts:
        h.update((p or "").encode("utf-8"))
        h.update(b"\x1f")  # unit separator, so ("ab", "c") and ("a", "bc") differ
    return "sha1:" + h.hexdigest()
