"""The one tokenizer for brand matching and sentiment: jieba, or rjieba as its fast path.

    seg = Segmenter(user_dicts=[Path("config/dict/user.txt")], words=["阿克米咖啡", "阿克米"])
    seg.tokens(normalize("阿克米咖啡太难喝了"))   # ['阿克米咖啡', '太难', '喝', '了']
    seg.backend                                  # "rjieba" when installed, else "jieba"
    Segmenter(backend="jieba")                   # the reference implementation

Each Segmenter owns its own tokenizer so that adding brand names never changes the
process-wide ``jieba`` default that other code may use. Tokenise once per mention and share
the tokens (``Mention.tokens``) between the brand matcher and the sentiment model.

Why two backends: jieba (pure Python) is the reference the model was trained with and takes
~140 us per Weibo post, more than the rest of the scoring path together. rjieba (a binding of
jieba-rs, the Rust port, same dictionary and HMM) cuts the same text 10-15x faster. It differs
from jieba in one systematic way: jieba keeps a run of ASCII symbols together ("...", "21-23"
-> "21", "-", "23") by splitting the run with its ``re_skip`` pattern, while jieba-rs emits
one token per symbol. ``_jieba_ascii_runs`` rejoins such runs and splits them jieba's way;
after it, 5 of the 49,299 labelled texts are cut differently (tests/nlp/test_segment.py
checks >= 99.9% agreement on the dev texts when the data is present).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jieba

from monitor.errors import ConfigError

log = logging.getLogger(__name__)

jieba.setLogLevel(logging.WARNING)  # jieba logs "Building prefix dict..." at INFO on every load

# A brand alias gets at least this jieba frequency, so it wins over splitting it into pieces
# inside ordinary sentences, yet stays below common dictionary words that contain it (小米粥 is
# millet porridge, freq 30 vs 小米 397: the longer dictionary word still wins where it occurs).
_ALIAS_MIN_FREQ = 50

BACKENDS = ("auto", "jieba", "rjieba")
# jieba's user dictionary line: word, optional frequency, optional tag (jieba.re_userdict).
_USERDICT_RE = re.compile(r"^(.+?)( [0-9]+)?( [a-z]+)?$")
# Characters jieba keeps in one block with Chinese (jieba.re_han_default, minus Chinese), and
# its finalseg.re_skip, which splits a run of them into alphanumerics and the rest.
_ASCII_RUN_RE = re.compile(r"[a-zA-Z0-9+#&._%\-]+")
_SKIP_RE = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")
_SYMBOL_RE = re.compile(r"[+#&._%\-]")  # without these, _jieba_ascii_runs changes nothing


def _rjieba_available() -> bool:
    try:
        import rjieba  # noqa: F401
    except ImportError:
        return False
    return True


def _jieba_ascii_runs(tokens: Iterable[str]) -> list[str]:
    """rjieba tokens -> jieba's: consecutive ASCII-symbol tokens rejoined and split by re_skip,
    whitespace tokens dropped (see the module docstring)."""
    out: list[str] = []
    run: list[str] = []
    for tok in tokens:
        if _ASCII_RUN_RE.fullmatch(tok):
            run.append(tok)
            continue
        if run:
            out.extend(p for p in _SKIP_RE.split("".join(run)) if p)
            run.clear()
        if not tok.isspace():
            out.append(tok)
    if run:
        out.extend(p for p in _SKIP_RE.split("".join(run)) if p)
    return out


class Segmenter:
    """A tokenizer initialised once, with user dictionaries and brand words added.

    ``backend``: "jieba" (reference), "rjieba" (fast path, needs the rjieba package) or "auto"
    (rjieba when importable). Thread-safe for ``tokens()``; ``add_words`` is meant for start-up.
    """

    def __init__(
        self,
        user_dicts: Sequence[Path | str] = (),
        words: Iterable[str] = (),
        *,
        backend: str = "auto",
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown segmenter backend {backend!r}, expected one of {BACKENDS!r}")
        if backend == "auto":
            backend = "rjieba" if _rjieba_available() else "jieba"
        self.backend = backend
        self._lock = threading.Lock()
        self._rj: Any = None
        self._tk: jieba.Tokenizer | None = None
        if backend == "rjieba":
            import rjieba

            self._rj = rjieba.Jieba()
        else:
            self._tk = jieba.Tokenizer()
            self._tk.initialize()  # load the prefix dictionary now, not on the first mention
        for path in user_dicts:
            self._load_userdict(Path(path))
        self.add_words(words)

    def _load_userdict(self, p: Path) -> None:
        try:
            if self._tk is not None:
                self._tk.load_userdict(str(p))
            else:
                # jieba's load_userdict, line for line: "word [freq] [tag]", BOM on line 1 dropped.
                for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
                    line = line.strip().lstrip("\ufeff")
                    if not line:
                        continue
                    m = _USERDICT_RE.match(line)
                    if m is None:  # cannot happen for a non-empty line; keeps the contract explicit
                        raise ValueError(f"invalid dictionary entry at line {lineno}: {line!r}")
                    word, freq, tag = m.groups()
                    self._rj.add_word(word, int(freq) if freq else None, tag.strip() if tag else None)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"cannot load jieba user dictionary: {exc}", file=str(p)) from exc
        log.info("jieba user dictionary loaded path=%s backend=%s", p, self.backend)

    def add_words(self, words: Iterable[str]) -> None:
        """Add words (brand aliases) so the tokenizer keeps them whole."""
        with self._lock:
            for word in words:
                w = word.strip()
                if not w or " " in w:
                    continue  # jieba never yields tokens with spaces; English phrases match by regex
                if self._tk is not None:
                    freq = max(self._tk.suggest_freq(w, False), _ALIAS_MIN_FREQ, self._tk.FREQ.get(w) or 0)
                else:
                    freq = max(int(self._rj.suggest_freq(w)), _ALIAS_MIN_FREQ)
                for form in dict.fromkeys((w, w.lower())):  # the lower-case form too, same frequency
                    if self._tk is not None:
                        self._tk.add_word(form, freq=freq)
                    else:
                        self._rj.add_word(form, freq, None)

    def tokens(self, normalized_text: str) -> list[str]:
        """Tokens of a normalised text, whitespace tokens dropped (precise mode, HMM on)."""
        if not normalized_text:
            return []
        if self._rj is not None:
            toks = self._rj.cut(normalized_text, True)
            if _SYMBOL_RE.search(normalized_text) is None:
                # No ASCII symbol: every ASCII token is one alphanumeric word, as jieba cuts it.
                return [t for t in toks if not t.isspace()]
            return _jieba_ascii_runs(toks)
        return [t for t in self._tk.cut(normalized_text, HMM=True) if not t.isspace()]  # type: ignore[union-attr]

    def word_freq(self, word: str) -> int | None:
        """jieba's dictionary frequency of ``word`` (None when unknown; the jieba backend only,
        rjieba does not expose it): for diagnostics/tests."""
        if self._tk is None:
            return None
        return self._tk.FREQ.get(word) or None
