"""What a detector found: the ``Signal`` and its evidence, and the names of kinds and paths.

Split from :mod:`alerts.detect` (which re-exports everything here) so the record the engine
stores and renders does not live beside the arithmetic that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

NEGATIVE_SPIKE = "negative_spike"
VOLUME_SPIKE = "volume_spike"
CRISIS_KEYWORD = "crisis_keyword"
SHARP = "sharp"  # detection paths: the level's own window (alerts.sharp) ...
SUSTAINED = "sustained"  # ... or the SUSTAINED_WINDOW_SECONDS window (alerts.sustained) ...
CRISIS = "crisis"  # ... or crisis terms in the level's window (crisis_keyword)


@dataclass(frozen=True)
class Signal:
    """One detector's finding for one brand at one moment, at the most severe level that holds.

    For a negative spike ``observed``/``baseline``/``ratio`` count negative mentions; for a
    volume spike they count all mentions.
    """

    kind: str  # "negative_spike", "volume_spike" or "crisis_keyword" (then the counts are negatives)
    brand: str
    level: str  # id of the most severe plan level whose conditions hold
    observed: int  # mentions of the spiking kind in the window
    total: int  # all mentions in the window
    baseline: float  # expected mentions of the spiking kind in the window
    ratio: float  # observed / baseline
    negative_share: float  # negative mentions / total
    window_start: datetime
    window_end: datetime
    baseline_method: str  # "seasonal", "rolling" or "floor"
    surprise: float = 0.0  # (observed - baseline) / robust spread of the window
    negative: int = 0  # negative mentions in the window
    path: str = SHARP  # which path held: "sharp" (the level's window), "sustained" or "crisis"
    crisis_mentions: int = 0  # mentions with crisis terms in the window (crisis_keyword signals)
    crisis_reach: int = 0  # the largest author_followers among them

    def evidence(self) -> dict[str, Any]:
        """The numbers as JSON-ready evidence for the alert record and its notifications."""
        ev: dict[str, Any] = {"kind": self.kind, "level": self.level}
        if self.kind == VOLUME_SPIKE:
            ev["volume"] = self.observed
        ev.update(
            {
                "negative": self.negative if self.kind == VOLUME_SPIKE else self.observed,
                "total": self.total,
                "baseline": round(self.baseline, 2),
                "ratio": round(self.ratio, 2),
                "surprise": round(self.surprise, 1),
                "negative_share": round(self.negative_share, 3),
                "window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(),
                "baseline_method": self.baseline_method,
            }
        )
        if self.path == SUSTAINED:
            ev["path"] = self.path  # its surprise is the sustained score (alerts.sustained)
        if self.kind == CRISIS_KEYWORD:
            ev["crisis_mentions"] = self.crisis_mentions
            ev["max_followers"] = self.crisis_reach
        return ev
