"""The licence-clean English scorer: VADER plus customer-service complaint rules.

    scorer = EnglishRules()                      # parameters as stored in model.json "english"
    scorer.probability("@ACME 3 hours on hold and still no refund")    # 0.05
    scorer.probability("The ACME store opens at 9")                    # 0.5 (neutral)
    scorer.probability("Love the new ACME blend, thanks!")             # 0.99

No English training data is involved (the only English set, en_airline, is CC BY-NC-SA 4.0 and
may not ship): the rules are written by hand for texts addressed to a company.

1. VADER (vaderSentiment, MIT) compound ``c`` in -1..1. Mentions of a brand lean towards
   complaints, and VADER reads politeness as praise ("thanks, but my bag is lost" scores
   +0.3), so positive compounds below ``positive_floor`` count as no evidence: ``c' = c`` for
   c <= 0, ``max(c - positive_floor, 0)`` above.
2. Complaint cues: words that in a message to a company almost always report a failure
   (delayed, cancelled, on hold, refund, still, again, nobody, why ...). Each cue found
   subtracts ``cue_weight`` from the logit, at most ``max_cues`` of them.
3. ``p = sigmoid(slope * c' - cue_weight * cues)``: a text with neither sentiment words nor
   cues is exactly 0.5, inside the neutral band.

Measured on en_airline.dev (model card, bench/sentiment.py): macro-F1 0.620 for plain VADER at
p > 0.5, 0.754 with these rules. The floor 0.3 and weight 1.0 were set by hand, not fitted;
the bench prints the figure for neighbouring values too, and en_airline.dev was looked at
while choosing them, so read the 0.754 as optimistic for other customer-service tweets.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

from nlp.features import sigmoid

VADER_SLOPE = math.log(1.5) / 0.05  # sigmoid(k * 0.05) = 0.6: VADER's +-0.05 meets the 0.4..0.6 band

_CUES = re.compile(
    r"\b(?:delay(?:ed|s)?|cancel+(?:ed|ation|ations)?|stuck|stranded|lost|missing|broken|damaged|late|"
    r"overbooked|refund|wait(?:ing|ed)?|on hold|hours?|no one|nobody|still|again|unacceptable|ridiculous|"
    r"disappoint(?:ed|ing|ment)?|rude|charged|fees?|never|can'?t|cannot|won'?t|didn'?t|doesn'?t|haven'?t|"
    r"hasn'?t|no (?:response|answer|reply|help)|why|complaint|seriously|fix|worst|fail(?:ed|s|ure)?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class EnglishRules:
    """VADER + complaint cues (see the module docstring); stored in model.json as ``english``."""

    positive_floor: float = 0.3
    cue_weight: float = 1.0
    max_cues: int = 3
    slope: float = VADER_SLOPE

    def to_json(self) -> dict[str, Any]:
        return {"path": "vader-rules", **asdict(self)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> EnglishRules:
        if d.get("path") == "vader":  # format-1 models: plain VADER mapping, no rules
            return cls(positive_floor=0.0, cue_weight=0.0)
        return cls(
            positive_floor=float(d.get("positive_floor", cls.positive_floor)),
            cue_weight=float(d.get("cue_weight", cls.cue_weight)),
            max_cues=int(d.get("max_cues", cls.max_cues)),
            slope=float(d.get("slope", VADER_SLOPE)),
        )

    def cues(self, text: str) -> int:
        return min(self.max_cues, len(_CUES.findall(text)))

    def cue_words(self, text: str) -> list[str]:
        """The complaint cues found, in order (the first ``max_cues`` count)."""
        return [m.group(0) for m in _CUES.finditer(text)]

    def probability(self, text: str) -> float:
        return self.from_compound(vader_compound(text), self.cues(text) if self.cue_weight else 0)

    def from_compound(self, compound: float, cues: int) -> float:
        return sigmoid(self.logit(compound, cues))

    def logit(self, compound: float, cues: int) -> float:
        c = compound if compound <= 0 else max(compound - self.positive_floor, 0.0)
        return self.slope * c - self.cue_weight * cues

    def mixed_logit(self, text: str) -> float:
        """VADER's logit for the English words of a mostly Chinese text ("华为 phone is terrible"),
        0.0 when there are none. No complaint cues here: in a Chinese post the complaint is in
        the Chinese words, and "24 hours" or "again" are not complaints on their own."""
        words = latin_words(text)
        if not words:
            return 0.0
        return self.logit(vader_compound(" ".join(words)), 0)


_LATIN_WORD_RE = re.compile(r"[A-Za-z][A-Za-z']*")


def latin_words(text: str) -> list[str]:
    """The Latin-script words of a text, in order (what VADER reads of a mixed post)."""
    return _LATIN_WORD_RE.findall(text)


def vader_probability(compound: float) -> float:
    """P(positive) of plain VADER: ``sigmoid(8.11 c)`` (the format-1 mapping, and the bench's)."""
    return sigmoid(VADER_SLOPE * compound)


class _Vader:
    _lock = threading.Lock()
    _analyzer: Any = None

    @classmethod
    def compound(cls, text: str) -> float:
        if cls._analyzer is None:
            with cls._lock:
                if cls._analyzer is None:
                    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                    cls._analyzer = SentimentIntensityAnalyzer()
        return float(cls._analyzer.polarity_scores(text)["compound"])


def vader_lexicon() -> dict[str, float]:
    """VADER's word -> valence table (lower-case words), for explanations."""
    _Vader.compound("")
    return dict(_Vader._analyzer.lexicon)


def vader_compound(text: str) -> float:
    """VADER's compound score of ``text`` (-1..1); the analyzer loads on first use."""
    return _Vader.compound(text)
