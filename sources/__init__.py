"""Source adapters: fetch raw items and remember where they left off.

Every source kind is registered here, the built-in ones exactly as a new one would be::

    SOURCE_KINDS = {"rss": RssSource, "file": FileSource}

    source = build_source("news", "rss", {"url": "https://example.com/feed.xml"},
                          base_dir=Path("config"), clock=SystemClock())
    result = source.poll(cursor)     # PollResult(items, cursor, more, errors)
    source.close()

Adding a kind: write ``sources/<kind>.py`` with a class that has ``kind``, ``options_model``
(a SourceOptions subclass) and ``__init__(source_id, options, *, base_dir, clock)``, then add
one line to SOURCE_KINDS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.clock import Clock
from monitor.errors import ConfigError, ConfigErrors
from sources.base import PollResult, Source, SourceOptions, config_errors
from sources.files import FileSource
from sources.push import PushSource
from sources.rss import RssSource

__all__ = ["SOURCE_KINDS", "PollResult", "Source", "SourceOptions", "build_source", "resolve_source_kind"]

SOURCE_KINDS: dict[str, type[Any]] = {
    "rss": RssSource,
    "file": FileSource,
    "push": PushSource,  # records POSTed to /api/v1/push/{id}, spooled by monitor/api_push.py
}


def resolve_source_kind(kind: str) -> type[Any]:
    """The class for ``kind``; ConfigError (key ``kind``) naming the valid kinds otherwise."""
    try:
        return SOURCE_KINDS[kind]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(SOURCE_KINDS))
        raise ConfigError(f"unknown source kind {kind!r} (valid kinds: {valid})", key_path="kind") from None


def build_source(
    source_id: str, kind: str, options: dict[str, Any], *, base_dir: Path, clock: Clock
) -> Source:
    """Validate ``options`` with the kind's own model and construct the source.

    Raises ConfigError (or ConfigErrors holding every problem) whose ``key_path`` is
    relative to the source entry, e.g. ``fields.text``; the config loader prefixes it with
    ``sources[2].``. ``options`` excludes the common keys (id, kind, interval, enabled).
    """
    cls = resolve_source_kind(kind)
    model = cls.options_model
    try:
        parsed = model.model_validate(options)
    except ValidationError as exc:
        ConfigErrors.collect(config_errors(exc, model))
        raise  # unreachable: a ValidationError always carries at least one error
    source: Source = cls(source_id, parsed, base_dir=Path(base_dir), clock=clock)
    return source
