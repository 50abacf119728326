"""The report as one HTML page: what a brand manager opens, prints or forwards.

Charts are embedded as ``data:`` URIs by default, so the file survives being saved, attached
and forwarded; the email sends the same page with ``cid:`` images (mail clients block data
URIs) and the file attached. Every string that comes from mentions (text, titles, author
names, keywords, platform and source names, URLs) is hostile input: it is HTML-escaped, and a
URL becomes a link only when it is http(s).

    page = render_html(data, charts, lang="zh")             # str, self-contained
    page = render_html(data, charts, lang="zh", images={c.name: f"cid:{c.name}" for c in charts})
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from monitor.reports import text as tx
from monitor.reports.charts import COLORS, Chart
from monitor.reports.data import Author, ChannelRow, ReportData, change, share
from monitor.reports.incidents import Incident

CSS = """
body{margin:0;background:#f3f5f8;color:#1f2933;font:14px/1.55 -apple-system,"PingFang SC","Microsoft YaHei",
"WenQuanYi Micro Hei","Noto Sans CJK SC","Helvetica Neue",Arial,sans-serif}
.page{max-width:980px;margin:0 auto;padding:24px}
header{background:#1d3b5e;color:#fff;border-radius:10px;padding:22px 26px;margin-bottom:18px}
header h1{margin:0;font-size:24px;font-weight:600}
header .meta{margin-top:6px;color:#c9d6e6;font-size:13px}
section{background:#fff;border-radius:10px;padding:18px 22px;margin-bottom:16px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
h2{margin:0 0 12px;font-size:18px;font-weight:600;color:#1d3b5e}
h2 small{font-size:12px;font-weight:400;color:#7b8794;margin-left:8px;letter-spacing:.2px}
h3{font-size:14px;margin:14px 0 6px;color:#3e4c59}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:12px}
.tile{flex:1 1 120px;border:1px solid #e4e7eb;border-radius:8px;padding:10px 12px}
.tile .k{font-size:12px;color:#7b8794}.tile .v{font-size:24px;font-weight:600;margin-top:2px}
.tile .d{font-size:12px;color:#52606d}.up{color:#c62828}.down{color:#2e7d32}
.headline{font-size:15px;background:#f0f4f8;border-left:4px solid #2f6fb2;padding:10px 14px;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:13px}
th{background:#f5f7fa;color:#52606d;font-weight:600;text-align:left}
th,td{padding:6px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.row{display:flex;flex-wrap:wrap;gap:16px}.row>div{flex:1 1 300px;min-width:0}
img.chart{max-width:100%;height:auto;display:block;margin:4px auto}
.tag{display:inline-block;padding:0 6px;border-radius:3px;font-size:11px;background:#e8eef6;color:#1d3b5e}
.tag.kol{background:#fdecc8;color:#8a5a00}.tag.bad{background:#fde2e2;color:#a61b1b}
.tag.ok{background:#dff3e4;color:#1e6b34}
blockquote{margin:8px 0;padding:8px 12px;border-left:3px solid #d64545;background:#fdf5f5;word-break:break-word}
blockquote .who{font-size:12px;color:#7b8794;margin-top:4px}
.muted{color:#7b8794}.small{font-size:12px}.row>div.donut{flex:0 1 320px}
ul.notes{margin:0;padding-left:18px;color:#616e7c;font-size:12px}
"""


def e(value: object) -> str:
    """HTML-escape anything (quotes too: values also land in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: str | None) -> str | None:
    """The URL when it is a plain http(s) link, else None (no javascript:, data:, relative...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _h2(key: str, lang: str) -> str:
    title, sub = tx.section(key, lang)
    return f"<h2>{e(title)}" + (f"<small>{e(sub)}</small>" if sub else "") + "</h2>"


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]]) -> str:
    """``head``: (label, numeric); ``rows``: cells already escaped/marked up."""
    th = "".join(f'<th class="n">{e(h)}</th>' if n else f"<th>{e(h)}</th>" for h, n in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if n else f"<td>{c}</td>"
                         for c, (_, n) in zip(r, head, strict=True)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _img(chart: Chart | None, src: str | None) -> str:
    if chart is None or src is None:
        return ""
    return f'<img class="chart" src="{e(src)}" alt="{e(chart.title)}">'


def _delta(x: float | None, text: str, *, bad_up: bool = True) -> str:
    if x is None or text == "—":
        return f'<span class="muted">{e(text)}</span>'
    cls = ("up" if bad_up else "down") if x > 0 else ("down" if bad_up else "up") if x < 0 else ""
    return f'<span class="{cls}">{e(text)}</span>'


def _tiles(data: ReportData, lang: str) -> str:
    w = tx.words(lang)
    neg, prev_neg = data.negative_share, data.previous_negative_share
    tiles = [
        (w["mentions"], tx.num(data.total),
         f'{e(w["vs_previous"])} {e(tx.signed_pct(data.change))}'),
        (w["negative_share"], tx.pct(neg),
         f'{e(w["previous"])} {e(tx.pct(prev_neg))} · '
         + _delta(None if neg is None or prev_neg is None else neg - prev_neg, tx.points(neg, prev_neg, lang))),
    ]
    if data.brand_filter:
        row = next(b for b in data.brands if b.id == data.brand_filter)
        before = share(row.previous_total, sum(b.previous_total for b in data.brands))
        now = data.share_of_voice(row)
        tiles.append((w["share_of_voice"], tx.pct(now),
                      f'{e(w["previous"])} {e(tx.pct(before))}'))
    k = data.kpi
    tiles.append((w["incidents"], str(k.incidents),
                  f'{e(w["open"])} {k.open} · {e(w["within_target"])} {k.within_target}/{k.judged}'))
    peak = data.peak_day
    if peak is not None:
        tiles.append((w["peak"], f"{peak[0]:%m-%d}", f'{e(tx.num(peak[1]))} {e(w["mentions"])}'))
    return '<div class="tiles">' + "".join(
        f'<div class="tile"><div class="k">{e(k_)}</div><div class="v">{e(v)}</div><div class="d">{d}</div></div>'
        for k_, v, d in tiles) + "</div>"


def _brand_table(data: ReportData, lang: str) -> str:
    w = tx.words(lang)
    rows = []
    for b in sorted(data.brands, key=lambda b: -b.total):
        neg = share(b.sentiment["negative"], b.total)
        prev = share(b.previous["negative"], b.previous_total)
        name = f"<strong>{e(b.name)}</strong>" if b.in_scope and data.brand_filter else e(b.name)
        rows.append([name, e(tx.num(b.total)), _delta(change(b.total, b.previous_total),
                                                      tx.signed_pct(change(b.total, b.previous_total)), bad_up=False),
                     e(tx.pct(data.share_of_voice(b))), e(tx.num(b.sentiment["positive"])),
                     e(tx.num(b.sentiment["neutral"])), e(tx.num(b.sentiment["negative"])),
                     _delta(None if neg is None or prev is None else neg - prev, tx.pct(neg))])
    return _table([(w["brand"], False), (w["mentions"], True), (w["vs_previous"], True), (w["share_of_voice"], True),
                   (w["positive"], True), (w["neutral"], True), (w["negative"], True), (w["negative_share"], True)],
                  rows)


def _channel_table(rows: list[ChannelRow], label: str, lang: str) -> str:
    w = tx.words(lang)
    if not rows:
        return f'<p class="muted">{e(w["no_data"])}</p>'
    return _table([(label, False), (w["mentions"], True), (w["negative"], True), (w["negative_share"], True)],
                  [[e(r.name or w["other"]), e(tx.num(r.total)), e(tx.num(r.sentiment["negative"])),
                    e(tx.pct(share(r.sentiment["negative"], r.total)))] for r in rows])


def _author_table(authors: list[Author], lang: str) -> str:
    w = tx.words(lang)
    if not authors:
        return f'<p class="muted">{e(w["no_data"])}</p>'
    rows = []
    for a in authors:
        tag = f'<span class="tag{" kol" if a.tier == "KOL" else ""}">{e(a.tier)}</span>' if a.tier else ""
        rows.append([e(a.name), e(a.platform or w["other"]), tag, e(tx.num(a.followers)), e(tx.num(a.posts)),
                     e(tx.num(a.engagement)), e(tx.num(a.negative))])
    return _table([(w["author"], False), (w["platform"], False), (w["tier"], False), (w["followers"], True),
                   (w["posts"], True), (w["engagement"], True), (w["negative_posts"], True)], rows)


def _terms(terms: list[tuple[str, int]], title: str, lang: str) -> str:
    w = tx.words(lang)
    body = (_table([(w["term"], False), (w["count"], True)], [[e(t), e(tx.num(n))] for t, n in terms])
            if terms else f'<p class="muted">{e(w["none"])}</p>')
    return f"<div><h3>{e(title)}</h3>{body}</div>"


def _quotes(data: ReportData, lang: str) -> str:
    w = tx.words(lang)
    if not data.negative_mentions:
        return f'<p class="muted">{e(w["none"])}</p>'
    out = []
    for m in data.negative_mentions:
        body = str(m.get("text") or "")
        body = body if len(body) <= 280 else body[:279] + "…"
        title = f"<strong>{e(m['title'])}</strong> " if m.get("title") else ""
        url = safe_url(m.get("url"))
        link = f' · <a href="{e(url)}" rel="noopener noreferrer nofollow">{e(w["link"])}</a>' if url else ""
        who = " · ".join(e(x) for x in (m.get("author"), m.get("platform") or m.get("source_id")) if x)
        out.append(f"<blockquote>{title}{e(body)}<div class=\"who\">{who} · {e(tx.local(data, m['published_at']))}"
                   f" · {e(w['engagement'])} {e(tx.num(int(m.get('engagement') or 0)))}{link}</div></blockquote>")
    return "".join(out)


def _incident_table(data: ReportData, incidents: list[Incident], lang: str) -> str:
    """One row per incident with its timings, and under it the alert's summary."""
    head = _INCIDENT_HEAD(lang)
    th = "".join(f'<th class="n">{e(h)}</th>' if n else f"<th>{e(h)}</th>" for h, n in head)
    body = []
    for i in incidents:
        verdict = i.ack_met(data.generated_at)
        met = tx.met(i, data.generated_at, lang)
        met_html = f'<span class="tag {"ok" if verdict else "bad"}">{e(met)}</span>' if verdict is not None else e(met)
        level = tx.level_name(data, i.level)
        if i.opened_level != i.level:
            level = f"{tx.level_name(data, i.opened_level)} → {level}"
        by = f'<br><span class="muted">{e(i.acknowledged_by)}</span>' if i.acknowledged_by else ""
        cells = [f"#{i.id}", e(data.brand_name(i.brand)), e(level), e(tx.state_name(i.state, lang)),
                 e(tx.local(data, i.opened_at)), e(tx.span(i.ack_seconds)) + by, e(tx.span(i.ack_target)), met_html,
                 e(tx.span(i.resolve_seconds)), e(tx.control(i, lang))]
        body.append("<tr>" + "".join(f'<td class="n">{c}</td>' if n else f"<td>{c}</td>"
                                     for c, (_, n) in zip(cells, head, strict=True)) + "</tr>")
        body.append(f'<tr><td></td><td colspan="{len(head) - 1}" class="muted small">'
                    f"{e(i.summary)}</td></tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _incidents(data: ReportData, lang: str) -> str:
    w = tx.words(lang)
    k = data.kpi
    if not data.incidents:
        return f'<p class="muted">{e(w["no_incidents"])}</p>'
    tiles = [
        (w["incidents"], str(k.incidents),
         " · ".join(f"{tx.level_name(data, lvl)} {n}" for lvl, n in k.by_level.items())),
        (w["to_ack"], tx.span(k.ack_median), f'{w["median"]} · {w["p90"]} {tx.span(k.ack_p90)}'),
        (w["within_target"], f"{k.within_target}/{k.judged}" if k.judged else "—", f'{w["open"]} {k.open}'),
        (w["to_resolve"], tx.span(k.resolve_median), f'{w["median"]} · {w["p90"]} {tx.span(k.resolve_p90)}'),
        (w["returned"], f"{k.control_returned}/{k.control_evaluated}" if k.control_evaluated else "—",
         f'{w["pending"]} {k.control_pending}'),
    ]
    head = '<div class="tiles">' + "".join(
        f'<div class="tile"><div class="k">{e(a)}</div><div class="v">{e(b)}</div><div class="d">{e(c)}</div></div>'
        for a, b, c in tiles) + "</div>"
    return head + _incident_table(data, data.incidents, lang)


def _INCIDENT_HEAD(lang: str) -> list[tuple[str, bool]]:  # noqa: N802 - a table header, read like a constant
    w = tx.words(lang)
    return [("#", False), (w["brand"], False), (w["level"], False), (w["state"], False), (w["opened"], False),
            (w["to_ack"], True), (w["target"], True), (w["met"], False), (w["to_resolve"], True), (w["control"], False)]


def render_html(data: ReportData, charts: Sequence[Chart], *, lang: str,
                images: Mapping[str, str] | None = None, stylesheet: str | None = None) -> str:
    """The whole report page. ``images`` maps chart name -> src (default: data: URIs);
    ``stylesheet``: link this CSS URL instead of an inline ``<style>`` (the daemon's pages allow
    no inline style, see monitor/api.py's Content-Security-Policy)."""
    w = tx.words(lang)
    by_name = {c.name: c for c in charts}
    srcs = dict(images) if images is not None else {c.name: data_uri(c.png) for c in charts}

    def img(name: str) -> str:
        return _img(by_name.get(name), srcs.get(name))

    title = tx.title(data, lang)
    generated = f"{data.generated_at.astimezone(data.period.tz):%Y-%m-%d %H:%M}"
    meta = (f'{e(w["period"])} {e(data.period.first_day)} – {e(data.period.last_day)} · {e(w["timezone"])} '
            f'{e(data.period.tz.key)} · {e(w["generated"])} {e(generated)}')
    parts = [
        f'<header><h1>{e(title)}</h1><div class="meta">{meta}</div></header>',
        f'<section>{_h2("summary", lang)}{_tiles(data, lang)}'
        f'<p class="headline">{e(tx.headline(data, lang))}</p></section>',
        f'<section>{_h2("trend", lang)}{img("trend")}</section>',
        f'<section>{_h2("sentiment", lang)}<div class="row"><div class="donut">{img("sentiment")}</div>'
        f'<div>{img("share_of_voice")}</div></div>{_brand_table(data, lang)}</section>',
        f'<section>{_h2("channels", lang)}<div class="row"><div>{img("platforms")}'
        f'{_channel_table(data.platforms, w["platform"], lang)}</div>'
        f'<div>{_channel_table(data.sources, w["source"], lang)}</div></div></section>',
        f'<section>{_h2("voices", lang)}<h3>{e(w["by_engagement"])}</h3>{_author_table(data.authors, lang)}'
        + (f'<h3>{e(w["kol_reach"])}</h3>{_author_table(data.kols, lang)}' if data.kols else "") + "</section>",
        f'<section>{_h2("keywords", lang)}<div class="row">{_terms(data.negative_terms, w["negative_terms"], lang)}'
        f'{_terms(data.positive_terms, w["positive_terms"], lang)}</div></section>',
        f'<section>{_h2("negative", lang)}{_quotes(data, lang)}</section>',
        f'<section>{_h2("incidents", lang)}{_incidents(data, lang)}</section>',
    ]
    if data.drills:
        parts.append(f'<section>{_h2("drills", lang)}'
                     f'{_incident_table(data, data.drills, lang)}</section>')
    parts.append(f'<section>{_h2("notes", lang)}<ul class="notes">'
                 + "".join(f"<li>{e(n)}</li>" for n in tx.notes(data, lang)) + "</ul></section>")
    html_lang = "zh-CN" if lang == "zh" else "en"
    style = f'<link rel="stylesheet" href="{e(stylesheet)}">' if stylesheet else f"<style>{CSS}</style>"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="color-scheme" content="light"><title>{e(title)}</title>'
            f"{style}</head><body><div class=\"page\">{''.join(parts)}</div></body></html>\n")


__all__ = ["COLORS", "data_uri", "e", "render_html", "safe_url"]
