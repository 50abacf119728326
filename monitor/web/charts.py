"""Charts as inline SVG built on the server: no script, no image files, readable without CSS.

:func:`trend_chart` draws mentions per bucket as bars stacked by sentiment, with the negative
share as a line over them; :func:`split_bar` draws the sentiment split as one 100% bar. Every
text in them (brand names, dates, counts, tooltips) goes through :func:`monitor.web.layout.h`,
so a brand or label holding markup renders as text. Colours come from classes in app.css
(the pages' Content-Security-Policy allows no inline styles); SVG presentation attributes
carry the geometry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.store.query import SeriesPoint
from monitor.web.layout import Safe, h, join

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 16, 28  # plot margins: counts axis left, negative-share axis right
LABELS = ("negative", "neutral", "positive")


def _n(x: float) -> str:
    return f"{x:.1f}"


def trend_chart(title: str, points: Sequence[SeriesPoint], t: Callable[..., str], *, bucket_hours: float) -> Safe:
    """Stacked sentiment bars per bucket plus the negative share (0-100%, right axis)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [p.negative + p.neutral + p.positive for p in points]
    top = max(totals, default=0)
    top += top % 2  # an even top keeps the middle grid line on a whole number
    parts: list[Safe] = [h('<title>{}</title>', title)]
    base_y = TOP + plot_h
    # axes and grid: zero, half and the maximum
    for frac in (0.0, 0.5, 1.0):
        y = base_y - frac * plot_h
        parts.append(h('<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"/>', LEFT, _n(y), LEFT + plot_w, _n(y)))
        parts.append(h('<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>', LEFT - 4, _n(y + 4),
                       int(frac * top)))
        parts.append(h('<text class="axis" x="{}" y="{}">{}%</text>', LEFT + plot_w + 4, _n(y + 4), round(frac * 100)))
    if not points or top == 0:
        parts.append(h('<text class="empty" x="{}" y="{}" text-anchor="middle">{}</text>', WIDTH / 2, HEIGHT / 2,
                       t("chart.empty")))
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.8, 1.0)
    line: list[str] = []
    last_day = None
    for i, p in enumerate(points):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = base_y
        counts = {"negative": p.negative, "neutral": p.neutral, "positive": p.positive}
        tip = t("chart.bar", when=f"{p.start:%m-%d %H:%M}", neg=p.negative, neu=p.neutral, pos=p.positive)
        bars: list[Safe] = []
        for label in LABELS:
            n = counts[label]
            if not n or not top:
                continue
            bh = n / top * plot_h
            y -= bh
            bars.append(h('<rect class="{}" x="{}" y="{}" width="{}" height="{}"/>', label[:3], _n(x), _n(y),
                          _n(bar_w), _n(bh)))
        parts.append(h('<g><title>{}</title>{}</g>', tip, join(bars)))
        total = totals[i]
        if total:
            line.append(f"{_n(x + bar_w / 2)},{_n(base_y - p.negative / total * plot_h)}")
        day = f"{p.start:%m-%d}"
        if day != last_day and p.start.hour < bucket_hours:  # one date label per day, at its first bar
            parts.append(h('<text class="axis" x="{}" y="{}">{}</text>', _n(x), HEIGHT - 8, day))
            last_day = day
    if len(line) > 1:
        parts.append(h('<polyline class="share" points="{}"/>', " ".join(line)))
    legend = join(h('<tspan class="{}-t">■ {}</tspan> ', label[:3], t(f"sentiment.{label}")) for label in LABELS)
    parts.append(h('<text class="legend" x="{}" y="{}">{}<tspan class="share-t">— {}</tspan></text>', LEFT, TOP - 4,
                   legend, t("overview.neg_share")))
    return h('<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
             'xmlns="http://www.w3.org/2000/svg">{}</svg>', title, WIDTH, HEIGHT, WIDTH, HEIGHT, join(parts))


def split_bar(title: str, negative: int, neutral: int, positive: int, t: Callable[..., str]) -> Safe:
    """The sentiment split as one horizontal 100% bar with its percentages."""
    width, height = 360, 26
    total = negative + neutral + positive
    parts: list[Safe] = [h("<title>{}</title>", title)]
    x = 0.0
    for label, n in zip(LABELS, (negative, neutral, positive), strict=True):
        if not total or not n:
            continue
        w = n / total * width
        share = f"{n / total:.0%}"
        parts.append(h('<g><title>{}: {} ({})</title><rect class="{}" x="{}" y="0" width="{}" height="{}"/>{}</g>',
                       t(f"sentiment.{label}"), n, share, label[:3], _n(x), _n(w), height,
                       h('<text class="inbar" x="{}" y="17">{}</text>', _n(x + 4), share) if w > 34 else Safe("")))
        x += w
    if not total:
        parts.append(h('<rect class="none" x="0" y="0" width="{}" height="{}"/>', width, height))
    return h('<svg class="split" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
             'xmlns="http://www.w3.org/2000/svg">{}</svg>', title, width, height, width, height, join(parts))
