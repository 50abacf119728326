"""The BrandPulse error tree. Every error knows where it happened and says it in one line.

    BrandPulseError
     ├── ConfigError(file, key_path)          bad config or plan; ConfigErrors groups many
     ├── SourceError(source_id, url)
     │    ├── FetchError(retryable, status)    network / HTTP failure
     │    └── ParseError(line, entry)          a malformed feed, file or row
     ├── StoreError                            database unreachable or inconsistent
     ├── ModelError(path)                      sentiment model artifact missing or corrupt
     └── NotifyError(channel, retryable, reason)

Messages quote the bad value with repr() and never contain secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class BrandPulseError(Exception):
    """Base class; ``str(err)`` is a complete one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the caller passed

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(BrandPulseError):
    """A configuration or plan problem: ``file: key.path: what is wrong``."""

    def __init__(self, problem: str, *, file: str | None = None, key_path: str | None = None) -> None:
        self.file = file
        self.key_path = key_path
        self.problem = problem
        where = ": ".join(p for p in (file, key_path) if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class ConfigErrors(ConfigError):
    """Several configuration problems found at once; each stays available in ``errors``."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = list(errors)
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more problems)" if len(self.errors) > 1 else ""
        super().__init__(first.problem + more, file=first.file, key_path=first.key_path)

    def lines(self) -> list[str]:
        return [str(e) for e in self.errors]

    @classmethod
    def collect(cls, errors: Iterable[ConfigError]) -> None:
        """Raise the collected errors, if any (one alone is raised as itself)."""
        errors = list(errors)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise cls(errors)


class SourceError(BrandPulseError):
    def __init__(self, problem: str, *, source_id: str | None = None, url: str | None = None) -> None:
        self.source_id = source_id
        self.url = url
        self.problem = problem
        where = " ".join(p for p in (f"source={source_id}" if source_id else "", f"url={url}" if url else "") if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class FetchError(SourceError):
    """Fetching failed. ``retryable`` says whether the next poll may succeed unchanged."""

    def __init__(
        self,
        problem: str,
        *,
        source_id: str | None = None,
        url: str | None = None,
        retryable: bool = True,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after  # seconds, from a Retry-After header
        super().__init__(problem, source_id=source_id, url=url)


class ParseError(SourceError, ValueError):
    """Content that cannot be read: a malformed feed, a bad export row (with its line)."""

    def __init__(
        self,
        problem: str,
        *,
        source_id: str | None = None,
        url: str | None = None,
        line: int | None = None,
        entry: str | None = None,
    ) -> None:
        self.line = line
        self.entry = entry
        loc = url or ""
        if line is not None:
            loc = f"{loc}:{line}" if loc else f"line {line}"
        if entry is not None:
            problem = f"entry {entry!r}: {problem}"
        super().__init__(problem, source_id=source_id, url=loc or None)


class StoreError(BrandPulseError):
    pass


class ModelError(BrandPulseError):
    def __init__(self, problem: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}" if path else problem)


class NotifyError(BrandPulseError):
    """A notification was not delivered. Retry later when ``retryable``; otherwise give up."""

    def __init__(self, problem: str, *, channel: str, retryable: bool, reason: str = "error") -> None:
        self.channel = channel
        self.retryable = retryable
        self.reason = reason  # short metric label: timeout, http_5xx, http_4xx, refused, ...
        super().__init__(f"channel={channel} reason={reason}: {problem}")


class AlertStateError(BrandPulseError):
    """An alert cannot make the asked state change (e.g. acknowledging a resolved alert), or
    does not exist. ``alert_id`` says which one."""

    def __init__(self, problem: str, *, alert_id: int | None = None) -> None:
        self.alert_id = alert_id
        self.problem = problem
        super().__init__(f"alert {alert_id}: {problem}" if alert_id is not None else problem)
