"""The one tokenizer for brand matching and sentiment: a private jieba Tokenizer.

    seg = Segmenter(user_dicts=[Path("config/dict/user.txt")], words=["阿克米咖啡", "阿克米"])
    seg.tokens(normalize("阿克米咖啡太难喝了"))   # ['阿克米咖啡', '太难', '喝', '了']

Each Segmenter owns its own ``jieba.Tokenizer`` so that adding brand names never changes the
process-wide ``jieba`` default that other code may use. Tokenise once per mention and share
the tokens (``Mention.tokens``) between the brand matcher and the sentiment model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import jieba

from monitor.errors import ConfigError

log = logging.getLogger(__name__)

jieba.setLogLevel(logging.WARNING)  # jieba logs "Building prefix dict..." at INFO on every load

# A brand alias gets at least this jieba frequency, so it wins over splitting it into pieces
# inside ordinary sentences, yet stays below common dictionary words that contain it (小米粥 is
# millet porridge, freq 30 vs 小米 397: the longer dictionary word still wins where it occurs).
_ALIAS_MIN_FREQ = 50


class Segmenter:
    """A jieba tokenizer initialised once, with user dictionaries and brand words added.

    Thread-safe for ``tokens()`` once built; ``add_words`` is meant for start-up.
    """

    def __init__(self, user_dicts: Sequence[Path | str] = (), words: Iterable[str] = ()) -> None:
        self._tk = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._tk.initialize()  # load the prefix dictionary now, not on the first mention
        for path in user_dicts:
            p = Path(path)
            try:
                self._tk.load_userdict(str(p))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise ConfigError(f"cannot load jieba user dictionary: {exc}", file=str(p)) from exc
            log.info("jieba user dictionary loaded path=%s", p)
        self.add_words(words)

    def add_words(self, words: Iterable[str]) -> None:
        """Add words (brand aliases) so jieba keeps them whole."""
        with self._lock:
            for word in words:
                w = word.strip()
                if not w or " " in w:
                    continue  # jieba never yields tokens with spaces; English phrases match by regex
                freq = max(self._tk.suggest_freq(w, False), _ALIAS_MIN_FREQ, self._tk.FREQ.get(w) or 0)
                self._tk.add_word(w, freq=freq)
                lower = w.lower()
                if lower != w:
                    self._tk.add_word(lower, freq=freq)

    def tokens(self, normalized_text: str) -> list[str]:
        """jieba tokens of a normalised text, whitespace tokens dropped (precise mode, HMM on)."""
        if not normalized_text:
            return []
        return [t for t in self._tk.cut(normalized_text, HMM=True) if not t.isspace()]

    def word_freq(self, word: str) -> int | None:
        """jieba's dictionary frequency of ``word`` (None when unknown): for diagnostics/tests."""
        return self._tk.FREQ.get(word) or None
