"""The sentiment model's commands: ``brandpulse train``, ``eval`` and ``explain``.

    brandpulse train [--data DIR] [--out DIR] [--include-english] [--sample N]
                     [--with-corrections (--db URL | -c CONFIG) [--correction-weight W]]
    brandpulse eval --data CSV [CSV ...] [--model DIR] [--json]
    brandpulse explain "TEXT" [--model DIR] [--top N] [--json]
    brandpulse explain --mention ID -c CONFIG [--db URL]

Registered by monitor.cli (``add_parsers`` + ``COMMANDS``). This is a wiring module: it reads
analyst corrections from the store (``monitor.store.corrections.labelled_texts``) and hands
them to ``nlp.train.train`` as plain (text, label) pairs, because nlp never imports the store.
Training progress (phases, row counts, fold timings) goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.settings import Config
    from nlp.explain import Explanation
    from nlp.segment import Segmenter
    from nlp.sentiment import SentimentModel

_CONFIG_ENV = "BRANDPULSE_CONFIG"


def add_parsers(sub: Any, default_data: Path) -> None:
    """Add train, eval and explain to the ``brandpulse`` subcommand parsers."""
    p = sub.add_parser("train", help="train the sentiment model from labelled CSV files (and analyst corrections)")
    p.add_argument("--data", default=str(default_data),
                   help=f"folder with <name>.train.csv / <name>.dev.csv (default {default_data})")
    p.add_argument("--out", default=None, help="output folder (default: the shipped nlp/model)")
    p.add_argument("--include-english", action="store_true",
                   help="also train on en_airline (CC BY-NC-SA 4.0: never ship that model)")
    p.add_argument("--sample", type=int, default=None, help="train on at most N rows per file (quick checks)")
    p.add_argument("--with-corrections", action="store_true",
                   help="add the analysts' sentiment relabels from the store as training rows (needs --out)")
    p.add_argument("--db", default=None, help="with --with-corrections: the store's URL (else the config's)")
    p.add_argument("--config", "-c", default=None, help="with --with-corrections: config file naming the store")
    p.add_argument("--correction-weight", type=float, default=None,
                   help="training weight of one correction (default nlp.train.CORRECTION_WEIGHT)")

    p = sub.add_parser("eval", help="measure a sentiment model on labelled CSV files (label,text columns)")
    p.add_argument("--data", nargs="+", required=True, help="CSV files with 'label' and 'text' columns")
    p.add_argument("--model", default=None, help="model folder (default: the shipped nlp/model)")
    p.add_argument("--json", action="store_true", help="print JSON (one object per file, keyed by path)")

    p = sub.add_parser("explain", help="which words and features pushed a text negative or positive")
    p.add_argument("text", nargs="?", default=None, help="the text to explain")
    p.add_argument("--mention", type=int, default=None, help="explain a stored mention by id (needs -c or --db)")
    p.add_argument("--model", default=None, help="model folder (default: the config's, else the shipped one)")
    p.add_argument("--config", "-c", default=None, help="config: its model, neutral band, dictionaries and store")
    p.add_argument("--db", default=None, help="with --mention: the store's URL (else the config's)")
    p.add_argument("--top", type=int, default=8, help="features to list each way (default 8)")
    p.add_argument("--json", action="store_true", help="print the explanation as JSON")


def _progress() -> Callable[[str], None]:
    t0 = time.monotonic()

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    return say


def _config(path: str | None, required: bool) -> Config | None:
    from monitor.settings import load_config

    path = path or os.environ.get(_CONFIG_ENV)
    if path is None:
        if required:
            raise ConfigError("give the store with --db URL or a config with -c FILE")
        return None
    return load_config(path)


def _engine(db: str | None, config_path: str | None) -> Any:
    from monitor.settings import resolve_sqlite_url
    from monitor.store.engine import make_engine
    from monitor.store.migrate import upgrade

    if db:
        url = resolve_sqlite_url(db, Path.cwd())
    else:
        config = _config(config_path, required=True)
        assert config is not None
        url = config.storage_url
    engine = make_engine(url)
    upgrade(engine)
    return engine


def cmd_train(args: argparse.Namespace) -> int:
    from nlp.sentiment import SHIPPED_MODEL_DIR
    from nlp.train import CORRECTION_WEIGHT, train

    say = _progress()
    weight = CORRECTION_WEIGHT if args.correction_weight is None else args.correction_weight
    if weight <= 0:
        raise ConfigError(f"--correction-weight must be > 0, got {weight:g}")
    extra: list[tuple[str, str]] = []
    if args.with_corrections:
        if not args.out:
            raise ConfigError("--with-corrections trains a model of your own data: give --out DIR (and point "
                              "nlp.model at it), the shipped nlp/model stays as packaged")
        from monitor.store.corrections import labelled_texts

        engine = _engine(args.db, args.config)
        try:
            extra = labelled_texts(engine)
        finally:
            engine.dispose()
        say(f"read {len(extra):,} analyst sentiment corrections from the store")
    elif args.db or args.config or args.correction_weight is not None:
        raise ConfigError("--db, --config and --correction-weight only apply with --with-corrections")
    out = Path(args.out) if args.out else SHIPPED_MODEL_DIR
    report = train(Path(args.data), out, include_english=args.include_english, sample=args.sample,
                   extra_examples=extra, correction_weight=weight, progress=say)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _load_model(model_dir: str | None, config: Config | None, segmenter: Segmenter | None = None) -> SentimentModel:
    from nlp.sentiment import SentimentModel

    if model_dir is None and config is not None and config.nlp.model:
        model_dir = str(config.resolve(config.nlp.model))
    band = config.nlp.neutral_band if config is not None else None
    return SentimentModel.load(Path(model_dir) if model_dir else None, neutral_band=band, segmenter=segmenter)


def cmd_eval(args: argparse.Namespace) -> int:
    from nlp.evaluate import evaluate, read_labelled_csv
    from nlp.segment import Segmenter

    model = _load_model(args.model, None, Segmenter())
    results: dict[str, Any] = {}
    for path in args.data:
        texts, labels = read_labelled_csv(Path(path))
        probs = [p for p, _route in model.score_detail(texts)]
        r = evaluate(probs, labels, model.neutral_band)
        results[path] = {"n": r["rows"], "model_version": model.version, **r}
    if args.json:
        print(json.dumps(results if len(results) > 1 else next(iter(results.values())), ensure_ascii=False,
                         indent=2))
        return 0
    for path, r in results.items():
        print(f"{path}: {r['n']} rows, model {model.version}, neutral band {model.neutral_band}")
        print(f"  binary (P > 0.5): accuracy {_f(r['accuracy'])}, macro-F1 {_f(r['macro_f1'])}")
        print(f"  in the neutral band: {r['neutral_rows']} ({_f(r['neutral_fraction'])}); "
              f"accuracy outside it {_f(r['accuracy_outside_band'])}")
        print("  class      precision recall  f1     support")
        for c, m in r["per_class"].items():
            print(f"  {c:10s} {_f(m['precision']):9s} {_f(m['recall']):7s} {_f(m['f1']):6s} {m['support']}")
        print("  confusion (rows: true, columns: predicted negative / neutral / positive)")
        for c, row in r["confusion"].items():
            print(f"  {c:10s} " + " ".join(f"{v:7d}" for v in row.values()))
    return 0


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def cmd_explain(args: argparse.Namespace) -> int:
    from nlp.segment import Segmenter

    if (args.text is None) == (args.mention is None):
        raise ConfigError("give either a TEXT or --mention ID")
    config = _config(args.config, required=False)
    segmenter = Segmenter(user_dicts=[config.resolve(d) for d in config.nlp.user_dict] if config else ())
    if config is not None:  # the daemon's tokens: brand aliases are whole words there
        from nlp.brands import BrandMatcher

        segmenter.add_words(BrandMatcher(config.brands).segmenter_words())
    text = args.text
    if args.mention is not None:
        from monitor.store.query import get_mention

        engine = _engine(args.db, args.config)
        try:
            row = get_mention(engine, args.mention)
        finally:
            engine.dispose()
        if row is None:
            raise ConfigError(f"mention {args.mention}: no such mention in the store")
        text = row.text
    model = _load_model(args.model, config, segmenter)
    e = model.explain(text)
    if args.json:
        print(json.dumps(e.to_json(top=max(args.top, 1) * 2), ensure_ascii=False, indent=2))
    else:
        print(render(e, model.neutral_band, args.top))
    return 0


_ROUTES = {"zh": "the Chinese model", "en": "the English path", "symbol": "the emoji table"}


def render(e: Explanation, band: tuple[float, float], top: int = 8) -> str:
    """The explanation as an analyst reads it in a terminal."""
    lines = [f"{e.label}: P(positive) = {e.probability:.3f} (neutral inside {band[0]:g}..{band[1]:g}); "
             f"model {e.model_version}, scored by {_ROUTES.get(e.route, e.route)}", f"text: {e.text}", ""]
    for direction, title in (("negative", "pushed negative"), ("positive", "pushed positive")):
        terms = e.top_terms(top, direction)
        lines.append(f"{title}: " + ("  ".join(f"{t} {w:+.2f}" for t, w in terms) if terms else "nothing"))
    lines += ["", f"features (logit units; start {e.bias:+.2f}, total {e.logit:+.2f}):"]
    for c in e.top(top * 2):
        lines.append(f"  {c.weight:+.3f}  {c.kind:7s} {c.feature}")
    return "\n".join(lines)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "eval": cmd_eval,
    "explain": cmd_explain,
}
