"""The OpenAPI 3.1 description of the JSON API, generated from the Api's route table.

``GET /api/v1/openapi.json`` (public) lists every route under ``/api/``: its path (from the
route's regular expression), method, summary and role (``x-brandpulse-role`` and the security
it needs) come from the ``Route`` itself; parameters, request bodies and response schemas come
from ``OPERATIONS`` below when the route has an entry there. A route added without one still
appears, with its path parameters derived from the pattern and the common error responses, so
the description never silently omits an endpoint (tests/monitor/test_api_history.py checks
every /api/v1 route is described and validates the document with openapi-spec-validator).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from monitor import __version__
from monitor.api import Response, Route

if TYPE_CHECKING:
    from monitor.api import Api

_STR: dict[str, Any] = {"type": "string"}
_INT: dict[str, Any] = {"type": "integer"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_WHEN = {"type": "string", "description": "a duration back from now (7d, 12h, 90m) or an ISO 8601 date/time"}
_LABEL = {"type": "string", "enum": ["negative", "neutral", "positive"]}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None, extra: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    if not extra:
        out["additionalProperties"] = False
    return out


SCHEMAS: dict[str, Any] = {
    "Error": _obj({"ok": {"const": False}, "error": _STR, "status": _INT}, ["ok", "error", "status"]),
    "Mention": _obj({
        "id": _INT, "source_id": _STR, "external_id": _STR, "url": _nullable(_STR), "author": _nullable(_STR),
        "title": _nullable(_STR), "text": _STR, "published_at": _TIME, "fetched_at": _nullable(_TIME),
        "platform": _nullable(_STR), "lang": _nullable(_STR), "engagement": _INT,
        "author_followers": _nullable(_INT),
        "brands": {"type": "array", "items": _STR, "description": "matched brands minus those marked irrelevant"},
        "irrelevant_brands": {"type": "array", "items": _STR},
        "sentiment_label": {**_LABEL, "description": "effective: the latest analyst relabel, else the model's"},
        "model_label": _LABEL, "sentiment_score": {"type": "number"}, "model_version": _nullable(_STR),
        "corrected_by": _nullable(_STR), "corrected_at": _nullable(_TIME),
        "keywords": {"type": "array", "items": _STR}, "crisis_terms": {"type": "array", "items": _STR},
    }, ["id", "source_id", "text", "published_at", "brands", "sentiment_label", "model_label"]),
    "Correction": _obj({
        "id": _INT, "mention_id": _INT, "brand": _nullable(_STR),
        "kind": {"type": "string", "enum": ["sentiment", "irrelevant", "restore"]},
        "sentiment_label": {"type": ["string", "null"], "enum": ["negative", "neutral", "positive", None]},
        "by": _STR, "note": _STR, "at": _TIME,
    }, ["id", "mention_id", "kind", "by", "at"]),
    "SeriesPoint": _obj({"start": _TIME, "negative": _INT, "neutral": _INT, "positive": _INT, "total": _INT},
                        ["start", "negative", "neutral", "positive", "total"]),
    "Alert": _obj({
        "id": _INT, "group_key": _STR, "brand": _STR, "level": _STR,
        "state": {"type": "string", "enum": ["firing", "acknowledged", "escalated", "resolved"]},
        "opened_at": _TIME, "updated_at": _TIME, "summary": _STR, "evidence": {"type": "object"},
        "ack_deadline": _nullable(_TIME), "acknowledged_at": _nullable(_TIME), "acknowledged_by": _nullable(_STR),
        "resolved_at": _nullable(_TIME), "resolved_by": _nullable(_STR), "last_signal_at": _nullable(_TIME),
        "drill": {"type": "boolean"},
    }, ["id", "brand", "level", "state", "opened_at", "summary"]),
    "AlertEvent": _obj({"at": _TIME, "from_state": _nullable(_STR), "to_state": _STR, "level": _STR,
                        "actor": _STR, "reason": _STR}),
}


def _q(name: str, schema: dict[str, Any], description: str, *, explode: bool = False) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema,
                         "description": description}
    if explode:
        p.update(schema={"type": "array", "items": schema}, style="form", explode=True)
    return p


def _ok(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = _obj({"ok": {"const": True}, **props}, ["ok", *required])
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_ACT_BODY = _obj({"by": {**_STR, "description": "who acts (recorded in the timeline)"}, "note": _STR}, ["by"])

# (method, route pattern) -> parameter names for the path groups and the operation's details.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", r"^/api/v1/mentions$"): {
        "operationId": "searchMentions",
        "parameters": [
            _q("brand", _STR, "brand id; repeat or comma-separate for any of", explode=True),
            _q("source", _STR, "source id; repeat or comma-separate", explode=True),
            _q("since", _WHEN, "published at or after"), _q("until", _WHEN, "published before"),
            _q("sentiment", _LABEL, "effective sentiment after corrections; repeat for any of", explode=True),
            _q("q", _STR, 'text terms that must all occur ("quoted phrase" for one); Traditional and '
                          "Simplified Chinese, case and full-width forms are folded"),
            _q("author", _STR, "exact author name"),
            _q("include_irrelevant", {"type": "boolean", "default": False},
               "also mentions and brands an analyst marked irrelevant"),
            _q("order", {"type": "string", "enum": ["newest", "oldest", "engagement"], "default": "newest"},
               "sort order"),
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, "mentions per page"),
            _q("cursor", _STR, "next_cursor of the previous page (opaque)"),
        ],
        "responses": {"200": _ok({"mentions": {"type": "array", "items": _ref("Mention")},
                                  "next_cursor": _nullable(_STR)}, ["mentions", "next_cursor"])},
    },
    ("GET", r"^/api/v1/mentions/(\d+)$"): {
        "operationId": "getMention", "path_params": ["mention_id"],
        "responses": {"200": _ok({"mention": _ref("Mention"),
                                  "corrections": {"type": "array", "items": _ref("Correction")}},
                                 ["mention", "corrections"])},
    },
    ("POST", r"^/api/v1/mentions/(\d+)/corrections$"): {
        "operationId": "correctMention", "path_params": ["mention_id"],
        "requestBody": _body(_obj({
            "kind": {"type": "string", "enum": ["sentiment", "irrelevant", "restore"]},
            "sentiment": {**_LABEL, "description": "kind sentiment: the mention's real sentiment"},
            "brand": {**_STR, "description": "kind irrelevant/restore: the brand the mention is (not) about"},
            "by": {**_STR, "description": "who corrects; a browser session's login name takes precedence"},
            "note": _STR,
        }, ["kind"], extra=False)),
        "responses": {"200": _ok({"correction": _ref("Correction"), "mention": _ref("Mention")},
                                 ["correction", "mention"])},
    },
    ("GET", r"^/api/v1/brands/([^/]+)/series$"): {
        "operationId": "brandSeries", "path_params": ["brand"],
        "parameters": [_q("since", {**_WHEN, "default": "7d"}, "start (before until)"),
                       _q("until", _WHEN, "end, exclusive (default: now)"),
                       _q("bucket", {"type": "string", "default": "15m"}, "bucket width: 90s, 15m, 1h, 1d")],
        "responses": {"200": _ok({"brand": _STR, "since": _TIME, "until": _TIME, "bucket_seconds": _INT,
                                  "points": {"type": "array", "items": _ref("SeriesPoint")}},
                                 ["brand", "bucket_seconds", "points"])},
    },
    ("GET", r"^/api/v1/alerts$"): {
        "operationId": "listAlerts",
        "parameters": [_q("state", {"type": "string", "enum": ["firing", "acknowledged", "escalated", "resolved"]},
                          "only alerts in this state"),
                       _q("brand", _STR, "only this brand"),
                       _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "at most")],
        "responses": {"200": _ok({"alerts": {"type": "array", "items": _ref("Alert")}}, ["alerts"])},
    },
    ("GET", r"^/api/v1/alerts/(\d+)$"): {
        "operationId": "getAlert", "path_params": ["alert_id"],
        "responses": {"200": _ok({"alert": _ref("Alert"), "events": {"type": "array", "items": _ref("AlertEvent")}},
                                 ["alert", "events"])},
    },
    ("POST", r"^/api/v1/alerts/(\d+)/(ack|resolve)$"): {
        "operationId": "actOnAlert", "path_params": ["alert_id", "action"],
        "requestBody": _body(_ACT_BODY),
        "responses": {"200": _ok({"alert": _ref("Alert")}, ["alert"])},
    },
    ("POST", r"^/api/v1/push/([^/]+)$"): {  # monitor/api_push.py, sources/push.py
        "operationId": "pushMentions", "path_params": ["source_id"],
        "description": "Records for a `kind: push` source, mapped with its `fields`/`preset`. Authenticated by "
                       "an HMAC-SHA256 signature with the source's secret (`secret_env`), not by a token. "
                       "202 only once the records are stored: a crash after it loses nothing.",
        "parameters": [
            {"name": "X-BrandPulse-Timestamp", "in": "header", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9]+$"},
             "description": "unix seconds; refused (401) when further than the source's `window` from now"},
            {"name": "X-BrandPulse-Signature", "in": "header", "required": True,
             "schema": {"type": "string", "pattern": "^sha256=[0-9a-fA-F]{64}$"},
             "description": 'sha256=<hex HMAC-SHA256(secret, "{timestamp}.{raw body}")>; a signature '
                            "accepted before is refused as a replay (401)"},
        ],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"oneOf": [{"type": "object"},
                                                      {"type": "array", "items": {"type": "object"}}]}},
            "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON object a line"}}}},
        "responses": {
            "202": {"description": "stored; the source's next poll scores them",
                    "content": {"application/json": {"schema": _obj({
                        "ok": {"const": True}, "accepted": _INT,
                        "rejected": {"type": "array", "items": _STR,
                                     "description": "records without a usable text/time, one line each"}},
                        ["ok", "accepted", "rejected"])}}},
            "401": {"description": "bad or missing signature, timestamp outside the window, or a replay",
                    "content": {"application/json": {"schema": _ref("Error")}}},
            "413": {"description": "body larger than the source's max_bytes",
                    "content": {"application/json": {"schema": _ref("Error")}}},
        },
    },
    ("GET", r"^/api/v1/openapi\.json$"): {
        "operationId": "openapi",
        "responses": {"200": {"description": "this document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    },
}

_ERRORS = {code: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
           for code, text in (("400", "bad parameter or body"), ("401", "missing or wrong credentials"),
                              ("403", "role not allowed or not configured"), ("404", "no such resource"),
                              ("409", "conflicts with the current state"), ("429", "too many failed attempts"))}


def path_template(pattern: str, names: list[str] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """``^/api/v1/alerts/(\\d+)/(ack|resolve)$`` -> ``/api/v1/alerts/{alert_id}/{action}`` and its
    path parameters (``\\d+`` integer, ``a|b`` an enum, anything else a string)."""
    body = pattern.removeprefix("^").removesuffix("$")
    out: list[str] = []
    params: list[dict[str, Any]] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
        elif ch == "(":
            depth, j = 1, i + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(body[j], 0)
                j += 1
            group = body[i + 1:j - 1]
            name = names[len(params)] if names and len(params) < len(names) else f"p{len(params) + 1}"
            if group == r"\d+":
                schema: dict[str, Any] = {"type": "integer"}
            elif re.fullmatch(r"\w+(\|\w+)+", group):
                schema = {"type": "string", "enum": group.split("|")}
            else:
                schema = {"type": "string"}
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
            out.append("{" + name + "}")
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out), params


def build_openapi(routes: list[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route under /api/."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        spec = OPERATIONS.get((route.method, route.pattern.pattern), {})
        path, path_params = path_template(route.pattern.pattern, spec.get("path_params"))
        if not path.startswith("/api/"):
            continue
        op: dict[str, Any] = {"summary": route.summary or f"{route.method} {path}",
                              "operationId": spec.get("operationId") or _operation_id(route.method, path),
                              "x-brandpulse-role": route.role,
                              "security": [] if route.role == "public" else [{"bearer": []}, {"session": []}]}
        parameters = path_params + spec.get("parameters", [])
        if parameters:
            op["parameters"] = parameters
        if "requestBody" in spec:
            op["requestBody"] = spec["requestBody"]
        if "description" in spec:
            op["description"] = spec["description"]
        responses = dict(spec.get("responses") or {"200": {"description": "OK", "content": {
            "application/json": {"schema": {"type": "object"}}}}})
        for code, resp in _ERRORS.items():
            if code in ("401", "403", "429") and route.role == "public":
                continue
            responses.setdefault(code, resp)
        op["responses"] = responses
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "BrandPulse API", "version": __version__,
                 "description": "Mention history, corrections, sentiment series and alerts. Errors are "
                                '{"ok": false, "error": "...", "status": N}.'},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a token of the needed role (http.auth.*_token_env)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "bp_session",
                            "description": "a browser login (POST /login)"},
            },
        },
    }


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.removeprefix("/api/v1"))
    return method.lower() + "".join(w.capitalize() for w in words)


def openapi_route(api: Api) -> Route:
    """``GET /api/v1/openapi.json``, built from ``api.routes`` on first request and then kept."""
    cache: list[bytes] = []

    def handler(environ: dict[str, Any]) -> Response:
        if not cache:
            cache.append(json.dumps(build_openapi(api.routes), ensure_ascii=False, indent=1).encode())
        return 200, "application/json; charset=utf-8", cache[0]

    return Route("GET", re.compile(r"^/api/v1/openapi\.json$"), handler, "public",
                 "this OpenAPI 3.1 description of the JSON API")
