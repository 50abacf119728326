"""The report as Markdown, for wikis and chat tools that render it, with the charts as PNG
files beside it (``report.md`` + ``report-charts/trend.png`` ...).

Text from mentions is hostile here too: ``md()`` turns ``& < >`` into entities (so no raw HTML
reaches a renderer that passes it through) and backslash-escapes every character Markdown
gives a meaning (links, images, emphasis, code, table pipes, headings); line breaks become
spaces so a quoted post cannot start a heading or leave its table cell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from monitor.reports import text as tx
from monitor.reports.charts import Chart
from monitor.reports.data import ReportData, share
from monitor.reports.render import safe_url

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~>])")


def md(value: object) -> str:
    s = "" if value is None else str(value)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = " ".join(s.split())  # no line breaks inside a cell or a quote
    return _MD_SPECIAL.sub(r"\\\1", s)


def _h2(key: str, lang: str) -> str:
    title, sub = tx.section(key, lang)
    return f"## {title}" + (f" · {sub}" if sub else "")


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> list[str]:
    out = ["| " + " | ".join(md(h) for h in head) + " |",
           "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render_markdown(data: ReportData, charts: Sequence[Chart], *, lang: str, chart_paths: Mapping[str, str]) -> str:
    """The report; ``chart_paths`` maps chart name -> the relative path of its PNG file."""
    w = tx.words(lang)
    titles = {c.name: c.title for c in charts}

    def img(name: str) -> list[str]:
        path = chart_paths.get(name)
        return [f"![{md(titles.get(name, name))}]({path})", ""] if path else []

    k = data.kpi
    out = [f"# {md(tx.title(data, lang))}", "",
           f"{md(w['period'])}: {data.period.first_day} – {data.period.last_day} ({md(data.period.tz.key)}) · "
           f"{md(w['generated'])}: {data.generated_at.astimezone(data.period.tz):%Y-%m-%d %H:%M}", "",
           _h2("summary", lang), "", f"> {md(tx.headline(data, lang))}", ""]
    out += [f"- **{md(w['mentions'])}**: {tx.num(data.total)} "
            f"({md(w['vs_previous'])} {md(tx.signed_pct(data.change))})",
            f"- **{md(w['negative_share'])}**: {md(tx.pct(data.negative_share))} "
            f"({md(w['previous'])} {md(tx.pct(data.previous_negative_share))})",
            f"- **{md(w['incidents'])}**: {k.incidents} ({md(w['open'])} {k.open}, "
            f"{md(w['within_target'])} {k.within_target}/{k.judged})", ""]
    out += [_h2("trend", lang), "", *img("trend")]
    out += [_h2("sentiment", lang), "", *img("sentiment"), *img("share_of_voice")]
    out += _table([w["brand"], w["mentions"], w["share_of_voice"], w["positive"], w["neutral"], w["negative"],
                   w["negative_share"]],
                  [[md(b.name), tx.num(b.total), md(tx.pct(data.share_of_voice(b))), tx.num(b.sentiment["positive"]),
                    tx.num(b.sentiment["neutral"]), tx.num(b.sentiment["negative"]),
                    md(tx.pct(share(b.sentiment["negative"], b.total)))]
                   for b in sorted(data.brands, key=lambda b: -b.total)],
                  [False, True, True, True, True, True, True]) + [""]
    out += [_h2("channels", lang), "", *img("platforms")]
    for rows, label in ((data.platforms, w["platform"]), (data.sources, w["source"])):
        out += _table([label, w["mentions"], w["negative"], w["negative_share"]],
                      [[md(r.name or w["other"]), tx.num(r.total), tx.num(r.sentiment["negative"]),
                        md(tx.pct(share(r.sentiment["negative"], r.total)))] for r in rows],
                      [False, True, True, True]) + [""]
    out += [_h2("voices", lang), ""]
    out += _table([w["author"], w["platform"], w["tier"], w["followers"], w["posts"], w["engagement"],
                   w["negative_posts"]],
                  [[md(a.name), md(a.platform or w["other"]), md(a.tier), tx.num(a.followers), tx.num(a.posts),
                    tx.num(a.engagement), tx.num(a.negative)] for a in data.authors],
                  [False, False, False, True, True, True, True]) + [""]
    out += [_h2("keywords", lang), ""]
    for terms, label in ((data.negative_terms, w["negative_terms"]), (data.positive_terms, w["positive_terms"])):
        joined = ", ".join(f"{md(t)} ({n})" for t, n in terms) or md(w["none"])
        out += [f"- **{md(label)}**: {joined}"]
    out += ["", _h2("negative", lang), ""]
    for m in data.negative_mentions:
        body = str(m.get("text") or "")
        body = body if len(body) <= 280 else body[:279] + "…"
        url = safe_url(m.get("url"))
        link = f" · <{url}>" if url and not any(c in url for c in "<> ") else ""
        who = " · ".join(md(x) for x in (m.get("author"), m.get("platform") or m.get("source_id")) if x)
        out += [f"> {md(body)}", ">", f"> — {who} · {md(tx.local(data, m['published_at']))} · "
                f"{md(w['engagement'])} {tx.num(int(m.get('engagement') or 0))}{link}", ""]
    out += [_h2("incidents", lang), ""]
    if not data.incidents:
        out += [md(w["no_incidents"]), ""]
    else:
        out += [f"- {md(w['to_ack'])}: {md(w['median'])} {md(tx.span(k.ack_median))}, {md(w['p90'])} "
                f"{md(tx.span(k.ack_p90))}; {md(w['to_resolve'])}: {md(w['median'])} {md(tx.span(k.resolve_median))}",
                f"- {md(w['within_target'])}: {k.within_target}/{k.judged}; {md(w['returned'])}: "
                f"{k.control_returned}/{k.control_evaluated} ({md(w['pending'])} {k.control_pending})", ""]
    for incidents, key in ((data.incidents, "incidents"), (data.drills, "drills")):
        if not incidents:
            continue
        if key == "drills":
            out += [_h2("drills", lang), ""]
        out += _table(["#", w["brand"], w["level"], w["state"], w["opened"], w["to_ack"], w["ack_by"], w["target"],
                       w["met"], w["to_resolve"], w["control"]],
                      [[f"\\#{i.id}", md(data.brand_name(i.brand)), md(tx.level_name(data, i.level)),
                        md(tx.state_name(i.state, lang)), md(tx.local(data, i.opened_at)), md(tx.span(i.ack_seconds)),
                        md(i.acknowledged_by or "—"), md(tx.span(i.ack_target)), md(tx.met(i, data.generated_at, lang)),
                        md(tx.span(i.resolve_seconds)), md(tx.control(i, lang))] for i in incidents],
                      [False] * 5 + [True, False, True, False, True, False]) + [""]
    out += [_h2("notes", lang), ""] + [f"- {md(n)}" for n in tx.notes(data, lang)]
    return "\n".join(out) + "\n"
