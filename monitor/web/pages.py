"""The read-side pages: brands overview, alert list, alert detail (with ack/resolve), reports.

Each handler takes ``(api, environ, *groups)`` and returns ``(status, content type, body)``;
access was already checked by ``Api.dispatch`` from the route's role. Nothing here writes
except :func:`alert_action`, which goes through the alert engine like the JSON API does.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from alerts import records
from monitor import defaults
from monitor.api import Api, HttpError
from monitor.auth import HEADERS_KEY, read_form, safe_next
from monitor.errors import AlertStateError, BrandPulseError
from monitor.models import Alert, AlertState
from monitor.store.query import sentiment_series
from monitor.web.charts import split_bar, trend_chart
from monitor.web.layout import Ctx, Response, Safe, ctx_of, h, join, options, page, redirect, safe_url, table, when

STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8"}
ALERT_LIST_LIMIT = 200  # alerts one list page shows, newest first


def brand_names(api: Api) -> dict[str, str]:
    return {b.id: b.name for b in api.daemon.config.brands}


def level_name(ctx: Ctx, level_id: str) -> str:
    """The plan's name for a level (e.g. 危机), or its id when the plan no longer has it."""
    plan = ctx.api.daemon.parts.plan
    try:
        return plan.level(level_id).name if plan is not None else level_id
    except KeyError:
        return level_id


def state_badge(ctx: Ctx, alert: Alert) -> Safe:
    drill = h(' <span class="badge drill">{}</span>', ctx.t("alerts.drill")) if alert.drill else Safe("")
    return h('<span class="badge {state}">{label}</span> <span class="level">{level}</span>{drill}',
             state=alert.state.value, label=ctx.t(f"state.{alert.state.value}"), level=level_name(ctx, alert.level),
             drill=drill)


# --- overview ------------------------------------------------------------------------------------


def overview(api: Api, environ: dict[str, Any]) -> Response:
    ctx = ctx_of(api, environ)
    now = api.daemon.clock.now()
    bucket = defaults.WEB_TREND_BUCKET_SECONDS
    start = now - timedelta(days=defaults.WEB_TREND_DAYS)
    cards: list[Safe] = []
    with api.daemon.engine.connect() as conn:
        open_alerts = {b.id: records.open_alert(conn, b.id) for b in api.daemon.config.brands}
    for brand in api.daemon.config.brands:
        series = sentiment_series(api.daemon.engine, brand.id, start, now, bucket)
        neg, neu, pos = (sum(p.negative for p in series), sum(p.neutral for p in series),
                         sum(p.positive for p in series))
        alert = open_alerts[brand.id]
        if alert is not None:
            state = h('<a href="/alerts/{}">{}</a> {}', alert.id, ctx.t("alert.title", id=alert.id),
                      state_badge(ctx, alert))
        else:
            state = h('<span class="badge ok">{}</span>', ctx.t("overview.no_alert"))
        chart = trend_chart(ctx.t("chart.title", brand=brand.name), series, ctx.t, bucket_hours=bucket / 3600)
        split = split_bar(ctx.t("chart.split", brand=brand.name), neg, neu, pos, ctx.t)
        link = "/mentions?" + urlencode({"brand": brand.id, "since": "7d"})
        cards.append(h(
            '<section class="card" id="brand-{id}"><h2>{name} <small>{id}</small></h2><div class="state">{state}</div>'
            '<p class="caption">{caption} · {total}</p>{chart}<div class="splitrow">{split} '
            '<span class="counts"><span class="neg-t">{neg_l} {neg}</span> <span class="neu-t">{neu_l} {neu}</span> '
            '<span class="pos-t">{pos_l} {pos}</span></span></div><p><a href="{link}">{more}</a></p></section>',
            id=brand.id, name=brand.name, state=state,
            caption=ctx.t("overview.trend", days=defaults.WEB_TREND_DAYS, hours=bucket // 3600),
            total=ctx.t("overview.total", n=neg + neu + pos), chart=chart, split=split,
            neg_l=ctx.t("sentiment.negative"), neu_l=ctx.t("sentiment.neutral"), pos_l=ctx.t("sentiment.positive"),
            neg=neg, neu=neu, pos=pos, link=link, more=ctx.t("overview.mentions_link")))
    return page(ctx, ctx.t("overview.title"), join(cards))


# --- alerts ----------------------------------------------------------------------------------------


def alert_list(api: Api, environ: dict[str, Any]) -> Response:
    ctx = ctx_of(api, environ)
    names = brand_names(api)
    state = ctx.query.get("state") or None
    brand = ctx.query.get("brand") or None
    if state is not None and state not in {s.value for s in AlertState}:
        raise HttpError(400, f"state must be one of {', '.join(s.value for s in AlertState)}, got {state!r}")
    with api.daemon.engine.connect() as conn:
        alerts = records.list_alerts(conn, state=state, brand=brand, limit=ALERT_LIST_LIMIT)
    form = h('<form class="filters" method="get" action="/alerts">'
             '<label>{bl} <select name="brand">{brands}</select></label> '
             '<label>{sl} <select name="state">{states}</select></label> <button type="submit">{go}</button></form>',
             bl=ctx.t("mentions.brand"), sl=ctx.t("alerts.state"), go=ctx.t("mentions.filter"),
             brands=options([("", ctx.t("mentions.any_brand")), *names.items()], brand or ""),
             states=options([("", ctx.t("alerts.any_state"))] + [(s.value, ctx.t(f"state.{s.value}"))
                                                                   for s in AlertState], state or ""))
    rows = []
    for a in alerts:
        handled = []
        if a.acknowledged_by:
            handled.append(ctx.t("alert.acked", by=a.acknowledged_by, at=when(a.acknowledged_at)))
        if a.resolved_by:
            handled.append(ctx.t("alert.resolved", by=a.resolved_by, at=when(a.resolved_at)))
        rows.append((h('<a href="/alerts/{}">#{}</a>', a.id, a.id), names.get(a.brand, a.brand),
                     state_badge(ctx, a), when(a.opened_at), a.summary, join(handled, "; ")))
    body = form + (table(["#", ctx.t("mentions.brand"), ctx.t("alerts.state"), ctx.t("alerts.opened"),
                          ctx.t("alerts.summary"), ctx.t("alerts.handled")], rows, "alerts")
                   if rows else h('<p class="empty">{}</p>', ctx.t("alerts.none")))
    return page(ctx, ctx.t("alerts.title"), Safe(body))


def alert_detail(api: Api, environ: dict[str, Any], alert_id: str) -> Response:
    ctx = ctx_of(api, environ)
    names = brand_names(api)
    with api.daemon.engine.connect() as conn:
        alert = records.find_alert(conn, int(alert_id))
        if alert is None:
            raise HttpError(404, f"alert {alert_id}: no such alert")
        events = records.alert_events(conn, alert.id)
    facts = [h('<p class="summary">{}</p>', alert.summary),
             h('<p>{badge} · {brand} · {opened}: {at}</p>', badge=state_badge(ctx, alert),
               brand=names.get(alert.brand, alert.brand), opened=ctx.t("alerts.opened"), at=when(alert.opened_at))]
    if alert.ack_deadline and alert.state in (AlertState.FIRING, AlertState.ESCALATED):
        facts.append(h("<p>{}: {}</p>", ctx.t("alert.deadline"), when(alert.ack_deadline)))
    if alert.acknowledged_by:
        facts.append(h("<p>{}</p>", ctx.t("alert.acked", by=alert.acknowledged_by, at=when(alert.acknowledged_at))))
    if alert.resolved_by:
        facts.append(h("<p>{}</p>", ctx.t("alert.resolved", by=alert.resolved_by, at=when(alert.resolved_at))))
    timeline = table([ctx.t("alert.at"), ctx.t("alert.change"), ctx.t("alerts.level"), ctx.t("alert.actor"),
                      ctx.t("alert.reason")],
                     [(when(e["at"]), f"{_state(ctx, e['from_state'])} → {_state(ctx, e['to_state'])}",
                       level_name(ctx, e["level"]),
                       e["actor"], e["reason"]) for e in events], "timeline")
    body = [join(facts), _actions(ctx, alert), h("<h2>{}</h2>{}", ctx.t("alert.timeline"), timeline),
            _evidence(ctx, alert)]
    return page(ctx, ctx.t("alert.title", id=alert.id), join(body))


def _state(ctx: Ctx, state: str | None) -> str:
    return ctx.t(f"state.{state}") if state in {s.value for s in AlertState} else (state or "∅")


def _actions(ctx: Ctx, alert: Alert) -> Safe:
    if not ctx.may("respond") or alert.state is AlertState.RESOLVED:
        return Safe("")
    forms = []
    actions = ["resolve"] if alert.state is AlertState.ACKNOWLEDGED else ["ack", "resolve"]
    for action in actions:
        forms.append(h('<form class="action" method="post" action="/alerts/{id}/{action}">{csrf}'
                       '<label>{note} <input name="note" maxlength="500"></label> '
                       '<button type="submit" name="do" value="{action}">{label}</button></form>',
                       id=alert.id, action=action, csrf=ctx.csrf_field(), note=ctx.t("alert.note"),
                       label=ctx.t("alert.ack" if action == "ack" else "alert.resolve")))
    who = h('<p class="as">{}</p>', ctx.t("alert.as", name=ctx.principal.name)) if ctx.principal.name else Safe("")
    return h('<div class="actions">{}{}</div>', who, join(forms))


def _evidence(ctx: Ctx, alert: Alert) -> Safe:
    ev = alert.evidence or {}
    scalars = [(k, when(v) if k.endswith(("_start", "_end", "_at")) else v) for k, v in ev.items()
               if not isinstance(v, list | dict)]
    parts = [h("<h2>{}</h2>", ctx.t("alert.evidence")),
             table([ctx.t("alert.field"), ctx.t("alert.value")], scalars, "evidence")]
    for key, title in (("top_terms", "alert.top_terms"), ("crisis_terms", "alert.crisis_terms")):
        terms = [t for t in ev.get(key) or [] if isinstance(t, dict)]
        if terms:
            parts.append(h('<h3>{}</h3><ul class="terms">{}</ul>', ctx.t(title),
                           join(h("<li>{} <small>×{}</small></li>", t.get("term"), t.get("mentions")) for t in terms)))
    samples = [s for s in ev.get("samples") or [] if isinstance(s, dict)]
    if samples:
        items = []
        for s in samples:
            url = safe_url(s.get("url"))
            link = (h(' <a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>', url,
                      ctx.t("mentions.open")) if url else Safe(""))
            items.append(h('<li><span class="author">{}</span> <small>{} · {} · {}</small>{}<blockquote>{}'
                           '</blockquote></li>', s.get("author") or "?", s.get("platform") or "",
                           when(s.get("published_at")), ctx.t("mentions.engagement", n=s.get("engagement") or 0),
                           link, s.get("text")))
        parts.append(h('<h3>{}</h3><ul class="samples">{}</ul>', ctx.t("alert.samples"), join(items)))
    if ev.get("window_start") and ev.get("window_end"):
        query = urlencode({"brand": alert.brand, "sentiment": "negative", "from": ev["window_start"],
                           "to": ev["window_end"]})
        parts.append(h('<p><a href="/mentions?{}">{}</a></p>', query, ctx.t("alert.window_mentions")))
    return join(parts)


def alert_action(api: Api, environ: dict[str, Any], alert_id: str, action: str) -> Response:
    """POST /alerts/{id}/ack|resolve from the detail page's forms (respond role + CSRF, checked
    by dispatch). Acts as the logged-in name; API clients name themselves with ``by``."""
    ctx = ctx_of(api, environ)
    form = read_form(environ)
    by = (ctx.principal.name or form.get("by", "")).strip()[:200]
    if not by:
        raise HttpError(400, 'say who acts: log in with your name, or send a "by" field')
    note = form.get("note", "").strip()[:2000]
    engine = api.daemon.alert_engine
    with api.daemon.engine.connect() as conn:
        if records.find_alert(conn, int(alert_id)) is None:
            raise HttpError(404, f"alert {alert_id}: no such alert")
    try:
        if action == "ack":
            engine.acknowledge(int(alert_id), by=by, note=note)
        else:
            engine.resolve(int(alert_id), by=by, reason=note)
    except AlertStateError as exc:
        raise HttpError(409, str(exc)) from None
    except BrandPulseError as exc:
        raise HttpError(400, str(exc)) from None
    return redirect(ctx, safe_next(f"/alerts/{int(alert_id)}"))


# --- reports and static files ----------------------------------------------------------------------


def reports(api: Api, environ: dict[str, Any]) -> Response:
    """Links to the weekly and monthly reports (served by monitor.reports at /reports/{period})."""
    ctx = ctx_of(api, environ)
    rows = [(ctx.t("reports.all_brands"), h('<a href="/reports/week">{}</a>', ctx.t("reports.week")),
             h('<a href="/reports/month">{}</a>', ctx.t("reports.month")))]
    for b in api.daemon.config.brands:
        q = urlencode({"brand": b.id})
        rows.append((b.name, h('<a href="/reports/week?{}">{}</a>', q, ctx.t("reports.week")),
                     h('<a href="/reports/month?{}">{}</a>', q, ctx.t("reports.month"))))
    body = h("<p>{}</p>{}", ctx.t("reports.intro"),
             table([ctx.t("mentions.brand"), ctx.t("reports.week"), ctx.t("reports.month")], rows, "reports"))
    return page(ctx, ctx.t("reports.title"), body)


def static(api: Api, environ: dict[str, Any], name: str) -> Response:
    path = STATIC / name
    ctype = STATIC_TYPES.get(path.suffix)
    if ctype is None or not path.is_file() or path.parent != STATIC:
        raise HttpError(404, f"no such file: /static/{name}")
    environ.setdefault(HEADERS_KEY, []).extend([("Cache-Control", "max-age=300"),
                                                        ("X-Content-Type-Options", "nosniff")])
    return 200, ctype, path.read_bytes()

