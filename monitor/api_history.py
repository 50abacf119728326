"""The mention history over HTTP: search, one mention with its corrections, correcting, series.

    GET  /api/v1/mentions?brand=acme&sentiment=negative&since=7d&q=乳业&limit=50[&cursor=...]
         -> {"ok": true, "mentions": [...], "next_cursor": "..." | null}
    GET  /api/v1/mentions/{id}                 -> {"ok": true, "mention": {...}, "corrections": [...]}
    POST /api/v1/mentions/{id}/corrections     {"kind": "sentiment", "sentiment": "negative", "by": "王五", "note": ""}
                                               {"kind": "irrelevant" | "restore", "brand": "acme", "by": ...}
         -> {"ok": true, "correction": {...}, "mention": {...}}
    GET  /api/v1/brands/{brand}/series?since=7d&until=&bucket=15m
         -> {"ok": true, "brand": "acme", "bucket_seconds": 900, "points": [{"start", "negative", ...}]}
    GET  /api/v1/openapi.json                  the OpenAPI 3.1 description of every /api/v1 route

Errors use the API's one shape ``{"ok": false, "error", "status"}``: 400 for a bad parameter
(an unknown parameter name too, so a typo never silently widens a selection), 404 for an
unknown mention or brand, 409 for a correction that conflicts with the current state. Roles
are declared on the routes; monitor.api checks them before a handler runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from monitor import defaults
from monitor.api import HttpError, Response, Route, _json, _read_body
from monitor.errors import BrandPulseError
from monitor.store import corrections
from monitor.store.corrections import CorrectionError
from monitor.store.query import (
    MAX_PAGE,
    ORDERS,
    MentionFilter,
    get_mention,
    mention_dict,
    search_mentions,
    sentiment_series,
)

if TYPE_CHECKING:
    from monitor.api import Api

PRINCIPAL_KEY = "brandpulse.principal"  # = monitor.auth.PRINCIPAL_KEY: the caller dispatch authenticated
MENTION_PARAMS = ("brand", "source", "since", "until", "sentiment", "q", "author", "include_irrelevant", "order",
                  "limit", "cursor")
SERIES_PARAMS = ("since", "until", "bucket")
_DURATION = re.compile(r"\s*\d+(\.\d+)?\s*[smhd]\s*$")
_CORRECTION_STATUS = {"not_found": 404, "conflict": 409, "invalid": 400}


def _params(environ: dict[str, Any], known: tuple[str, ...]) -> dict[str, list[str]]:
    q = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=False)
    unknown = sorted(set(q) - set(known))
    if unknown:
        raise HttpError(400, f"unknown query parameter {unknown[0]!r}; known: {', '.join(known)}")
    return q


def _one(q: dict[str, list[str]], name: str) -> str | None:
    values = q.get(name)
    return values[-1] if values else None


def _many(q: dict[str, list[str]], name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for value in q.get(name, []) for v in value.split(",") if v.strip()))


def _when(value: str, name: str, now: datetime) -> datetime:
    """A duration back from now (7d, 12h, 90m) or an ISO 8601 date/time (UTC when no offset)."""
    from alerts.plan import parse_duration

    if _DURATION.match(value):
        try:
            return now - timedelta(seconds=parse_duration(value.strip()))
        except ValueError as exc:
            raise HttpError(400, f"{name}: {exc}") from None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise HttpError(400, f"{name} must be a duration back from now (7d, 12h) or an ISO date/time, "
                             f"got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=now.tzinfo)


def _flag(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise HttpError(400, f"{name} must be true or false, got {value!r}")


def mention_filter(q: dict[str, list[str]], now: datetime) -> MentionFilter:
    """The MentionFilter the query parameters describe (HttpError 400 for a bad value)."""
    since, until = _one(q, "since"), _one(q, "until")
    sentiments = _many(q, "sentiment")
    bad = [s for s in sentiments if s not in ("negative", "neutral", "positive")]
    if bad:
        raise HttpError(400, f"sentiment {bad[0]!r} is not one of negative, neutral, positive")
    return MentionFilter(
        brands=_many(q, "brand"), sources=_many(q, "source"),
        since=_when(since, "since", now) if since else None, until=_when(until, "until", now) if until else None,
        sentiments=sentiments, text=_one(q, "q") or None, author=_one(q, "author") or None,
        include_irrelevant=_flag(_one(q, "include_irrelevant"), "include_irrelevant"))


def _path_text(raw: str) -> str:
    # WSGI hands PATH_INFO over as latin-1-decoded bytes; brand ids may be Chinese (UTF-8).
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


class HistoryApi:
    """Handlers of the history routes, bound to one Api (its daemon's engine, clock and config)."""

    def __init__(self, api: Api) -> None:
        self.daemon = api.daemon

    def list_mentions(self, environ: dict[str, Any]) -> Response:
        q = _params(environ, MENTION_PARAMS)
        flt = mention_filter(q, self.daemon.clock.now())
        order = _one(q, "order") or "newest"
        if order not in ORDERS:
            raise HttpError(400, f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        raw_limit = _one(q, "limit") or str(defaults.HISTORY_PAGE_SIZE)
        try:
            limit = int(raw_limit)
        except ValueError:
            raise HttpError(400, f"limit must be an integer, got {raw_limit!r}") from None
        if not 1 <= limit <= MAX_PAGE:
            raise HttpError(400, f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        try:
            page = search_mentions(self.daemon.engine, flt, order=order, limit=limit, cursor=_one(q, "cursor"))
        except BrandPulseError as exc:
            raise HttpError(400, str(exc)) from None
        return _json(200, {"ok": True, "mentions": [mention_dict(r) for r in page.rows],
                           "next_cursor": page.next_cursor})

    def get_mention(self, environ: dict[str, Any], mention_id: str) -> Response:
        _params(environ, ())
        row = get_mention(self.daemon.engine, int(mention_id))
        if row is None:
            raise HttpError(404, f"mention {mention_id}: no such mention")
        log = corrections.history(self.daemon.engine, int(mention_id))
        return _json(200, {"ok": True, "mention": mention_dict(row), "corrections": [asdict(c) for c in log]})

    def correct(self, environ: dict[str, Any], mention_id: str) -> Response:
        try:
            data = json.loads(_read_body(environ) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, 'body must be JSON such as {"kind": "sentiment", "sentiment": "negative", '
                                 '"by": "王五"}') from None
        if not isinstance(data, dict):
            raise HttpError(400, f"body must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"kind", "sentiment", "brand", "by", "note"})
        if unknown:
            raise HttpError(400, f"unknown field {unknown[0]!r}; known: kind, sentiment, brand, by, note")
        kind, note = data.get("kind"), data.get("note", "")
        # A browser session knows who is logged in, and that is who the audit trail records; API
        # clients share a role's token, so they say who acts in the body (as for alert acks).
        by = getattr(environ.get(PRINCIPAL_KEY), "name", "") or data.get("by")
        if not isinstance(by, str) or not by.strip():
            raise HttpError(400, f'"by" must name who corrects (a non-empty string), got {data.get("by")!r}')
        if not isinstance(note, str):
            raise HttpError(400, f'"note" must be a string, got {note!r}')
        mid, now = int(mention_id), self.daemon.clock.now()
        engine = self.daemon.engine
        try:
            if kind == "sentiment":
                label = data.get("sentiment")
                if not isinstance(label, str):
                    raise HttpError(400, f'"sentiment" must be negative, neutral or positive, got {label!r}')
                c = corrections.relabel(engine, mid, label, by=by, at=now, note=note)
            elif kind in ("irrelevant", "restore"):
                brand = data.get("brand")
                if not isinstance(brand, str) or not brand:
                    raise HttpError(400, f'"brand" must name the brand to {kind}, got {brand!r}')
                act = corrections.mark_irrelevant if kind == "irrelevant" else corrections.restore
                c = act(engine, mid, brand, by=by, at=now, note=note)
            else:
                raise HttpError(400, f'"kind" must be sentiment, irrelevant or restore, got {kind!r}')
        except CorrectionError as exc:
            raise HttpError(_CORRECTION_STATUS.get(exc.reason, 400), str(exc)) from None
        row = get_mention(engine, mid)
        return _json(200, {"ok": True, "correction": asdict(c), "mention": mention_dict(row) if row else None})

    def series(self, environ: dict[str, Any], raw_brand: str) -> Response:
        from alerts.plan import parse_duration

        brand = _path_text(raw_brand)
        known = [b.id for b in self.daemon.config.brands]
        if brand not in known:
            raise HttpError(404, f"brand {brand!r} is not configured (known: {', '.join(known)})")
        q = _params(environ, SERIES_PARAMS)
        now = self.daemon.clock.now()
        since, end = _one(q, "since"), _one(q, "until")
        until = _when(end, "until", now) if end else now
        start = _when(since, "since", until) if since else until - timedelta(
            seconds=defaults.SERIES_DEFAULT_SINCE_SECONDS)
        raw_bucket = _one(q, "bucket")
        try:
            bucket = parse_duration(raw_bucket) if raw_bucket else defaults.SERIES_DEFAULT_BUCKET_SECONDS
        except ValueError as exc:
            raise HttpError(400, f"bucket: {exc}") from None
        try:
            points = sentiment_series(self.daemon.engine, brand, start, until, bucket)
        except BrandPulseError as exc:
            raise HttpError(400, str(exc)) from None
        return _json(200, {"ok": True, "brand": brand, "since": start.isoformat(), "until": until.isoformat(),
                           "bucket_seconds": bucket,
                           "points": [{"start": p.start.isoformat(), "negative": p.negative, "neutral": p.neutral,
                                       "positive": p.positive, "total": p.total} for p in points]})


def history_routes(api: Api) -> list[Route]:
    """The mention history routes and the OpenAPI description (which reads ``api.routes`` when asked,
    so it covers whatever routes the Api ends up with)."""
    from monitor.openapi import openapi_route

    h = HistoryApi(api)
    return [
        Route("GET", re.compile(r"^/api/v1/mentions$"), h.list_mentions, "read",
              "search mentions: filters, order, keyset pages"),
        Route("GET", re.compile(r"^/api/v1/mentions/(\d+)$"), h.get_mention, "read",
              "one mention with its correction history"),
        Route("POST", re.compile(r"^/api/v1/mentions/(\d+)/corrections$"), h.correct, "respond",
              "correct a mention: relabel its sentiment, mark a brand irrelevant, restore it"),
        Route("GET", re.compile(r"^/api/v1/brands/([^/]+)/series$"), h.series, "read",
              "mentions of a brand per time bucket and sentiment (zero-filled)"),
        openapi_route(api),
    ]
