"""Escaping by construction, the page frame, and what every page handler knows about its request.

Mention text, author names, brand names, alert summaries and evidence are hostile input. Pages
are built from :class:`Safe` fragments only: :func:`h` formats a template written in this
package and escapes every argument that is not already ``Safe`` (so forgetting to escape is
not possible, escaping twice is), and :func:`esc` escapes one value. This is Jinja2's
autoescape in forty lines, without a template language or a new dependency; the pages are
small enough to read as Python. URLs from mentions pass :func:`safe_url` (http and https only)
before they become links, since escaping does not stop ``javascript:``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from monitor.auth import HEADERS_KEY, NOBODY, PRINCIPAL_KEY, Principal, cookies_of, login_url
from monitor.web.i18n import LANG_COOKIE, pick_lang, translator

if TYPE_CHECKING:
    from monitor.api import Api

Response = tuple[int, str, bytes]


class Safe(str):
    """Text that is already HTML and goes into a page as it is."""


def esc(value: Any) -> Safe:
    """``value`` as HTML text: Safe stays as is, None becomes empty, everything else escaped."""
    if isinstance(value, Safe):
        return value
    if value is None:
        return Safe("")
    return Safe(html.escape(str(value), quote=True))


def h(template: str, *args: Any, **kwargs: Any) -> Safe:
    """``template.format(...)`` with every argument escaped. ``template`` is ours, never data."""
    return Safe(template.format(*(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()}))


def join(parts: Iterable[Any], sep: str = "") -> Safe:
    return Safe(sep.join(esc(p) for p in parts))


def safe_url(url: Any) -> str | None:
    """``url`` when it is an absolute http(s) URL (then fit for href), else None."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def when(dt: Any) -> str:
    """A stored time as ``YYYY-MM-DD HH:MM UTC``."""
    if isinstance(dt, str):
        try:
            dt = datetime.fromisoformat(dt)
        except ValueError:
            return dt
    return f"{dt:%Y-%m-%d %H:%M} UTC" if isinstance(dt, datetime) else ""


@dataclass
class Ctx:
    """One page request: who asks, in which language, with which query."""

    api: Api
    environ: dict[str, Any]
    principal: Principal
    lang: str
    query: dict[str, str]

    def t(self, key: str, **fields: Any) -> str:
        return translator(self.lang)(key, **fields)

    def may(self, role: str) -> bool:
        return self.principal.may(role)

    def csrf_field(self) -> Safe:
        return h('<input type="hidden" name="csrf" value="{}">', self.principal.csrf)

    def here(self, **changes: str | None) -> str:
        """This page's URL with some query parameters changed (None removes one)."""
        query = {k: v for k, v in self.query.items() if k != "lang"}
        for k, v in changes.items():
            if v is None:
                query.pop(k, None)
            else:
                query[k] = v
        path = str(self.environ.get("PATH_INFO", "/"))
        return path + (f"?{urlencode(query)}" if query else "")

    def header(self, name: str, value: str) -> None:
        self.environ.setdefault(HEADERS_KEY, []).append((name, value))


def ctx_of(api: Api, environ: dict[str, Any]) -> Ctx:
    query = {k: v[-1] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
    lang, chosen = pick_lang(query, cookies_of(environ))
    principal = environ.get(PRINCIPAL_KEY, NOBODY)
    ctx = Ctx(api, environ, principal if isinstance(principal, Principal) else NOBODY, lang, query)
    if chosen:
        ctx.header("Set-Cookie", f"{LANG_COOKIE}={lang}; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax")
    return ctx


NAV = (("/", "nav.overview"), ("/mentions", "nav.mentions"), ("/alerts", "nav.alerts"), ("/reports", "nav.reports"))


def page(ctx: Ctx, title: str, body: Safe, *, status: int = 200) -> Response:
    """The whole document: navigation, who is logged in, the language switch, ``body``."""
    path = str(ctx.environ.get("PATH_INFO", "/"))
    nav = join(h('<a href="{}"{}>{}</a>', href, Safe(' aria-current="page"') if _current(path, href) else "",
                 ctx.t(key)) for href, key in NAV)
    other = "en" if ctx.lang == "zh" else "zh"
    switch = h('<a class="lang" href="{}" hreflang="{}">{}</a>', _with_lang(ctx, other), other, ctx.t("nav.lang"))
    user = Safe("")
    p = ctx.principal
    if p.via == "session":
        user = h('<span class="who">{}</span><form class="inline" method="post" action="/logout">{}'
                 '<button type="submit">{}</button></form>',
                 ctx.t("nav.signed_in", name=p.name, role=ctx.t(f"role.{p.role}")), ctx.csrf_field(),
                 ctx.t("nav.logout"))
    elif p.via == "bearer":
        user = h('<span class="who">{}</span>', ctx.t(f"role.{p.role}"))
    elif p.via == "anonymous":
        user = h('<span class="who">{}</span> <a href="/login">{}</a>', ctx.t("nav.anonymous"), ctx.t("login.title"))
    doc = h('<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
            '<title>{title} · BrandPulse</title><link rel="stylesheet" href="/static/app.css"></head>'
            '<body><header><a class="brand" href="/">{app}</a><nav>{nav}</nav><div class="user">{switch}{user}</div>'
            '</header><main><h1>{title}</h1>{body}</main></body></html>',
            lang="zh-CN" if ctx.lang == "zh" else "en", title=title, app=ctx.t("app"), nav=nav, switch=switch,
            user=user, body=body)
    return status, "text/html; charset=utf-8", doc.encode()


def _current(path: str, href: str) -> bool:
    return path == href if href == "/" else path == href or path.startswith(href + "/")


def _with_lang(ctx: Ctx, lang: str) -> str:
    here = ctx.here()
    return here + ("&" if "?" in here else "?") + f"lang={lang}"


def redirect(ctx: Ctx, location: str) -> Response:
    ctx.header("Location", location)
    return 303, "text/html; charset=utf-8", b""


def error_page(api: Api, environ: dict[str, Any], status: int, message: str) -> Response:
    """What a browser sees for an HttpError (API clients get the JSON shape instead)."""
    ctx = ctx_of(api, environ)
    link = h('<a href="{}">{}</a>', login_url(environ), ctx.t("error.login")) if status in (401, 403) else Safe("")
    body = h('<p class="error">{}</p><p><a href="/">{}</a> {}</p>', message, ctx.t("error.back"), link)
    return page(ctx, ctx.t("error.title", status=status), body, status=status)


def options(choices: Iterable[tuple[str, str]], selected: str | None) -> Safe:
    """``<option>`` elements; ``choices`` are (value, label)."""
    return join(h('<option value="{}"{}>{}</option>', v, Safe(" selected") if v == selected else "", label)
                for v, label in choices)


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], cls: str = "") -> Safe:
    head = join(h("<th>{}</th>", x) for x in headers)
    body = join(h("<tr>{}</tr>", join(h("<td>{}</td>", c) for c in row)) for row in rows)
    return h('<table class="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', cls, head, body)


def first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if mapping.get(k) is not None:
            return mapping[k]
    return None
