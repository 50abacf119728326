"""``brandpulse train / eval / explain`` as a user runs them: real subprocesses, a real store."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from monitor.models import Mention, Sentiment, SentimentLabel
from monitor.store import corrections
from monitor.store.engine import make_engine
from monitor.store.mentions import insert_mentions
from monitor.store.migrate import upgrade
from monitor.store.schema import mentions

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment"
needs_data = pytest.mark.skipif(not (DATA / "zh_weibo.train.csv").exists(), reason=f"{DATA} absent")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def brandpulse(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUTF8": "1"}
    env.pop("BRANDPULSE_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=Path(__file__).resolve().parents[2])


def _mention(external_id: str, text: str, label: str) -> Mention:
    return Mention(source_id="weibo-export", external_id=external_id, text=text, brands=("acme",),
                   sentiment=Sentiment(SentimentLabel(label), 0.5, "zh-linear-test"), published_at=T0,
                   fetched_at=T0, content_hash=hashlib.sha1(text.encode()).hexdigest(),
                   simhash=int(hashlib.sha1(text.encode()).hexdigest()[:16], 16), platform="weibo", lang="zh")


CORRECTED = [  # (text, model's label, analysts' relabels in order: the latest wins)
    ("阿克米咖啡新品一般般，没什么特别", "positive", ["neutral", "negative"]),
    ("阿克米的杯子是纸做的", "negative", ["neutral"]),
    ("阿克米咖啡的店员记得我的名字", "neutral", ["positive"]),
    ("ACME Coffee lost my order again", "neutral", ["negative"]),
]


def _store_with_corrections(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        insert_mentions(conn, [_mention(f"m{i}", t, lab) for i, (t, lab, _r) in enumerate(CORRECTED)])
        insert_mentions(conn, [_mention("untouched", "阿克米咖啡开了新店", "neutral")])
        ids = dict(conn.execute(sa.select(mentions.c.text, mentions.c.id)).all())
    for k, (text, _lab, relabels) in enumerate(CORRECTED):
        for j, label in enumerate(relabels):
            corrections.relabel(engine, ids[text], label, by="王五", at=T0 + timedelta(minutes=10 * k + j))
    engine.dispose()


@needs_data
@pytest.mark.slow
def test_train_with_corrections_from_a_real_store(tmp_path: Path, db_url: str) -> None:
    _store_with_corrections(db_url)
    out = tmp_path / "site-model"
    run = brandpulse("train", "--data", str(DATA), "--sample", "200", "--with-corrections", "--db", db_url,
                     "--correction-weight", "6", "--out", str(out))
    assert run.returncode == 0, run.stderr
    # progress on stderr: phases with counts and times
    for phase in ("read 4 analyst sentiment corrections from the store",
                  "extra examples: 3 corrections -> 4 rows of weight 6", "1 not Chinese, left out",
                  "calibration fold 5/5", "final fit on 604 rows", "dev zh_hotel: macro-F1", "done in"):
        assert phase in run.stderr, phase
    report = json.loads(run.stdout)
    corr = report["corrections"]
    assert corr["by_label"] == {"negative": 1, "neutral": 1, "positive": 1}  # latest relabel wins
    assert corr["left_out_not_chinese"] == 1 and corr["weight"] == 6.0
    meta = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert meta["train_rows"] == {"fit": 604, "files": 600, "corrections": 4}
    assert "before_corrections" in meta["dev_scores"]["zh_weibo"]
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Analyst corrections" in card and "same recipe without the corrections" in card


@needs_data
@pytest.mark.slow
def test_train_with_corrections_reads_the_store_from_the_config(tmp_path: Path, sqlite_url: str) -> None:
    _store_with_corrections(sqlite_url)
    cfg = tmp_path / "brandpulse.yaml"
    cfg.write_text(yaml.safe_dump({"storage": {"url": sqlite_url}, "brands": [{"id": "acme", "name": "阿克米咖啡"}]},
                                  allow_unicode=True), encoding="utf-8")
    run = brandpulse("train", "--data", str(DATA), "--sample", "100", "--with-corrections", "-c", str(cfg),
                     "--out", str(tmp_path / "m"))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["corrections"]["examples"] == 3


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--with-corrections", "--db", "DB"], "give --out DIR"),
        (["--with-corrections", "--out", "OUT"], "--db URL or a config with -c FILE"),
        (["--db", "DB"], "only apply with --with-corrections"),
        (["--with-corrections", "--out", "OUT", "--db", "DB", "--correction-weight", "0"], "must be > 0"),
    ],
)
def test_train_argument_errors(tmp_path: Path, args: list[str], problem: str) -> None:
    paths = {"DB": f"sqlite:///{tmp_path / 'x.db'}", "OUT": str(tmp_path / "m")}
    run = brandpulse("train", "--data", str(tmp_path), *[paths.get(a, a) for a in args])
    assert run.returncode == 1 and problem in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "m").exists()  # refused before any work


def test_explain_a_text() -> None:
    run = brandpulse("explain", "阿克米咖啡太难喝了，又贵又慢，再也不去了")
    assert run.returncode == 0, run.stderr
    first, text = run.stdout.splitlines()[:2]
    assert first.startswith("negative: P(positive) = 0.") and "scored by the Chinese model" in first
    assert text == "text: 阿克米咖啡太难喝了,又贵又慢,再也不去了"
    assert "pushed negative: " in run.stdout and "features (logit units" in run.stdout
    j = json.loads(brandpulse("explain", "垃圾服务!!!", "--json", "--top", "3").stdout)
    assert j["label"] == "negative" and len(j["contributions"]) == 6
    assert j["route"] == "zh" and j["terms"][0]["term"] == "垃圾"
    emoji = json.loads(brandpulse("explain", "😡😡", "--json").stdout)
    assert emoji["route"] == "symbol" and emoji["contributions"] == [
        {"kind": "emoji", "feature": "😡 x2", "weight": -6.0}]


def test_explain_a_stored_mention(tmp_path: Path, sqlite_url: str) -> None:
    _store_with_corrections(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        mid = conn.execute(sa.select(mentions.c.id).where(mentions.c.external_id == "m0")).scalar_one()
    engine.dispose()
    cfg = tmp_path / "brandpulse.yaml"
    cfg.write_text(yaml.safe_dump({"storage": {"url": sqlite_url}, "nlp": {"neutral_band": [0.3, 0.7]},
                                   "brands": [{"id": "acme", "name": "阿克米咖啡", "aliases": ["阿克米"]}]},
                                  allow_unicode=True), encoding="utf-8")
    run = brandpulse("explain", "--mention", str(mid), "-c", str(cfg))
    assert run.returncode == 0, run.stderr
    assert "text: 阿克米咖啡新品一般般,没什么特别" in run.stdout and "neutral inside 0.3..0.7" in run.stdout
    j = json.loads(brandpulse("explain", "--mention", str(mid), "-c", str(cfg), "--json").stdout)
    assert j["terms"][0]["term"] == "阿克米咖啡"  # the config's brand is one token, as in the daemon
    missing = brandpulse("explain", "--mention", "999", "--db", sqlite_url)
    assert missing.returncode == 1 and "mention 999: no such mention" in missing.stderr
    both = brandpulse("explain", "好", "--mention", "1", "--db", sqlite_url)
    assert both.returncode == 1 and "either a TEXT or --mention ID" in both.stderr


def test_eval_a_csv(tmp_path: Path) -> None:
    f = tmp_path / "labelled.csv"
    f.write_text("id,label,text\n1,positive,这家店的咖啡很好喝，推荐\n2,negative,送餐太慢了，饭都凉了，差评\n"
                 "3,1,服务热情周到\n4,0,太难吃了再也不来了\n5,neutral,😶\n", encoding="utf-8")
    run = brandpulse("eval", "--data", str(f), "--json")
    assert run.returncode == 0, run.stderr
    r = json.loads(run.stdout)
    assert r["n"] == 5 and r["accuracy"] == 1.0 and r["macro_f1"] == 1.0
    assert {"precision", "recall", "f1", "support"} <= set(r["per_class"]["positive"])
    assert r["confusion"]["neutral"] == {"negative": 0, "neutral": 1, "positive": 0}
    text = brandpulse("eval", "--data", str(f))
    assert "macro-F1 1.000" in text.stdout and "confusion" in text.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("label,text\nmaybe,好\n", encoding="utf-8")
    run = brandpulse("eval", "--data", str(bad))
    assert run.returncode == 1 and "bad.csv" in run.stderr and "line 2" in run.stderr
