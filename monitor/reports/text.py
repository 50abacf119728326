"""Words and number formats the HTML and Markdown reports share, in Chinese and English.

Section titles are Chinese with an English subtitle in a Chinese report (the plans the brand
teams write are Chinese; international colleagues still find their way), English alone in an
English one. Everything here returns plain text: the renderers escape it.
"""

from __future__ import annotations

from datetime import datetime

from monitor import __version__, defaults
from monitor.reports.data import ReportData
from monitor.reports.incidents import Incident

LANGS = ("zh", "en")

SECTIONS = {
    "summary": ("概览", "Summary"),
    "trend": ("声量趋势", "Mention volume and trend"),
    "sentiment": ("情感分布", "Sentiment split"),
    "sov": ("声量份额", "Share of voice"),
    "channels": ("来源与平台", "Top platforms and sources"),
    "voices": ("意见领袖与活跃用户", "Most-engaged voices (KOL / KOC)"),
    "keywords": ("关键词", "Top keywords"),
    "negative": ("重点负面内容", "Most-engaged negative mentions"),
    "incidents": ("危机事件与处置时效", "Incidents and how fast they were handled"),
    "drills": ("危机演练", "Crisis drills (not counted above)"),
    "notes": ("说明", "Notes"),
}

WORDS = {
    "zh": {
        "week": "品牌舆情周报", "month": "品牌舆情月报", "all_brands": "全部品牌", "mentions": "提及量",
        "negative_share": "负面占比", "share_of_voice": "声量份额", "incidents": "预警事件", "peak": "峰值日",
        "vs_previous": "较上期", "previous": "上期", "brand": "品牌", "positive": "正面", "neutral": "中性",
        "negative": "负面", "total": "合计", "platform": "平台", "source": "来源", "author": "作者",
        "tier": "类型", "followers": "粉丝数", "posts": "内容数", "engagement": "互动量",
        "negative_posts": "负面", "term": "关键词", "count": "提及数", "negative_terms": "负面关键词",
        "positive_terms": "正面关键词", "kol_reach": "影响力最大的 KOL（按粉丝数）", "by_engagement": "按互动量",
        "opened": "发现", "level": "级别", "state": "状态", "ack": "首次确认", "ack_by": "确认人",
        "target": "确认时限", "met": "达标", "resolved": "解除", "to_ack": "确认用时", "to_resolve": "解除用时",
        "control": "负面占比回落", "baseline": "事前基线", "after": "解除后", "none": "无", "other": "未标注",
        "median": "中位数", "p90": "P90", "within_target": "按时确认", "returned": "舆情回落", "open": "未解除",
        "yes": "是", "no": "否", "pending": "观察中", "still_open": "未解除", "escalations": "升级次数",
        "generated": "生成时间", "timezone": "时区", "period": "统计周期", "no_incidents": "本期无预警事件。",
        "no_data": "本期无数据。", "drill": "演练", "link": "原文", "escalated_n": "升级 {n} 次",
        "state_firing": "告警中", "state_acknowledged": "已确认", "state_escalated": "已升级",
        "state_resolved": "已解除", "n_a": "—",
    },
    "en": {
        "week": "Weekly brand report", "month": "Monthly brand report", "all_brands": "All brands",
        "mentions": "Mentions", "negative_share": "Negative share", "share_of_voice": "Share of voice",
        "incidents": "Incidents", "peak": "Peak day", "vs_previous": "vs previous period", "previous": "Previous",
        "brand": "Brand", "positive": "Positive", "neutral": "Neutral", "negative": "Negative", "total": "Total",
        "platform": "Platform", "source": "Source", "author": "Author", "tier": "Tier", "followers": "Followers",
        "posts": "Posts", "engagement": "Engagement", "negative_posts": "Negative", "term": "Keyword",
        "count": "Mentions", "negative_terms": "Negative keywords", "positive_terms": "Positive keywords",
        "kol_reach": "Widest-reaching KOLs (by followers)", "by_engagement": "By engagement", "opened": "Detected",
        "level": "Level", "state": "State", "ack": "First ack", "ack_by": "By", "target": "Ack target",
        "met": "Met", "resolved": "Resolved", "to_ack": "Time to ack", "to_resolve": "Time to resolve",
        "control": "Negative share back to baseline", "baseline": "Before", "after": "After", "none": "None",
        "other": "unlabelled", "median": "median", "p90": "p90", "within_target": "Acked in time",
        "returned": "Opinion back to baseline", "open": "Open", "yes": "yes", "no": "no", "pending": "pending",
        "still_open": "open", "escalations": "Escalations", "generated": "Generated", "timezone": "Time zone",
        "period": "Period", "no_incidents": "No incidents in this period.", "no_data": "No data for this period.",
        "drill": "Drill", "link": "link", "escalated_n": "escalated {n}x", "state_firing": "firing",
        "state_acknowledged": "acknowledged", "state_escalated": "escalated", "state_resolved": "resolved",
        "n_a": "—",
    },
}


def section(key: str, lang: str) -> tuple[str, str | None]:
    """(title, subtitle): Chinese title and English subtitle, or the English title alone."""
    zh, en = SECTIONS[key]
    return (zh, en) if lang == "zh" else (en, None)


def words(lang: str) -> dict[str, str]:
    return WORDS[lang]


def num(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def pct(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"


def signed_pct(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{'+' if x >= 0 else '−'}{abs(x) * 100:.0f}%"


def points(now: float | None, before: float | None, lang: str) -> str:
    """Change of a share in percentage points."""
    if now is None or before is None:
        return "—"
    d = (now - before) * 100
    unit = " 个百分点" if lang == "zh" else " pp"
    return f"{'+' if d >= 0 else '−'}{abs(d):.1f}{unit}"


def span(seconds: float | None) -> str:
    """``2h 5m``: two units are enough for response times."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    return " ".join([f"{n}{u}" for n, u in parts if n][:2]) or "0s"


def local(data: ReportData, when: datetime | None) -> str:
    return "—" if when is None else f"{when.astimezone(data.period.tz):%m-%d %H:%M}"


def title(data: ReportData, lang: str) -> str:
    w = words(lang)
    scope = data.brand_name(data.brand_filter) if data.brand_filter else w["all_brands"]
    return f"{w[data.period.kind]} · {scope} · {data.period.label}"


def level_name(data: ReportData, level: str) -> str:
    name = data.level_names.get(level)
    return f"{name} ({level})" if name and name != level else level


def state_name(state: str, lang: str) -> str:
    return words(lang).get(f"state_{state}", state)


def met(inc: Incident, now: datetime, lang: str) -> str:
    w = words(lang)
    verdict = inc.ack_met(now)
    return w["pending"] if verdict is None and inc.acknowledged_at is None and inc.ack_target else (
        w["n_a"] if verdict is None else w["yes"] if verdict else w["no"])


def control(inc: Incident, lang: str) -> str:
    w = words(lang)
    if inc.control is not None:
        c = inc.control
        verdict = w["yes"] if c["returned"] else w["no"]
        return f"{verdict} ({pct(c['baseline_share'])} → {pct(c['after_share'])})"
    if inc.control_pending:
        return w["pending"]
    return w["still_open"] if inc.resolved_at is None else w["n_a"]


def headline(data: ReportData, lang: str) -> str:
    """One or two sentences a brand manager can paste into a chat: volume, negativity, topics, incidents."""
    w = words(lang)
    scope = data.brand_name(data.brand_filter) if data.brand_filter else w["all_brands"]
    terms = [t for t, _ in data.negative_terms[:3]]
    k = data.kpi
    if lang == "zh":
        s = (f"{scope}本期共 {num(data.total)} 条提及（较上期 {signed_pct(data.change)}），"
             f"负面占比 {pct(data.negative_share)}（上期 {pct(data.previous_negative_share)}）。")
        if terms:
            s += "负面讨论集中在" + "、".join(f"「{t}」" for t in terms) + "。"
        if k.incidents:
            s += f"本期 {k.incidents} 起预警事件" + (f"，{k.within_target}/{k.judged} 起按时确认" if k.judged else "")
            s += f"，{k.open} 起尚未解除。" if k.open else "，均已解除。"
        else:
            s += "本期无预警事件。"
        return s
    s = (f"{scope}: {num(data.total)} mentions ({signed_pct(data.change)} vs previous period), "
         f"{pct(data.negative_share)} negative (previous {pct(data.previous_negative_share)}).")
    if terms:
        s += " Negative talk centred on " + ", ".join(f"“{t}”" for t in terms) + "."
    if k.incidents:
        s += f" {k.incidents} incident(s)"
        s += f", {k.within_target}/{k.judged} acknowledged in time" if k.judged else ""
        s += f", {k.open} still open." if k.open else ", all resolved."
    else:
        s += " No incidents."
    return s


def notes(data: ReportData, lang: str) -> list[str]:
    tz = data.period.tz.key
    if lang == "zh":
        return [
            f"统计周期按 {tz} 时区的自然日计算；上期为 {data.previous.label}。",
            "情感与品牌归属已计入分析师的人工更正（改标、标记为无关）。",
            "同时提及多个品牌的内容分别计入各品牌；作者统计中每条内容只计一次。",
            f"KOL：粉丝数 ≥ {defaults.REPORT_KOL_FOLLOWERS:,}；KOC：粉丝较少但有互动的账号。演练不计入危机事件统计。",
            f"由 BrandPulse {__version__} 生成。",
        ]
    return [
        f"Days are calendar days in {tz}; the previous period is {data.previous.label}.",
        "Sentiment and brand attribution include analysts' corrections (relabelled, marked irrelevant).",
        "A post naming several brands counts once for each; author figures count each post once.",
        f"KOL: {defaults.REPORT_KOL_FOLLOWERS:,}+ followers; KOC: a smaller account whose posts get engagement. "
        "Drills are not incidents.",
        f"Generated by BrandPulse {__version__}.",
    ]
