"""The pages' routes, with the role each needs (enforced by ``Api.dispatch``, monitor/auth.py).

Reading pages need "read"; the forms that change something (corrections, ack/resolve) need
"respond" and, with a browser session, the session's CSRF token; login, logout and the
stylesheet are public. ``/reports/{period}`` itself belongs to monitor/reports (not here).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from monitor.api import Api, Response, Route
from monitor.web import login, mentions, pages


def web_routes(api: Api) -> list[Route]:
    def bind(fn: Callable[..., Response]) -> Callable[..., Response]:
        return partial(fn, api)

    def r(method: str, pattern: str, fn: Callable[..., Any], role: str, summary: str) -> Route:
        return Route(method, re.compile(pattern), bind(fn), role, summary)

    return [
        r("GET", r"^/$", pages.overview, "read", "page: brands overview (trend, sentiment split, alert state)"),
        r("GET", r"^/mentions$", mentions.stream, "read", "page: mention stream with filters"),
        r("POST", r"^/mentions/(\d+)/(relabel|irrelevant|restore)$", mentions.correct, "respond",
          "page form: correct a mention"),
        r("GET", r"^/alerts$", pages.alert_list, "read", "page: alert list"),
        r("GET", r"^/alerts/(\d+)$", pages.alert_detail, "read", "page: alert detail, timeline and evidence"),
        r("POST", r"^/alerts/(\d+)/(ack|resolve)$", pages.alert_action, "respond",
          "page form: acknowledge or resolve an alert"),
        r("GET", r"^/reports$", pages.reports, "read", "page: links to the weekly and monthly reports"),
        r("GET", r"^/login$", login.login_page, "public", "page: log in with a token"),
        r("POST", r"^/login$", login.login_submit, "public", "page form: log in"),
        r("POST", r"^/logout$", login.logout, "public", "page form: log out"),
        r("GET", r"^/static/([a-z0-9_-]+\.css)$", pages.static, "public", "the pages' stylesheet"),
    ]
