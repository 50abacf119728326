"""Who may call what: a token per role, browser sessions, CSRF tokens, throttled failures.

Roles are ordered ``read < respond < admin``; a route declares the least role it needs
(``Route.role`` in monitor/api.py) and :meth:`Authenticator.check` is the one place that
enforces it, for every route. Credentials, in the order they are looked at:

- ``Authorization: Bearer <token>`` (API clients, scripts);
- the ``bp_session`` cookie a browser gets from ``POST /login`` (HMAC-signed role, name, expiry
  and a fingerprint of the role's token, so changing a token ends its logins); a request that
  changes something with a cookie must also carry the session's CSRF token (form field
  ``csrf`` or header ``X-CSRF-Token``);
- nothing: allowed only where ``http.auth.anonymous_role`` is ``read`` (loopback listen only).

A role no configured token reaches is switched off: its routes answer 403 naming the setting
that enables them. Tokens are compared as HMAC digests with ``hmac.compare_digest`` against
every configured token, whichever matches, so neither timing nor length tells anything. Every
failed attempt (wrong token, forged cookie) is logged as one line without the secret and
costs the client address one unit of a token bucket; an empty bucket answers 429 with
Retry-After, even to a right token, so guessing gains nothing. The address is the socket's
peer (``REMOTE_ADDR``): behind a reverse proxy every client shares the proxy's bucket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

from monitor import defaults
from monitor.errors import ConfigError
from monitor.settings import HttpSettings

log = logging.getLogger(__name__)

RANK = {"public": 0, "read": 1, "respond": 2, "admin": 3}
ROLES = ("read", "respond", "admin")  # roles a token can carry, lowest first
TOKEN_SETTING = {"read": "analyst_token_env", "respond": "responder_token_env", "admin": "admin_token_env"}
WHAT = {"read": "reading the API and the pages", "respond": "acknowledging, resolving and correcting",
        "admin": "administration"}

SESSION_COOKIE = "bp_session"
LOGIN_COOKIE = "bp_login"  # the login form's own CSRF nonce (before there is a session)
CSRF_HEADER = "HTTP_X_CSRF_TOKEN"
PRINCIPAL_KEY = "brandpulse.principal"  # where dispatch leaves the caller in the WSGI environ
HEADERS_KEY = "brandpulse.headers"  # handlers append extra response headers (Set-Cookie) to this environ list
MAX_NAME_CHARS = 100


class AuthError(Exception):
    """Refused: ``status`` (401, 403, 429, or 303 to the login page) and headers to send."""

    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    role: str  # "public", "read", "respond" or "admin"
    via: str  # "none", "bearer", "session" or "anonymous"
    name: str = ""  # who, as given at login (sessions only); API clients name themselves per request
    csrf: str = ""  # the session's CSRF token, for the forms a page renders

    def may(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


NOBODY = Principal("public", "none")


def read_tokens(http: HttpSettings, environ: Mapping[str, str], file: str) -> tuple[dict[str, str], list[ConfigError]]:
    """Role -> token from the environment variables the settings name, and every problem
    (a named variable that is unset, two roles sharing one token) as a ConfigError."""
    names = {role: getattr(http.auth, TOKEN_SETTING[role]) for role in ROLES}
    keys = {role: f"http.auth.{TOKEN_SETTING[role]}" for role in ROLES}
    if http.responder_token_env and not names["respond"]:  # the old name still works
        names["respond"], keys["respond"] = http.responder_token_env, "http.responder_token_env"
    tokens: dict[str, str] = {}
    problems: list[ConfigError] = []
    for role in ROLES:
        name = names[role]
        if name is None:
            continue
        value = environ.get(name, "")
        if not value.strip():  # named but missing: fail at startup, not with a puzzling 403 later
            problems.append(ConfigError(f"environment variable {name!r} is not set", file=file, key_path=keys[role]))
            continue
        if len(value) < defaults.AUTH_MIN_TOKEN_CHARS:
            log.warning("auth: the %s token (%s) is short: %d characters, use at least %d random ones",
                        role, name, len(value), defaults.AUTH_MIN_TOKEN_CHARS)
        for other, token in tokens.items():
            if hmac.compare_digest(token.encode(), value.encode()):
                problems.append(ConfigError(f"the {role} token equals the {other} token: give each role its own",
                                            file=file, key_path=keys[role]))
        tokens[role] = value
    secret_env = http.auth.session_secret_env
    if secret_env is not None and not environ.get(secret_env, ""):
        problems.append(ConfigError(f"environment variable {secret_env!r} is not set", file=file,
                                    key_path="http.auth.session_secret_env"))
    return tokens, problems


class FailureThrottle:
    """A token bucket of failed attempts per client address: ``burst`` failures, then one more
    every ``refill_seconds``. Remembers at most ``max_clients`` addresses (least recently
    failing forgotten first), so a flood from many addresses cannot grow it without bound."""

    def __init__(self, burst: int, refill_seconds: float, *, max_clients: int = defaults.AUTH_TRACKED_CLIENTS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.refill, self.max_clients = float(burst), refill_seconds, max_clients
        self._now = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (units, at)
        self._lock = threading.Lock()

    def _level(self, client: str, now: float) -> float:
        units, at = self._buckets.get(client, (self.burst, now))
        return min(self.burst, units + (now - at) / self.refill)

    def retry_after(self, client: str) -> int:
        """Whole seconds until ``client`` may try again; 0 when it may now."""
        with self._lock:
            level = self._level(client, self._now())
        return 0 if level >= 1.0 else max(1, math.ceil((1.0 - level) * self.refill))

    def failed(self, client: str) -> int:
        """Count one failure; return the attempts ``client`` has left before it is throttled."""
        with self._lock:
            now = self._now()
            level = max(0.0, self._level(client, now) - 1.0)
            self._buckets[client] = (level, now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return int(level)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client_of(environ: Mapping[str, Any]) -> str:
    return str(environ.get("REMOTE_ADDR") or "?")


def cookies_of(environ: Mapping[str, Any]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(str(environ.get("HTTP_COOKIE", "")))
    except CookieError:
        return {}
    return {k: m.value for k, m in jar.items()}


def wants_page(environ: Mapping[str, Any]) -> bool:
    """A browser navigating (answer with HTML, send to /login) rather than an API client."""
    path = str(environ.get("PATH_INFO", "/"))
    return not path.startswith("/api/") and "text/html" in str(environ.get("HTTP_ACCEPT", ""))


class Authenticator:
    """Checks every request against the route's role; issues and reads login cookies.

    ``tokens``: role -> token (from :func:`read_tokens`). ``now``: wall-clock seconds, for
    cookie expiry (the daemon's clock, so tests can move time). ``secure``: mark cookies
    ``Secure`` (the daemon is reached over https).
    """

    def __init__(self, tokens: Mapping[str, str], http: HttpSettings, *, session_secret: str | None = None,
                 now: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
                 secure: bool = False) -> None:
        unknown = set(tokens) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; roles are {', '.join(ROLES)}")
        self.settings = http.auth
        self.anonymous = http.auth.anonymous_role
        self.lifetime = http.auth.session_lifetime
        self.secure = secure
        self._now = now
        self._key = session_secret.encode() if session_secret else secrets.token_bytes(32)
        # Tokens are kept as keyed digests: a compare then always handles 32 bytes, whatever
        # the length of the token or the guess.
        self._digests = {role: self._mac(b"token", token.encode()) for role, token in tokens.items()}
        self.throttle = FailureThrottle(http.auth.failed_attempts_burst, http.auth.failed_attempts_refill,
                                        monotonic=monotonic)

    # --- primitives ------------------------------------------------------------------------

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._key, purpose + b"\0" + data, hashlib.sha256).digest()

    def configured(self, role: str) -> bool:
        """Whether any configured token reaches ``role``."""
        return any(RANK[r] >= RANK[role] for r in self._digests)

    def role_of(self, token: str) -> str | None:
        """The role ``token`` carries, or None. Compares against every configured token in
        constant time, whichever matches."""
        given = self._mac(b"token", token.encode("utf-8", "surrogateescape"))
        found: str | None = None
        for role, digest in self._digests.items():
            if hmac.compare_digest(given, digest):
                found = role
        return found

    def _fingerprint(self, role: str) -> str:
        digest = self._digests.get(role)
        return _b64(self._mac(b"fingerprint", digest))[:22] if digest is not None else ""

    def csrf_for(self, nonce: str) -> str:
        return _b64(self._mac(b"csrf", nonce.encode()))[:32]

    # --- checking a request ------------------------------------------------------------------

    def check(self, environ: dict[str, Any], role: str, method: str) -> Principal:
        """The caller of this request if it may use a ``role`` route; AuthError otherwise."""
        if RANK[role] == 0:
            return NOBODY
        anonymous_ok = self.anonymous is not None and RANK[role] <= RANK[self.anonymous]
        if not self.configured(role) and not anonymous_ok:
            higher = " or ".join(f"http.auth.{TOKEN_SETTING[r]}" for r in ROLES if RANK[r] >= RANK[role])
            raise AuthError(403, f"{WHAT[role]} is disabled: set {higher} to an environment variable holding "
                                 "a token")
        client = client_of(environ)
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        cookie = cookies_of(environ).get(SESSION_COOKIE)
        if header or cookie:
            self._refuse_if_throttled(client)
        principal: Principal | None = None
        if header:
            scheme, _, given = header.partition(" ")
            found = self.role_of(given.strip()) if scheme.lower() == "bearer" else None
            if found is None:
                self._failure(environ, "wrong or malformed bearer token")
                raise AuthError(401, "missing or wrong bearer token (send Authorization: Bearer <token>)",
                                [("WWW-Authenticate", 'Bearer realm="brandpulse"')])
            principal = Principal(found, "bearer")
        elif cookie:
            principal = self.read_session(environ, cookie)
            if principal is not None and method not in ("GET", "HEAD"):
                self._require_csrf(environ, principal)
        if principal is None and anonymous_ok and self.anonymous is not None:
            principal = Principal(self.anonymous, "anonymous")
        if principal is None:
            if wants_page(environ) and method in ("GET", "HEAD"):
                raise AuthError(303, "log in first", [("Location", login_url(environ))])
            raise AuthError(401, "authentication required: send Authorization: Bearer <token>, or log in at /login",
                            [("WWW-Authenticate", 'Bearer realm="brandpulse"')])
        if not principal.may(role):
            raise AuthError(403, f"{WHAT[role]} needs the {role} role; you are logged in as {principal.role}")
        return principal

    def _refuse_if_throttled(self, client: str) -> None:
        wait = self.throttle.retry_after(client)
        if wait:
            raise AuthError(429, f"too many failed attempts from {client}: try again in {wait} s",
                            [("Retry-After", str(wait))])

    def _failure(self, environ: Mapping[str, Any], reason: str) -> None:
        client = client_of(environ)
        left = self.throttle.failed(client)
        # One line, never the secret: the reason is ours, the path and address are the request's.
        log.warning("auth failed client=%s method=%s path=%s reason=%r attempts_left=%d", client,
                    environ.get("REQUEST_METHOD", "?"), str(environ.get("PATH_INFO", "?"))[:200], reason, left)
        if left == 0:
            log.warning("auth throttled client=%s: no attempts left, one more every %.0f s", client,
                        self.settings.failed_attempts_refill)

    def _require_csrf(self, environ: dict[str, Any], principal: Principal) -> None:
        given = str(environ.get(CSRF_HEADER, "")) or form_field(environ, "csrf")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), principal.csrf.encode()):
            raise AuthError(403, "missing or stale CSRF token: reload the page and try again")

    # --- sessions ------------------------------------------------------------------------------

    def login(self, environ: Mapping[str, Any], token: str, name: str) -> tuple[Principal, str]:
        """Check a login form's token; return the session and its Set-Cookie value, or raise
        AuthError (429 when throttled, 401 for a wrong token)."""
        client = client_of(environ)
        self._refuse_if_throttled(client)
        role = self.role_of(token.strip())
        if role is None:
            self._failure(environ, "wrong token at login")
            raise AuthError(401, "wrong token")
        name = " ".join(name.split())[:MAX_NAME_CHARS]
        nonce = secrets.token_urlsafe(16)
        expires = int(self._now() + self.lifetime)
        body = ".".join(("v1", role, str(expires), _b64(name.encode()), nonce, self._fingerprint(role)))
        value = f"{body}.{_b64(self._mac(b'session', body.encode()))}"
        log.info("auth login client=%s role=%s name=%r", client, role, name)
        return Principal(role, "session", name, self.csrf_for(nonce)), self._cookie(SESSION_COOKIE, value,
                                                                                     int(self.lifetime))

    def read_session(self, environ: Mapping[str, Any], value: str) -> Principal | None:
        """The session a cookie holds; None when it expired, its role's token changed, or it was
        forged (which counts as a failed attempt)."""
        body, _, sig = value.rpartition(".")
        parts = body.split(".")
        try:
            valid = len(parts) == 6 and parts[0] == "v1" and hmac.compare_digest(
                _unb64(sig), self._mac(b"session", body.encode()))
        except (ValueError, TypeError):
            valid = False
        if not valid:
            self._failure(environ, "session cookie with a bad signature")
            return None
        _, role, expires, name, nonce, fingerprint = parts
        if role not in ROLES or not expires.isdigit() or int(expires) <= self._now():
            return None  # expired: the browser is sent to log in again
        if not hmac.compare_digest(fingerprint.encode(), self._fingerprint(role).encode()):
            return None  # the role's token was changed or removed since this login
        return Principal(role, "session", _unb64(name).decode("utf-8", "replace"), self.csrf_for(nonce))

    def login_nonce(self, environ: Mapping[str, Any]) -> tuple[str, str | None]:
        """The login form's CSRF token and, when the browser has no nonce cookie yet, the
        Set-Cookie value that gives it one (double submit: the form proves it was read here)."""
        nonce = cookies_of(environ).get(LOGIN_COOKIE, "")
        if len(nonce) < 16:
            nonce = secrets.token_urlsafe(16)
            return self.csrf_for("login:" + nonce), self._cookie(LOGIN_COOKIE, nonce, 3600)
        return self.csrf_for("login:" + nonce), None

    def login_csrf_ok(self, environ: Mapping[str, Any], given: str) -> bool:
        nonce = cookies_of(environ).get(LOGIN_COOKIE, "")
        expected = self.csrf_for("login:" + nonce)
        return len(nonce) >= 16 and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())

    def _cookie(self, name: str, value: str, max_age: int) -> str:
        secure = "; Secure" if self.secure else ""
        return f"{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"

    def logout_cookie(self) -> str:
        return self._cookie(SESSION_COOKIE, "", 0)


def login_url(environ: Mapping[str, Any]) -> str:
    here = str(environ.get("PATH_INFO", "/"))
    query = str(environ.get("QUERY_STRING", ""))
    return "/login?next=" + quote(here + (f"?{query}" if query else ""), safe="")


def safe_next(target: str) -> str:
    """Where to go after logging in: only a path on this site (no //host, no scheme)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def form_field(environ: dict[str, Any], name: str) -> str:
    """A field of an ``application/x-www-form-urlencoded`` body, read once and kept in the
    environ (``brandpulse.form``) so the handler sees the same form."""
    form = read_form(environ)
    return form.get(name, "")


def read_form(environ: dict[str, Any]) -> dict[str, str]:
    cached = environ.get("brandpulse.form")
    if isinstance(cached, dict):
        return cached
    ctype = str(environ.get("CONTENT_TYPE", ""))
    form: dict[str, str] = {}
    if ctype.startswith("application/x-www-form-urlencoded"):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_FORM_BYTES:
            raw = environ["wsgi.input"].read(length)
            try:
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
            except UnicodeDecodeError:
                form = {}
    environ["brandpulse.form"] = form
    return form


MAX_FORM_BYTES = 64 * 1024  # a form is a few short fields
