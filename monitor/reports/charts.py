"""Report charts as PNG bytes: matplotlib's Agg backend, no display, no pyplot global state.

Chinese labels need a CJK font. The first chart looks one up through matplotlib's font
manager (WenQuanYi Micro Hei from the Debian package ``fonts-wqy-microhei``, or Noto/Source
Han Sans CJK, ...), registering the font file itself when matplotlib's font cache predates
its installation. Without one, a warning is logged once and the charts fall back to English
labels and brand ids, so they never show rows of empty boxes.

    png = trend_chart(data, lang="zh")      # bytes starting with b"\\x89PNG"
"""

from __future__ import annotations

import io
import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from monitor.reports.data import LABELS, ReportData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

# Family names as matplotlib reports them, best first; and file names to register by hand.
CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC",
                "Source Han Sans CN", "WenQuanYi Zen Hei", "Droid Sans Fallback", "AR PL UMing CN",
                "Microsoft YaHei", "PingFang SC", "SimHei")
CJK_FILES = ("wqy-microhei", "notosanscjk", "sourcehansans", "wqy-zenhei", "droidsansfallback", "uming")
DEBIAN_FONT_PACKAGE = "fonts-wqy-microhei"

COLORS = {"positive": "#2e9d5b", "neutral": "#a9b1bc", "negative": "#d64545"}
ACCENT = "#2f6fb2"
PREVIOUS = "#6b7480"
DPI = 110
_lock = threading.Lock()  # matplotlib's font cache and text layout are not thread-safe
_font: list[str | None] = []  # resolved once: [family] or [None]

TEXT = {
    "zh": {"positive": "正面", "neutral": "中性", "negative": "负面", "previous": "上期总量",
           "mentions": "提及量", "incident": "预警", "share": "声量份额", "none": "无数据",
           "other": "其他"},
    "en": {"positive": "Positive", "neutral": "Neutral", "negative": "Negative", "previous": "Previous period",
           "mentions": "Mentions", "incident": "Alert", "share": "Share of voice", "none": "No data",
           "other": "Other"},
}


def cjk_font() -> str | None:
    """The CJK font family charts use, or None (logged once) when none is installed."""
    with _lock:
        if not _font:
            _font.append(_find_cjk_font())
        return _font[0]


def _find_cjk_font() -> str | None:
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((f for f in CJK_FAMILIES if f in names), None)

    family = known()
    if family is None:  # installed after matplotlib built its font cache: register the files
        for path in font_manager.findSystemFonts():
            if any(key in os.path.basename(path).lower().replace("-", "").replace("_", "")
                   for key in (k.replace("-", "") for k in CJK_FILES)):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        family = known()
    if family is None:
        log.warning("reports: no CJK font found, charts use English labels and brand ids "
                    "(install the Debian package %s)", DEBIAN_FONT_PACKAGE)
    else:
        log.debug("reports: charts use font %s", family)
    return family


@dataclass(frozen=True)
class Chart:
    name: str  # file stem: trend, sentiment, share_of_voice, platforms
    title: str
    png: bytes


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors="#333")
    return fig, ax


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def _rc(family: str | None) -> Any:  # matplotlib types rcParams keys as literals
    fonts = ([family] if family else []) + ["DejaVu Sans"]
    return {"font.family": "sans-serif", "font.sans-serif": fonts, "axes.unicode_minus": False,
            "font.size": 10}


def _label_lang(lang: str, family: str | None) -> str:
    return lang if family is not None else "en"


def trend_chart(data: ReportData, lang: str) -> bytes:
    """Mentions per day stacked by sentiment, the previous period's daily total as a dashed line,
    and a marker on each day an incident opened."""
    import matplotlib

    family = cjk_font()
    t = TEXT[_label_lang(lang, family)]
    with _lock, matplotlib.rc_context(_rc(family)):
        fig, ax = _figure(8.4, 3.3)
        days = data.period.days
        x = list(range(len(days)))
        bottom = [0] * len(days)
        for label in ("negative", "neutral", "positive"):
            values = [d[label] for d in data.daily]
            ax.bar(x, values, bottom=bottom, color=COLORS[label], width=0.72, label=t[label], zorder=2)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        prev = data.previous_daily[: len(days)]
        if any(prev):
            ax.plot(x[: len(prev)], prev, color=PREVIOUS, linestyle="--", marker="o", markersize=3,
                    linewidth=1.2, label=t["previous"], zorder=3)
        top = max([*bottom, *prev, 1])
        marked = False
        for inc in data.incidents:
            day = data.period.local_day(inc.opened_at)
            if day in days:
                i = days.index(day)
                ax.plot([i], [bottom[i] + top * 0.06], marker="v", color="#8b1e1e", markersize=9, zorder=4,
                        linestyle="none", label=None if marked else t["incident"])
                marked = True
        ax.set_ylim(0, top * 1.18)
        step = 1 if len(days) <= 10 else 3 if len(days) <= 31 else 7
        ax.set_xticks(x[::step])
        ax.set_xticklabels([f"{d:%m-%d}" for d in days][::step])
        ax.set_ylabel(t["mentions"])
        ax.grid(axis="y", color="#e6e8eb", zorder=0)
        ax.legend(loc="upper left", ncols=5, frameon=False, fontsize=9, bbox_to_anchor=(0, 1.14))
        return _png(fig)


def sentiment_chart(data: ReportData, lang: str) -> bytes:
    """The period's sentiment split as a donut, the negative share in the middle."""
    import matplotlib

    family = cjk_font()
    t = TEXT[_label_lang(lang, family)]
    counts = data.sentiment
    with _lock, matplotlib.rc_context(_rc(family)):
        fig, ax = _figure(3.6, 3.3)
        ax.set_aspect("equal")
        total = sum(counts.values())
        if total == 0:
            ax.pie([1], colors=["#eceef1"], radius=1.0, wedgeprops={"width": 0.36})
            ax.text(0, 0, t["none"], ha="center", va="center", fontsize=12, color="#666")
        else:
            keep = [lb for lb in LABELS if counts[lb]]
            ax.pie([counts[lb] for lb in keep], colors=[COLORS[lb] for lb in keep], startangle=90,
                   counterclock=False, wedgeprops={"width": 0.36, "edgecolor": "white"},
                   labels=[f"{t[lb]} {counts[lb] / total:.0%}" for lb in keep], labeldistance=1.12,
                   textprops={"fontsize": 9})
            ax.text(0, 0.08, f"{counts['negative'] / total:.0%}", ha="center", va="center", fontsize=18,
                    color=COLORS["negative"])
            ax.text(0, -0.2, t["negative"], ha="center", va="center", fontsize=9, color="#555")
        return _png(fig)


def share_of_voice_chart(data: ReportData, lang: str) -> bytes:
    """Each brand's share of all brands' mentions; the report's own brand(s) in the accent colour."""
    import matplotlib

    family = cjk_font()
    t = TEXT[_label_lang(lang, family)]
    rows = sorted(data.brands, key=lambda b: b.total)
    with _lock, matplotlib.rc_context(_rc(family)):
        fig, ax = _figure(4.6, 0.5 + 0.42 * max(len(rows), 2))
        total = max(data.all_brands_total, 1)
        names = [b.name if family else b.id for b in rows]
        values = [b.total / total for b in rows]
        colors = [ACCENT if b.in_scope and data.brand_filter else "#8fb3da" for b in rows]
        ax.barh(names, values, color=colors, height=0.6, zorder=2)
        for i, (b, v) in enumerate(zip(rows, values, strict=True)):
            ax.text(v + 0.01, i, f"{v:.0%} ({b.total:,})", va="center", fontsize=9, color="#333")
        ax.set_xlim(0, max([*values, 0.01]) * 1.45)
        ax.xaxis.set_visible(False)
        ax.spines["bottom"].set_visible(False)
        ax.set_title(t["share"], fontsize=10, loc="left", color="#333")
        return _png(fig)


def platforms_chart(data: ReportData, lang: str) -> bytes:
    """Mentions per platform, stacked by sentiment."""
    import matplotlib

    family = cjk_font()
    t = TEXT[_label_lang(lang, family)]
    rows = list(reversed(data.platforms))
    with _lock, matplotlib.rc_context(_rc(family)):
        fig, ax = _figure(4.6, 0.5 + 0.42 * max(len(rows), 2))
        names = [r.name or t["other"] for r in rows]
        if not family:
            names = [n if n.isascii() else "?" for n in names]
        left = [0] * len(rows)
        for label in ("negative", "neutral", "positive"):
            values = [r.sentiment[label] for r in rows]
            ax.barh(names, values, left=left, color=COLORS[label], height=0.6, label=t[label], zorder=2)
            left = [a + b for a, b in zip(left, values, strict=True)]
        for i, v in enumerate(left):
            ax.text(v, i, f" {v:,}", va="center", fontsize=9, color="#333")
        ax.set_xlim(0, max([*left, 1]) * 1.2)
        ax.grid(axis="x", color="#e6e8eb", zorder=0)
        ax.legend(loc="lower right", frameon=False, fontsize=8)
        return _png(fig)


def all_charts(data: ReportData, lang: str) -> list[Chart]:
    zh = lang == "zh"
    return [
        Chart("trend", "每日提及量" if zh else "Mentions per day", trend_chart(data, lang)),
        Chart("sentiment", "情感分布" if zh else "Sentiment split", sentiment_chart(data, lang)),
        Chart("share_of_voice", "声量份额" if zh else "Share of voice", share_of_voice_chart(data, lang)),
        Chart("platforms", "平台分布" if zh else "Platforms", platforms_chart(data, lang)),
    ]
