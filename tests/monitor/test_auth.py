"""Access control (monitor/auth.py): roles, tokens, login cookies, CSRF, throttled failures,
constant-time compares and logs without secrets; first on the Authenticator, then over a real
daemon on a free port."""

from __future__ import annotations

import hmac
import io
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client import CollectorRegistry

from monitor import auth
from monitor.auth import Authenticator, AuthError, FailureThrottle, read_tokens, safe_next
from monitor.clock import FixedClock
from monitor.daemon import Daemon
from monitor.errors import ConfigError
from monitor.settings import HttpSettings, load_config
from tests.monitor.web.helpers import TOKEN_ENV, TOKENS, Site, config, csrf_of, site

__all__ = ["site"]

ALL = {"analyst_token_env": "A", "responder_token_env": "R", "admin_token_env": "X"}
ENV = {"A": TOKENS["read"], "R": TOKENS["respond"], "X": TOKENS["admin"]}


class Clocks:
    """Wall time (cookie expiry) and monotonic time (throttle refill), both moved by hand."""

    def __init__(self) -> None:
        self.wall = 1_772_442_000.0
        self.mono = 100.0


def make(auth_settings: dict[str, Any] | None = None, env: dict[str, str] | None = None,
         clocks: Clocks | None = None, secret: str | None = "session-key-for-tests", secure: bool = False,
         **auth_kw: Any) -> Authenticator:
    """An Authenticator for ``auth_settings`` (default: a token per role); ``auth_kw`` are more
    http.auth keys, except ``responder_token_env`` which is the old http-level name."""
    legacy = {"responder_token_env": auth_kw.pop("responder_token_env")} if "responder_token_env" in auth_kw else {}
    settings = {**(ALL if auth_settings is None else auth_settings), **auth_kw}
    http = HttpSettings.model_validate({"auth": settings, **legacy})
    tokens, problems = read_tokens(http, ENV if env is None else env, "test.yaml")
    assert not problems, problems
    c = clocks or Clocks()
    return Authenticator(tokens, http, session_secret=secret, now=lambda: c.wall, monotonic=lambda: c.mono,
                         secure=secure)


def request(method: str = "GET", path: str = "/api/v1/alerts", *, token: str | None = None,
            cookie: str | None = None, client: str = "10.0.0.7", body: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    raw = urlencode(body or {}).encode()
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "REMOTE_ADDR": client,
                               "wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw)),
                               "CONTENT_TYPE": "application/x-www-form-urlencoded"}
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    environ.update(headers or {})
    return environ


def status_of(a: Authenticator, environ: dict[str, Any], role: str) -> int:
    try:
        a.check(environ, role, environ["REQUEST_METHOD"])
    except AuthError as exc:
        return exc.status
    return 200


def session_cookie(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0]


# --- roles ---------------------------------------------------------------------------------------


def test_roles_are_ordered_read_respond_admin() -> None:
    a = make()
    expected = {"read": {"read": 200, "respond": 403, "admin": 403},
                "respond": {"read": 200, "respond": 200, "admin": 403},
                "admin": {"read": 200, "respond": 200, "admin": 200}}
    for who, allowed in expected.items():
        for role, status in allowed.items():
            assert status_of(a, request(token=TOKENS[who]), role) == status, (who, role)
    assert a.check(request(), "public", "GET") == auth.NOBODY  # public routes ask nothing
    assert status_of(a, request(), "read") == 401  # no credentials
    assert status_of(a, request(token="Bearer"), "read") == 401


def test_a_role_no_token_reaches_answers_403_naming_the_setting() -> None:
    a = make({"analyst_token_env": "A"})
    with pytest.raises(AuthError) as exc:
        a.check(request("POST", token=TOKENS["read"]), "respond", "POST")
    assert exc.value.status == 403
    assert "http.auth.responder_token_env or http.auth.admin_token_env" in str(exc.value)
    nothing = make({})
    with pytest.raises(AuthError) as exc:
        nothing.check(request(), "read", "GET")
    assert exc.value.status == 403 and "http.auth.analyst_token_env" in str(exc.value)
    # a higher role's token switches the lower roles on: it may do what they may
    only_admin = make({"admin_token_env": "X"})
    assert status_of(only_admin, request(token=TOKENS["admin"]), "read") == 200


def test_old_responder_token_setting_still_works() -> None:
    a = make({}, responder_token_env="R")
    assert a.check(request(token=TOKENS["respond"]), "respond", "POST").role == "respond"
    with pytest.raises(ValueError, match="keep one"):
        HttpSettings.model_validate({"responder_token_env": "R", "auth": {"responder_token_env": "R"}})


def test_token_settings_are_checked_at_startup() -> None:
    http = HttpSettings.model_validate({"auth": {**ALL, "session_secret_env": "S"}})
    tokens, problems = read_tokens(http, {"A": "same-token-for-two-roles", "R": "same-token-for-two-roles"}, "c.yaml")
    lines = sorted(str(p) for p in problems)
    assert lines == ["c.yaml: http.auth.admin_token_env: environment variable 'X' is not set",
                     "c.yaml: http.auth.responder_token_env: the respond token equals the read token: "
                     "give each role its own",
                     "c.yaml: http.auth.session_secret_env: environment variable 'S' is not set"]
    assert all(isinstance(p, ConfigError) for p in problems) and tokens == {"read": "same-token-for-two-roles",
                                                                            "respond": "same-token-for-two-roles"}
    with pytest.raises(ValueError, match="loopback"):
        HttpSettings.model_validate({"listen": "0.0.0.0:9108", "auth": {"anonymous_role": "read"}})


def test_anonymous_read_on_loopback_only_reads() -> None:
    a = make({"responder_token_env": "R", "anonymous_role": "read"})
    assert a.check(request(), "read", "GET").via == "anonymous"
    assert status_of(a, request("POST"), "respond") == 401
    assert a.check(request(token=TOKENS["respond"]), "respond", "POST").role == "respond"
    alone = make({"anonymous_role": "read"})  # no token at all: reading works, acting is switched off
    assert alone.check(request(), "read", "GET").via == "anonymous"
    assert status_of(alone, request("POST"), "respond") == 403


# --- constant time ------------------------------------------------------------------------------


def test_tokens_are_compared_in_constant_time_against_every_role(monkeypatch: pytest.MonkeyPatch) -> None:
    a = make()
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(x: Any, y: Any) -> bool:
        calls.append((len(x), len(y)))
        return real(x, y)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    for guess in (TOKENS["read"], TOKENS["admin"], "x", "y" * 5000, ""):
        calls.clear()
        a.role_of(guess)
        # every configured token is compared, whichever matches, and always as 32-byte digests:
        # neither the position of the right token nor the length of a guess changes the work done
        assert calls == [(32, 32)] * 3, guess


# --- sessions and CSRF -------------------------------------------------------------------------------


def test_login_cookie_is_signed_httponly_strict_and_expires() -> None:
    clocks = Clocks()
    a = make(clocks=clocks, session_lifetime="2h")
    principal, set_cookie = a.login(request("POST", "/login"), f"  {TOKENS['respond']} ", "王五  <b>")
    attrs = [p.strip() for p in set_cookie.split(";")]
    assert attrs[0].startswith("bp_session=")
    assert {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=7200"} <= set(attrs)
    assert "Secure" not in attrs and TOKENS["respond"] not in set_cookie
    assert (principal.role, principal.name) == ("respond", "王五 <b>")
    cookie = session_cookie(set_cookie)
    seen = a.check(request(cookie=cookie), "respond", "GET")
    assert (seen.role, seen.name, seen.via, seen.csrf) == ("respond", "王五 <b>", "session", principal.csrf)

    clocks.wall += 7201
    assert status_of(a, request(cookie=cookie), "read") == 401  # expired: log in again
    assert make(secure=True, clocks=clocks)._cookie("x", "y", 1).endswith("; Secure")


def test_forged_or_stale_cookies_are_refused() -> None:
    clocks = Clocks()
    a = make(clocks=clocks)
    _, set_cookie = a.login(request("POST", "/login"), TOKENS["read"], "赵六")
    name, value = session_cookie(set_cookie).split("=", 1)
    promoted = value.replace(".read.", ".admin.", 1)  # a reader making themselves admin
    assert status_of(a, request(cookie=f"{name}={promoted}"), "read") == 401
    assert status_of(a, request(cookie=f"{name}={value[:-3]}abc"), "read") == 401
    assert status_of(a, request(cookie=f"{name}=garbage"), "read") == 401
    # another key (another deployment, or a restart without session_secret_env) does not accept it
    assert status_of(make(clocks=clocks, secret="other-key"), request(cookie=f"{name}={value}"), "read") == 401
    # changing the role's token ends its logins
    rotated = make(env={**ENV, "A": "a-brand-new-analyst-token"}, clocks=clocks)
    assert status_of(rotated, request(cookie=f"{name}={value}"), "read") == 401
    assert status_of(make(clocks=clocks), request(cookie=f"{name}={value}"), "read") == 200


def test_changes_through_a_session_need_its_csrf_token() -> None:
    a = make()
    principal, set_cookie = a.login(request("POST", "/login"), TOKENS["respond"], "王五")
    cookie = session_cookie(set_cookie)
    assert status_of(a, request("GET", "/alerts/1", cookie=cookie), "read") == 200  # reading needs none
    assert status_of(a, request("POST", "/alerts/1/ack", cookie=cookie), "respond") == 403
    assert status_of(a, request("POST", "/alerts/1/ack", cookie=cookie, body={"csrf": "forged"}), "respond") == 403
    ok = request("POST", "/alerts/1/ack", cookie=cookie, body={"csrf": principal.csrf, "note": "在处理"})
    assert status_of(a, ok, "respond") == 200
    assert auth.read_form(ok) == {"csrf": principal.csrf, "note": "在处理"}  # the handler still sees the form
    header = request("POST", "/api/v1/alerts/1/ack", cookie=cookie, headers={"HTTP_X_CSRF_TOKEN": principal.csrf})
    assert status_of(a, header, "respond") == 200
    # a second login has its own token
    other, _ = a.login(request("POST", "/login"), TOKENS["respond"], "王五")
    assert other.csrf != principal.csrf
    # bearer clients are not browsers: no CSRF token needed
    assert status_of(a, request("POST", "/alerts/1/ack", token=TOKENS["respond"]), "respond") == 200


def test_login_form_csrf_is_bound_to_its_nonce_cookie() -> None:
    a = make()
    csrf, set_cookie = a.login_nonce(request("GET", "/login"))
    assert set_cookie is not None and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = session_cookie(set_cookie)
    assert a.login_csrf_ok(request("POST", "/login", cookie=cookie), csrf)
    assert not a.login_csrf_ok(request("POST", "/login"), csrf)  # no nonce cookie
    assert not a.login_csrf_ok(request("POST", "/login", cookie=cookie), csrf[:-1] + "x")
    again, none = a.login_nonce(request("GET", "/login", cookie=cookie))
    assert again == csrf and none is None


def test_pages_redirect_to_login_and_next_stays_on_site() -> None:
    a = make()
    environ = request("GET", "/mentions", headers={"HTTP_ACCEPT": "text/html", "QUERY_STRING": "brand=acme"})
    with pytest.raises(AuthError) as exc:
        a.check(environ, "read", "GET")
    assert exc.value.status == 303 and exc.value.headers == [("Location", "/login?next=%2Fmentions%3Fbrand%3Dacme")]
    for target, expected in (("/alerts/3", "/alerts/3"), ("//evil.example/x", "/"), ("https://evil.example", "/"),
                             ("/\\evil.example", "/"), ("/ok\r\nSet-Cookie: x=1", "/"), ("", "/")):
        assert safe_next(target) == expected, target


# --- throttling and logging ----------------------------------------------------------------------


def test_failed_attempts_are_throttled_per_address(caplog: pytest.LogCaptureFixture) -> None:
    clocks = Clocks()
    a = make(clocks=clocks, auth_settings={**ALL, "failed_attempts_burst": 3, "failed_attempts_refill": "20s"})
    caplog.set_level(logging.INFO, logger="monitor.auth")
    guesses = ["guess-one-secret", "guess-two-secret", "guess-three-secret"]
    for g in guesses:
        assert status_of(a, request(token=g), "read") == 401
    with pytest.raises(AuthError) as exc:
        a.check(request(token=TOKENS["read"]), "read", "GET")  # even the right token, while throttled
    assert exc.value.status == 429 and exc.value.headers == [("Retry-After", "20")]
    with pytest.raises(AuthError) as login:
        a.login(request("POST", "/login"), TOKENS["read"], "x")
    assert login.value.status == 429
    assert status_of(a, request(token=TOKENS["read"], client="10.0.0.8"), "read") == 200  # others unaffected
    clocks.mono += 20
    assert status_of(a, request(token=TOKENS["read"]), "read") == 200  # one attempt regained
    failures = [r for r in caplog.records if r.getMessage().startswith("auth failed")]
    assert len(failures) == 3 and all("client=10.0.0.7" in r.getMessage() for r in failures)
    assert any("auth throttled client=10.0.0.7" in r.getMessage() for r in caplog.records)
    text = "\n".join(r.getMessage() for r in caplog.records) + str(exc.value)
    for secret in [*guesses, *TOKENS.values()]:
        assert secret not in text


def test_throttle_memory_is_bounded() -> None:
    t = FailureThrottle(2, 10.0, max_clients=100, monotonic=lambda: 5.0)
    for i in range(1000):
        t.failed(f"10.1.{i // 256}.{i % 256}")
    assert len(t._buckets) == 100


# --- over a real daemon --------------------------------------------------------------------------------


def test_api_and_pages_need_the_right_role(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    api = httpx.Client(base_url=site.base, timeout=15)
    try:
        for public in ("/metrics", "/healthz", "/login", "/static/app.css"):
            assert api.get(public).status_code == 200, public
        missing = api.get("/api/v1/alerts")
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert api.get("/", headers={"Accept": "text/html"}).headers["location"] == "/login?next=%2F"
        read = {"Authorization": f"Bearer {TOKENS['read']}"}
        assert api.get("/api/v1/alerts", headers=read).status_code == 200
        ack = f"/api/v1/alerts/{site.alert_id}/ack"
        refused = api.post(ack, json={"by": "赵六"}, headers=read)
        assert refused.status_code == 403 and "respond role" in refused.json()["error"]
        wrong = api.post(ack, json={"by": "赵六"}, headers={"Authorization": "Bearer not-the-token-123"})
        assert wrong.status_code == 401 and "not-the-token-123" not in wrong.text
        done = api.post(ack, json={"by": "赵六"}, headers={"Authorization": f"Bearer {TOKENS['respond']}"})
        assert done.status_code == 200 and done.json()["alert"]["state"] == "acknowledged"
    finally:
        api.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "auth failed client=127.0.0.1 method=POST path=/api/v1/alerts/" in logged
    assert "not-the-token-123" not in logged and not any(t in logged for t in TOKENS.values())


def test_browser_login_flow(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    c = site.client()
    form = c.get("/login", params={"next": "/alerts"})
    csrf = csrf_of(form.text)
    assert "bp_login=" in form.headers["set-cookie"]
    stale = c.post("/login", data={"csrf": "x", "token": TOKENS["read"], "name": "赵六"})
    assert stale.status_code == 403 and "bp_session" not in stale.headers.get("set-cookie", "")
    wrong = c.post("/login", data={"csrf": csrf, "token": "wrong-token-4242", "name": "赵六", "next": "/alerts"})
    assert wrong.status_code == 401 and "令牌不正确" in wrong.text and "wrong-token-4242" not in wrong.text
    ok = c.post("/login", data={"csrf": csrf, "token": TOKENS["read"], "name": "赵六", "next": "/alerts"})
    assert ok.status_code == 303 and ok.headers["location"] == "/alerts"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie and "Max-Age=43200" in cookie
    page = c.get("/alerts")
    assert page.status_code == 200 and "赵六" in page.text
    # the session also works for the JSON API's reads (a browser's fetch), but not for its writes without CSRF
    assert c.get("/api/v1/alerts").status_code == 200
    assert c.post(f"/api/v1/alerts/{site.alert_id}/ack", json={"by": "赵六"}).status_code == 403
    out = c.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    c.cookies.delete("bp_session")
    assert c.get("/alerts").status_code == 303
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "auth login client=127.0.0.1 role=read name='赵六'" in logged
    assert "wrong-token-4242" not in logged and TOKENS["read"] not in logged


def test_brute_force_over_http_gets_429_with_retry_after(site: Site) -> None:
    c = httpx.Client(base_url=site.base, timeout=15)
    try:
        statuses = [c.get("/api/v1/alerts", headers={"Authorization": f"Bearer guess-{i:04d}"}).status_code
                    for i in range(11)]
        assert statuses == [401] * 10 + [429]
        right = c.get("/api/v1/alerts", headers={"Authorization": f"Bearer {TOKENS['read']}"})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
        assert c.get("/healthz").status_code == 200  # public endpoints stay up
    finally:
        c.close()


def test_named_but_unset_token_variable_stops_startup(tmp_path: Path, sqlite_url: str, clock: FixedClock,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TOKEN_ENV.values():
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="BP_TEST_ANALYST_TOKEN' is not set"):
        Daemon(load_config(config(tmp_path, sqlite_url)), registry=CollectorRegistry(), clock=clock)
