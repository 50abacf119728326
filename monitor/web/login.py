"""Logging in and out of the pages with a role's token (monitor/auth.py does the checking).

``GET /login`` shows a form (token, name) carrying a CSRF token bound to a ``bp_login`` nonce
cookie; ``POST /login`` checks that, then the token (throttled and logged on failure), and
answers with the signed ``bp_session`` cookie and a redirect to ``next`` (a path on this site
only). ``POST /logout`` (with the session's CSRF token) clears the cookie.
"""

from __future__ import annotations

import hmac
from typing import Any

from monitor.api import Api, HttpError
from monitor.auth import HEADERS_KEY, SESSION_COOKIE, AuthError, cookies_of, read_form, safe_next
from monitor.web.layout import Ctx, Response, Safe, ctx_of, h, page, redirect

MAX_NAME_CHARS = 100


def _form(ctx: Ctx, csrf: str, target: str, message: str = "", name: str = "") -> Safe:
    error = h('<p class="error" role="alert">{}</p>', message) if message else Safe("")
    return h('{error}<form class="login" method="post" action="/login">'
             '<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">'
             '<p><label>{tl}<br><input type="password" name="token" autocomplete="off" required autofocus></label></p>'
             '<p><label>{nl}<br><input name="name" maxlength="{max}" value="{name}" required></label></p>'
             '<p><button type="submit">{go}</button></p></form><p class="help">{help}</p>',
             error=error, csrf=csrf, next=target, tl=ctx.t("login.token"), nl=ctx.t("login.name"),
             max=MAX_NAME_CHARS, name=name, go=ctx.t("login.submit"), help=ctx.t("login.help"))


def _render(api: Api, environ: dict[str, Any], status: int, message: str = "", name: str = "") -> Response:
    ctx = ctx_of(api, environ)
    csrf, cookie = api.auth.login_nonce(environ)
    if cookie:
        ctx.header("Set-Cookie", cookie)
    target = safe_next(ctx.query.get("next") or read_form(environ).get("next", "") or "/")
    return page(ctx, ctx.t("login.title"), _form(ctx, csrf, target, message, name), status=status)


def login_page(api: Api, environ: dict[str, Any]) -> Response:
    return _render(api, environ, 200)


def login_submit(api: Api, environ: dict[str, Any]) -> Response:
    ctx = ctx_of(api, environ)
    form = read_form(environ)
    name = " ".join(form.get("name", "").split())[:MAX_NAME_CHARS]
    if not api.auth.login_csrf_ok(environ, form.get("csrf", "")):
        return _render(api, environ, 403, ctx.t("login.stale"), name)
    if not name:
        return _render(api, environ, 400, ctx.t("login.need_name"), name)
    try:
        _, cookie = api.auth.login(environ, form.get("token", ""), name)
    except AuthError as exc:
        ctx.environ.setdefault(HEADERS_KEY, []).extend(exc.headers)
        message = ctx.t("login.wrong") if exc.status == 401 else str(exc)
        return _render(api, environ, exc.status, message, name)
    ctx.header("Set-Cookie", cookie)
    return redirect(ctx, safe_next(form.get("next", "") or "/"))


def logout(api: Api, environ: dict[str, Any]) -> Response:
    """Clear the session cookie. With a live session the form's CSRF token must match (so
    another site cannot log people out); a dead session is cleared regardless."""
    ctx = ctx_of(api, environ)
    value = cookies_of(environ).get(SESSION_COOKIE)
    session = api.auth.read_session(environ, value) if value else None
    if session is not None and not hmac.compare_digest(read_form(environ).get("csrf", "").encode(),
                                                       session.csrf.encode()):
        raise HttpError(403, "missing or stale CSRF token: reload the page and try again")
    ctx.header("Set-Cookie", api.auth.logout_cookie())
    return redirect(ctx, "/login")
