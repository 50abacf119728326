"""Every piece of UI text of the web pages, in Chinese and English, in one table.

``STRINGS[key] = (zh, en)``; a page asks ``t("key")`` or ``t("key", n=3)`` (``str.format``
fields). The language comes from ``?lang=zh|en`` (remembered in the ``bp_lang`` cookie),
else the cookie, else Chinese. A missing key is a bug caught by tests/monitor/web/test_pages.py,
not a blank on a page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "bp_lang"

STRINGS: dict[str, tuple[str, str]] = {
    # navigation and chrome
    "app": ("BrandPulse 品牌舆情", "BrandPulse"),
    "nav.overview": ("概览", "Overview"),
    "nav.mentions": ("提及", "Mentions"),
    "nav.alerts": ("告警", "Alerts"),
    "nav.reports": ("报告", "Reports"),
    "nav.lang": ("English", "中文"),
    "nav.logout": ("退出", "Log out"),
    "nav.signed_in": ("{name}（{role}）", "{name} ({role})"),
    "nav.anonymous": ("匿名只读", "anonymous, read-only"),
    "role.read": ("分析员", "analyst"),
    "role.respond": ("响应人", "responder"),
    "role.admin": ("管理员", "admin"),
    # login
    "login.title": ("登录", "Log in"),
    "login.token": ("访问令牌", "Access token"),
    "login.name": ("您的姓名（记录在您的确认和更正中）",
                   "Your name (recorded with your acknowledgements and corrections)"),
    "login.submit": ("登录", "Log in"),
    "login.wrong": ("令牌不正确。", "Wrong token."),
    "login.need_name": ("请填写姓名。", "Please give your name."),
    "login.stale": ("登录表单已过期，请重试。", "The login form expired; please try again."),
    "login.help": ("令牌由运维人员通过 http.auth.*_token_env 配置。",
                   "Tokens are configured by the operator through http.auth.*_token_env."),
    # overview
    "overview.title": ("品牌概览", "Brands overview"),
    "overview.trend": ("近 {days} 天提及量与情感（每 {hours} 小时）",
                       "Mentions and sentiment, last {days} days ({hours} h bars)"),
    "overview.total": ("{n} 条提及", "{n} mentions"),
    "overview.no_alert": ("无未关闭告警", "No open alert"),
    "overview.mentions_link": ("查看提及", "View mentions"),
    "overview.neg_share": ("负面占比", "negative share"),
    "chart.max": ("最高 {n}", "max {n}"),
    "chart.empty": ("暂无数据", "no data"),
    "chart.bar": ("{when}：负面 {neg}，中性 {neu}，正面 {pos}",
                  "{when}: negative {neg}, neutral {neu}, positive {pos}"),
    "chart.title": ("{brand} 提及趋势", "{brand} mention trend"),
    "chart.split": ("{brand} 情感分布", "{brand} sentiment split"),
    # sentiment
    "sentiment.negative": ("负面", "negative"),
    "sentiment.neutral": ("中性", "neutral"),
    "sentiment.positive": ("正面", "positive"),
    "sentiment.any": ("全部情感", "any sentiment"),
    # mentions
    "mentions.title": ("提及", "Mentions"),
    "mentions.brand": ("品牌", "Brand"),
    "mentions.any_brand": ("全部品牌", "all brands"),
    "mentions.sentiment": ("情感", "Sentiment"),
    "mentions.source": ("来源", "Source"),
    "mentions.any_source": ("全部来源", "all sources"),
    "mentions.since": ("时间范围", "Time range"),
    "mentions.since.1h": ("近 1 小时", "last hour"),
    "mentions.since.24h": ("近 24 小时", "last 24 hours"),
    "mentions.since.7d": ("近 7 天", "last 7 days"),
    "mentions.since.30d": ("近 30 天", "last 30 days"),
    "mentions.since.all": ("全部时间", "all time"),
    "mentions.from": ("从", "From"),
    "mentions.to": ("到", "To"),
    "mentions.q": ("文本", "Text"),
    "mentions.author": ("作者", "Author"),
    "mentions.filter": ("筛选", "Filter"),
    "mentions.reset": ("清除", "Reset"),
    "mentions.time": ("时间", "Time"),
    "mentions.text": ("内容", "Text"),
    "mentions.actions": ("更正", "Correct"),
    "mentions.none": ("没有符合条件的提及。", "No mentions match."),
    "mentions.older": ("更早 →", "Older →"),
    "mentions.newest": ("← 最新", "← Newest"),
    "mentions.open": ("原文", "original"),
    "mentions.relabel": ("改为", "Relabel as"),
    "mentions.relabel_submit": ("改标签", "Relabel"),
    "mentions.irrelevant": ("与 {brand} 无关", "Not about {brand}"),
    "mentions.restore": ("恢复", "Restore"),
    "mentions.corrected": ("已由 {by} 于 {at} 更正（原为 {was}）", "corrected by {by} at {at} (was {was})"),
    "mentions.marked_irrelevant": ("{by} 于 {at} 标为与 {brand} 无关", "marked not about {brand} by {by} at {at}"),
    "mentions.note": ("备注", "Note"),
    "mentions.bad_filter": ("筛选条件有误：{error}", "Bad filter: {error}"),
    "mentions.engagement": ("互动 {n}", "engagement {n}"),
    # alerts
    "alerts.title": ("告警", "Alerts"),
    "alerts.state": ("状态", "State"),
    "alerts.any_state": ("全部状态", "all states"),
    "alerts.level": ("级别", "Level"),
    "alerts.opened": ("开始", "Opened"),
    "alerts.summary": ("摘要", "Summary"),
    "alerts.handled": ("处理", "Handled"),
    "alerts.none": ("没有告警。", "No alerts."),
    "alerts.drill": ("演练", "drill"),
    "alert.title": ("告警 #{id}", "Alert #{id}"),
    "alert.timeline": ("时间线", "Timeline"),
    "alert.evidence": ("证据", "Evidence"),
    "alert.top_terms": ("负面高频词", "Top negative terms"),
    "alert.crisis_terms": ("危机词", "Crisis terms"),
    "alert.samples": ("样本提及", "Sample mentions"),
    "alert.window_mentions": ("查看该时段的负面提及", "Negative mentions in this window"),
    "alert.deadline": ("确认期限", "Acknowledge by"),
    "alert.acked": ("{by} 于 {at} 确认", "acknowledged by {by} at {at}"),
    "alert.resolved": ("{by} 于 {at} 解除", "resolved by {by} at {at}"),
    "alert.ack": ("确认告警", "Acknowledge"),
    "alert.resolve": ("解除告警", "Resolve"),
    "alert.note": ("备注", "Note"),
    "alert.as": ("操作人：{name}", "acting as {name}"),
    "alert.at": ("时间", "When"),
    "alert.change": ("变化", "Change"),
    "alert.actor": ("操作人", "Who"),
    "alert.reason": ("原因", "Why"),
    "alert.field": ("指标", "Measure"),
    "alert.value": ("值", "Value"),
    "state.firing": ("告警中", "firing"),
    "state.acknowledged": ("已确认", "acknowledged"),
    "state.escalated": ("已升级", "escalated"),
    "state.resolved": ("已解除", "resolved"),
    # reports
    "reports.title": ("报告", "Reports"),
    "reports.intro": ("每周摘要与每月数据分析报告（提及量与趋势、情感分布、声量份额、主要来源与 KOL、"
                      "负面话题、危机处理时效）。",
                      "Weekly summaries and monthly data reports (volume and trend, sentiment split, share of voice, "
                      "top sources and voices, negative topics, crisis handling times)."),
    "reports.week": ("周报", "Weekly report"),
    "reports.month": ("月报", "Monthly report"),
    "reports.all_brands": ("全部品牌", "All brands"),
    # errors
    "error.title": ("出错了（{status}）", "Something went wrong ({status})"),
    "error.back": ("返回概览", "Back to the overview"),
    "error.login": ("登录", "Log in"),
}


def pick_lang(query: Mapping[str, str], cookies: Mapping[str, str]) -> tuple[str, bool]:
    """The page language and whether it was chosen just now (then the cookie is set)."""
    asked = query.get("lang", "")
    if asked in LANGS:
        return asked, asked != cookies.get(LANG_COOKIE)
    remembered = cookies.get(LANG_COOKIE, "")
    return (remembered if remembered in LANGS else DEFAULT_LANG), False


def translator(lang: str) -> Callable[..., str]:
    index = LANGS.index(lang)

    def t(key: str, **fields: Any) -> str:
        text = STRINGS[key][index]
        return text.format(**fields) if fields else text

    return t
