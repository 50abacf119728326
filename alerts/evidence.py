"""What an alert says about its incident: the one-line summary and the stored evidence.

Split from :mod:`alerts.engine`: the engine decides *when* to open, raise or resolve; this
module decides *what* the record and its messages show. The evidence is the signal's numbers
(:meth:`alerts.signal.Signal.evidence`) plus what a brand manager asks first: which terms drive
the negative mentions, which crisis terms were seen, and a few sample mentions with links.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from alerts.plan import format_duration
from alerts.signal import CRISIS_KEYWORD, SUSTAINED, VOLUME_SPIKE, Signal
from monitor import defaults
from monitor.store import mentions as store_mentions

SAMPLE_TEXT_CHARS = 280  # characters of a sample mention kept in the alert's evidence


def summary(signal: Signal) -> str:
    """One line: what spiked, against what baseline, over which window."""
    # observed/baseline count what spiked: negative mentions, or all of them for a volume spike
    what = "mentions" if signal.kind == VOLUME_SPIKE else "negative mentions"
    if signal.kind == CRISIS_KEYWORD:
        return (
            f"{signal.brand}: {signal.crisis_mentions} mentions with crisis terms "
            f"(widest reach {signal.crisis_reach:,} followers), {signal.observed} negative mentions "
            f"vs baseline {signal.baseline:.1f}, negative share {signal.negative_share:.0%}"
        )
    window = ""
    if signal.path == SUSTAINED:  # counted over the sustained window, not the level's
        window = f" over the last {format_duration(defaults.SUSTAINED_WINDOW_SECONDS)}"
    return (
        f"{signal.brand}: {signal.observed} {what}{window} vs baseline {signal.baseline:.1f} "
        f"({signal.ratio:.1f}x), negative share {signal.negative_share:.0%}"
    )


def evidence(conn: sa.Connection, signal: Signal, *, sample_limit: int, top_terms: int) -> dict[str, Any]:
    """The signal's numbers, the window's top negative terms and crisis terms, and samples."""
    rows = store_mentions.sample_mentions(
        conn, signal.brand, signal.window_start, signal.window_end, sentiment="negative", limit=sample_limit
    )
    samples = []
    for r in rows:
        text = " ".join(str(r.get("text") or "").split())
        published = r.get("published_at")
        samples.append(
            {
                "url": r.get("url"),
                "author": r.get("author"),
                "platform": r.get("platform"),
                "text": text[:SAMPLE_TEXT_CHARS] + ("…" if len(text) > SAMPLE_TEXT_CHARS else ""),
                "published_at": published.isoformat() if isinstance(published, datetime) else published,
                "engagement": r.get("engagement"),
            }
        )
    # What the negative mentions are about (their stored keywords), and which crisis terms
    # the window's mentions carry: the first two questions a brand manager asks.
    top = store_mentions.term_counts(
        conn, signal.brand, signal.window_start, signal.window_end, sentiment="negative", limit=top_terms
    )
    crisis = store_mentions.term_counts(
        conn, signal.brand, signal.window_start, signal.window_end, column="crisis_terms", limit=top_terms
    )
    return {
        **signal.evidence(),
        "top_terms": [{"term": t, "mentions": n} for t, n in top],
        "crisis_terms": [{"term": t, "mentions": n} for t, n in crisis],
        "samples": samples,
    }
