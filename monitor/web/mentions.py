"""The mention stream: filters, keyset pages, and the analyst's corrections.

``GET /mentions`` takes the query parameters ``brand``, ``sentiment``, ``source``, ``since``
(1h, 24h, 7d, 30d, all; default 7d), ``from`` / ``to`` (a date ``2026-03-02`` or an ISO time;
they override ``since``; a date ``to`` includes that day), ``q`` (text, Chinese-aware, see
monitor/store/textsearch.py), ``author``, ``irrelevant=1`` (also mentions marked irrelevant) and
``cursor`` (the next page). Rows come from :func:`monitor.store.query.search_mentions`, so they
show the corrected state. A respond-role user gets, per row, a relabel form, a "not about
<brand>" button per matched brand and a restore button per brand marked irrelevant; each posts
to ``/mentions/{id}/relabel|irrelevant|restore`` (CSRF-checked by dispatch), which records the
correction as the logged-in name through monitor/store/corrections.py and returns to the list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor import defaults
from monitor.api import Api, HttpError
from monitor.auth import read_form, safe_next
from monitor.models import SentimentLabel
from monitor.store import corrections
from monitor.store.query import MentionFilter, MentionRow, QueryError, search_mentions
from monitor.web.layout import Ctx, Response, Safe, ctx_of, h, join, options, page, redirect, safe_url, table, when

SINCE = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
         "all": None}
DEFAULT_SINCE = "7d"
LABELS = tuple(label.value for label in SentimentLabel)
TEXT_CHARS = 600  # characters of a mention shown in the list; the rest behind the original link


def _time(value: str, name: str, *, end: bool) -> datetime:
    """A filter bound: ``2026-03-02`` (a whole UTC day; as ``to`` it includes that day) or ISO time."""
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be a date such as 2026-03-02 or an ISO time, got {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def filter_of(ctx: Ctx) -> MentionFilter:
    """The MentionFilter the query string asks for; ValueError naming the bad parameter."""
    q = ctx.query
    since: datetime | None = None
    until: datetime | None = None
    if q.get("from") or q.get("to"):
        since = _time(q["from"], "from", end=False) if q.get("from") else None
        until = _time(q["to"], "to", end=True) if q.get("to") else None
    else:
        key = q.get("since") or DEFAULT_SINCE
        if key not in SINCE:
            raise ValueError(f"since must be one of {', '.join(SINCE)}, got {key!r}")
        span = SINCE[key]
        since = ctx.api.daemon.clock.now() - span if span is not None else None
    sentiment = q.get("sentiment") or ""
    if sentiment and sentiment not in LABELS:
        raise ValueError(f"sentiment must be one of {', '.join(LABELS)}, got {sentiment!r}")
    return MentionFilter(
        brands=(q["brand"],) if q.get("brand") else (),
        sources=(q["source"],) if q.get("source") else (),
        since=since, until=until,
        sentiments=(sentiment,) if sentiment else (),
        text=q.get("q", "").strip() or None,
        author=q.get("author", "").strip() or None,
        include_irrelevant=q.get("irrelevant") == "1",
    )


def stream(api: Api, environ: dict[str, Any]) -> Response:
    ctx = ctx_of(api, environ)
    names = {b.id: b.name for b in api.daemon.config.brands}
    error = ""
    result = None
    try:
        flt = filter_of(ctx)
        result = search_mentions(api.daemon.engine, flt, limit=defaults.WEB_PAGE_SIZE,
                                 cursor=ctx.query.get("cursor") or None)
    except (ValueError, QueryError) as exc:
        error = str(exc)
    body = [_filters(ctx, names)]
    if error:
        body.append(h('<p class="error">{}</p>', ctx.t("mentions.bad_filter", error=error)))
    elif result is not None and result.rows:
        headers = [ctx.t("mentions.time"), ctx.t("mentions.brand"), ctx.t("mentions.source"),
                   ctx.t("mentions.author"), ctx.t("mentions.text"), ctx.t("mentions.sentiment")]
        if ctx.may("respond"):
            headers.append(ctx.t("mentions.actions"))
        body.append(table(headers, [_row(ctx, r, names) for r in result.rows], "mentions"))
        pager = []
        if ctx.query.get("cursor"):
            pager.append(h('<a href="{}">{}</a>', ctx.here(cursor=None), ctx.t("mentions.newest")))
        if result.next_cursor:
            pager.append(h('<a rel="next" href="{}">{}</a>', ctx.here(cursor=result.next_cursor),
                           ctx.t("mentions.older")))
        body.append(h('<p class="pager">{}</p>', join(pager, " ")))
    else:
        body.append(h('<p class="empty">{}</p>', ctx.t("mentions.none")))
    return page(ctx, ctx.t("mentions.title"), join(body), status=400 if error else 200)


def _filters(ctx: Ctx, names: dict[str, str]) -> Safe:
    q = ctx.query
    sources = [s.id for s in ctx.api.daemon.config.sources]
    source_choices = [("", ctx.t("mentions.any_source")), *((s, s) for s in sources)]
    if q.get("source") and q["source"] not in sources:
        source_choices.append((q["source"], q["source"]))
    since = q.get("since") or DEFAULT_SINCE
    return h(
        '<form class="filters" method="get" action="/mentions">'
        '<label>{bl} <select name="brand">{brands}</select></label> '
        '<label>{sl} <select name="sentiment">{sentiments}</select></label> '
        '<label>{srl} <select name="source">{sources}</select></label> '
        '<label>{tl} <select name="since">{spans}</select></label> '
        '<label>{fl} <input name="from" size="10" placeholder="YYYY-MM-DD" value="{from_}"></label> '
        '<label>{tol} <input name="to" size="10" placeholder="YYYY-MM-DD" value="{to}"></label> '
        '<label>{ql} <input name="q" type="search" value="{text}"></label> '
        '<label>{al} <input name="author" size="12" value="{author}"></label> '
        '<button type="submit">{go}</button> <a href="/mentions">{reset}</a></form>',
        bl=ctx.t("mentions.brand"), brands=options([("", ctx.t("mentions.any_brand")), *names.items()],
                                                   q.get("brand", "")),
        sl=ctx.t("mentions.sentiment"),
        sentiments=options([("", ctx.t("sentiment.any"))] + [(x, ctx.t(f"sentiment.{x}")) for x in LABELS],
                           q.get("sentiment", "")),
        srl=ctx.t("mentions.source"), sources=options(source_choices, q.get("source", "")),
        tl=ctx.t("mentions.since"), spans=options([(k, ctx.t(f"mentions.since.{k}")) for k in SINCE], since),
        fl=ctx.t("mentions.from"), from_=q.get("from", ""), tol=ctx.t("mentions.to"), to=q.get("to", ""),
        ql=ctx.t("mentions.q"), text=q.get("q", ""), al=ctx.t("mentions.author"), author=q.get("author", ""),
        go=ctx.t("mentions.filter"), reset=ctx.t("mentions.reset"))


def _row(ctx: Ctx, r: MentionRow, names: dict[str, str]) -> list[Any]:
    brands = join([h('<span class="brand">{}</span>', names.get(b, b)) for b in r.brands]
                  + [h('<del class="brand">{}</del>', names.get(b, b)) for b in r.irrelevant_brands], " ")
    url = safe_url(r.url)
    text = r.text if len(r.text) <= TEXT_CHARS else r.text[:TEXT_CHARS] + "…"
    title = h("<strong>{}</strong><br>", r.title) if r.title and r.title not in r.text else Safe("")
    link = (h(' <a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>', url, ctx.t("mentions.open"))
            if url else Safe(""))
    sentiment = [h('<span class="badge {0}">{1}</span>', r.sentiment_label, ctx.t(f"sentiment.{r.sentiment_label}"))]
    if r.corrected_by:
        was = ctx.t(f"sentiment.{r.model_label}") if r.model_label in LABELS else r.model_label
        sentiment.append(h('<br><small class="corrected">{}</small>',
                           ctx.t("mentions.corrected", by=r.corrected_by, at=when(r.corrected_at), was=was)))
    author = h("{}{}", r.author or "", h(" <small>({})</small>", f"{r.author_followers:,}")
               if r.author_followers else Safe(""))
    cells: list[Any] = [when(r.published_at), brands, " / ".join(x for x in (r.source_id, r.platform) if x), author,
                        h('{}<span class="text">{}</span>{}', title, text, link), join(sentiment)]
    if ctx.may("respond"):
        cells.append(_correction_forms(ctx, r, names))
    return cells


def _correction_forms(ctx: Ctx, r: MentionRow, names: dict[str, str]) -> Safe:
    back = h('<input type="hidden" name="back" value="{}">', ctx.here())
    others = [(x, ctx.t(f"sentiment.{x}")) for x in LABELS if x != r.sentiment_label]
    forms = [h('<form class="relabel" method="post" action="/mentions/{id}/relabel">{csrf}{back}'
               '<select name="label" aria-label="{label}">{choices}</select> '
               '<button type="submit">{go}</button></form>',
               id=r.id, csrf=ctx.csrf_field(), back=back, label=ctx.t("mentions.relabel"),
               choices=options(others, None), go=ctx.t("mentions.relabel_submit"))]
    for b in r.brands:
        forms.append(h('<form class="irrelevant" method="post" action="/mentions/{id}/irrelevant">{csrf}{back}'
                       '<input type="hidden" name="brand" value="{brand}"><button type="submit">{go}</button></form>',
                       id=r.id, csrf=ctx.csrf_field(), back=back, brand=b,
                       go=ctx.t("mentions.irrelevant", brand=names.get(b, b))))
    for b in r.irrelevant_brands:
        forms.append(h('<form class="restore" method="post" action="/mentions/{id}/restore">{csrf}{back}'
                       '<input type="hidden" name="brand" value="{brand}"><button type="submit">{go} {name}</button>'
                       '</form>', id=r.id, csrf=ctx.csrf_field(), back=back, brand=b, go=ctx.t("mentions.restore"),
                       name=names.get(b, b)))
    return join(forms)


_STATUS = {"not_found": 404, "conflict": 409, "invalid": 400}


def correct(api: Api, environ: dict[str, Any], mention_id: str, action: str) -> Response:
    """POST /mentions/{id}/relabel|irrelevant|restore (respond role + CSRF, checked by dispatch)."""
    ctx = ctx_of(api, environ)
    form = read_form(environ)
    by = (ctx.principal.name or form.get("by", "")).strip()
    note = form.get("note", "").strip()
    at = api.daemon.clock.now()
    try:
        if action == "relabel":
            corrections.relabel(api.daemon.engine, int(mention_id), form.get("label", ""), by=by, at=at, note=note)
        elif action == "irrelevant":
            corrections.mark_irrelevant(api.daemon.engine, int(mention_id), form.get("brand", ""), by=by, at=at,
                                        note=note)
        else:
            corrections.restore(api.daemon.engine, int(mention_id), form.get("brand", ""), by=by, at=at, note=note)
    except corrections.CorrectionError as exc:
        raise HttpError(_STATUS.get(exc.reason, 400), str(exc)) from None
    back = safe_next(form.get("back", "") or "/mentions")
    return redirect(ctx, back if back.startswith("/mentions") else "/mentions")
