"""The model card written next to a trained artifact: data origins, licences, scores.

    write_model_card(out_dir / "MODEL_CARD.md", meta, report)     # called by nlp.train.train

Attribution is paraphrased from ../shared/data/sentiment/README.md; no training text is copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ATTRIBUTION: dict[str, dict[str, str]] = {
    "zh_hotel": {
        "origin": "ChnSentiCorp hotel reviews (Ctrip), collected by Tan Songbo; ChnSentiCorp_htl_all.csv "
        "from github.com/SophonPlus/ChineseNlpCorpus (commit a0b781d)",
        "licence": "none stated by the repository or the original corpus",
    },
    "zh_waimai": {
        "origin": "food-delivery app reviews, waimai_10k.csv from github.com/SophonPlus/ChineseNlpCorpus "
        "(commit a0b781d); original collected on the web, author and source unknown",
        "licence": "none stated",
    },
    "zh_weibo": {
        "origin": "SMP2020-EWECT general Weibo set (annotations HIT-SCIR, posts supplied by 微热点), via "
        "github.com/zhusleep/weibo_sentiment_analysis (commit ef00d51); happy -> positive, "
        "angry/sad/fear -> negative, neutral and surprise left out",
        "licence": "none stated; released to participants of the evaluation",
    },
    "en_airline": {
        "origin": "Twitter US Airline Sentiment (Crowdflower Data for Everyone, republished on Kaggle), via "
        "github.com/Anuragiitk/Twitter-US-Sentiment-Analysis (commit 58786be); neutral left out",
        "licence": "CC BY-NC-SA 4.0 (Kaggle dataset card): non-commercial, share-alike",
    },
}

_CC_NOTICE = (
    "**Licence notice.** This model was trained with the Twitter US Airline Sentiment data, licensed "
    "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/): attribution to Crowdflower's "
    "Data for Everyone, non-commercial use only, and derivatives under the same licence. Do not ship it "
    "in the BrandPulse package or use it commercially."
)


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


# What each idea bought: macro-F1 from `python bench/sentiment.py --ablation` (tune = a 15% slice
# of each train file, chosen by hash; LODO = trained on the other two Chinese corpora only, the
# proxy for the unseen domains the product meets). Decisions were made on these, never on dev.
ABLATION_HEADER = (
    "features", "tune hotel", "tune waimai", "tune weibo", "LODO hotel", "LODO waimai", "LODO weibo", "LODO mean"
)
ABLATION: list[tuple[str, ...]] = [  # from the bench run that chose the shipped recipe
    ("word 1-2 + char 1-3, sublinear tf-idf, balanced LR (previous model)",
     "0.866", "0.863", "0.837", "0.752", "0.797", "0.655", "0.735"),
    ("+ char 1-4", "0.864", "0.863", "0.837", "0.756", "0.795", "0.647", "0.733"),
    ("+ word 1-3", "0.860", "0.869", "0.834", "0.754", "0.792", "0.647", "0.731"),
    ("C = 10 instead of 4", "0.868", "0.865", "0.834", "0.744", "0.795", "0.659", "0.733"),
    ("+ negation-scope marks", "0.851", "0.867", "0.840", "0.766", "0.798", "0.661", "0.742"),
    ("+ shared weights (per-corpus copies x0.3), no marks",
     "0.855", "0.867", "0.853", "0.766", "0.765", "0.699", "0.743"),
    ("+ shared weights + negation marks (shipped)", "0.842", "0.862", "0.855", "0.773", "0.764", "0.704", "0.747"),
]

ABLATION_NOTES = [
    "Differences of about 0.01 on the tune slices (930 hotel, 1,440 waimai, 2,320 Weibo rows) are within "
    "noise; no feature idea moved in-domain macro-F1 beyond it. The shipped recipe was chosen for transfer "
    "(best leave-one-corpus-out mean) and for neutral chatter: with shared weights, plain statements "
    "(\"我今天去了阿克米咖啡\", \"星河手机发布了新款\", \"明天下午三点开会\") score 0.44 / 0.48 / 0.51 "
    "(the previous model: 0.16 for the first); the same recipe without shared weights scores them "
    "0.29 / 0.36 / 0.35, i.e. negative. The price on dev: hotel 0.856 vs 0.844 without shared weights, "
    "waimai 0.876 vs 0.888, Weibo 0.843 vs 0.850 (the previous model: 0.862 / 0.893 / 0.841).",
    "English: plain VADER (p = sigmoid(8.1 c)) 0.620 macro-F1 on en_airline.dev; + positive floor 0.3: "
    "0.702; + complaint cues: 0.754 (shipped). A model trained with en_airline (`--include-english`, "
    "local only) reaches 0.887.",
    "NB-SVM log-count-ratio scaling of the same features: tune 0.866 / 0.865 / 0.834, no gain over the "
    "plain fit (binary features without idf: 0.863 / 0.862 / 0.845), so not used.",
    "Degree-adverb marks (很/太/非常 + next word) on top of the negation marks: LODO mean 0.745 vs 0.747 "
    "without them; dropped. Weighting hotel x2 / waimai x1.5: hotel +0.006, Weibo -0.007; dropped.",
    "Already in the previous model and kept: Traditional -> Simplified (nlp.normalize), sublinear tf, "
    "balanced class weights, Platt calibration on held-out train rows, emoji/Weibo-emoticon table "
    "added to the logit; emoji and [怒]-style codes are also character n-grams.",
    "Single-corpus models (each trained on its own corpus only) reach tune macro-F1 0.880 hotel, "
    "0.869 waimai, 0.846 Weibo: the ceiling of this feature family on this data is well below the "
    "issue's 0.91 / 0.91 / 0.89 targets, which need contextual models (pretrained transformers "
    "reach about 0.94 on hotel reviews).",
]


def write_model_card(path: Path, meta: dict[str, Any], report: dict[str, Any]) -> None:
    english = meta["english"]["path"]
    f = meta["features"]
    cal = meta["calibration"]
    shared = meta["classifier"].get("shared_weights")
    marks = (
        f", negation-scope marks ({f['mark_n_features']} hashed; the {f['negation_window']} words after "
        "不/没/别/未/无/not/never/no ... up to punctuation)"
        if f.get("mark_n_features")
        else ""
    )
    lines = [
        f"# Sentiment model `{meta['version']}`",
        "",
        f"Created {meta['created']} by `brandpulse train` (nlp/train.py). Format `{meta['format']}`: "
        "`model.json` (parameters, calibration, scores) + `weights.npz` (float32 arrays, loaded with "
        "`allow_pickle=False`; nothing is unpickled).",
        "",
        "## What it is",
        "",
        f"- Binary polarity, P(positive) in 0..1; the label is `neutral` inside the band "
        f"{meta['neutral_band'][0]}..{meta['neutral_band'][1]} (configurable at load).",
        f"- Features: jieba word {f['word_ngram'][0]}-{f['word_ngram'][1]}-grams "
        f"({f['word_n_features']} hashed features), character "
        f"{f['char_ngram'][0]}-{f['char_ngram'][1]}-grams ({f['char_n_features']}){marks}; "
        "sublinear tf x idf, L2 per block. Training tokens come from jieba (the reference); at run time "
        "the Segmenter uses rjieba when installed (same tokens for all but 5 of the 49,299 labelled texts, "
        "~10x faster; tests/nlp/test_segment.py checks the agreement).",
        f"- Classifier: logistic regression (C={meta['classifier']['C']}, balanced classes)"
        + (
            f", fitted with a per-corpus copy of every feature (x{shared['domain_scale']}) and a per-corpus "
            "intercept beside the shared ones; only the shared weights ship, so what holds in one corpus only "
            "(Weibo's emotion labels, each corpus's class mix) stays out of the model that meets new domains"
            if shared
            else ""
        )
        + ".",
        f"- Calibration: Platt on {cal['fitted_on']} (a={cal['a']:.3f}, b={cal['b']:.3f}); balanced so that "
        "p = 0.5 means no evidence either way, not the training corpora's majority class.",
        f"- Training rows: {meta['train_rows']['fit']} fitted, "
        f"{meta['train_rows']['calibration']} for calibration"
        + (f" (sample of {meta['sample_per_set']} per set)" if meta.get("sample_per_set") else "")
        + ".",
        "",
        "## Language routing",
        "",
        "- Any Chinese character -> this model, so a Chinese post naming an English brand "
        "(\"ACME Coffee 的外卖又洒了\") is read by the Chinese model; Latin words are n-grams like any other.",
        "- No Chinese, some Latin letters -> the English path below.",
        "- Neither (emoji, emoticons, punctuation only: \"😡😡\", \":(\") -> a hand-written polarity table "
        "(nlp/features.py), p = sigmoid(1.5 x summed polarity); nothing known -> 0.5 (neutral). For Chinese "
        "texts the same table's polarity is added to the model's logit, so \"小米 👍👍\" reads positive.",
        "- Short texts get no special case: \"垃圾服务!!!\" is confidently negative from its n-grams; "
        "a text with no known n-gram stays near 0.5.",
    ]
    if english == "model":
        lines.append("- English -> the same linear model (trained with en_airline, see the licence notice).")
    else:
        e = meta["english"]
        lines.append(
            "- English -> VADER (vaderSentiment, MIT licence) plus hand-written customer-service complaint "
            f"rules (nlp/english.py): positive compounds below {e['positive_floor']} count as no evidence "
            "(politeness is not praise), each complaint cue (delayed, cancelled, on hold, refund, still, "
            f"nobody, why ...) subtracts {e['cue_weight']} from the logit (at most {e['max_cues']}), "
            "p = sigmoid(8.11 c' - cues); no sentiment word and no cue -> exactly 0.5. No English "
            "training data is in this model; the floor and weight were set by hand (en_airline.dev was "
            "looked at, so its figure below is optimistic for other tweets)."
        )
    lines += [
        "",
        "## Scores on the dev splits",
        "",
        "Binary decision at p > 0.5 over all rows; `neutral` = share of rows inside the band; "
        "`acc. outside band` = accuracy on the rest.",
        "",
        "| dev set | scorer | rows | accuracy | macro-F1 | neutral | acc. outside band |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in report["dev"].items():
        lines.append(
            f"| {name} | {s['scorer']} | {s['rows']} | {_fmt(s['accuracy'])} | {_fmt(s['macro_f1'])} | "
            f"{_fmt(s['neutral_fraction'])} | {_fmt(s['accuracy_outside_band'])} |"
        )
        if "plain_vader" in s:
            v = s["plain_vader"]
            lines.append(
                f"| {name} | plain VADER (previous path) | {v['rows']} | {_fmt(v['accuracy'])} | "
                f"{_fmt(v['macro_f1'])} | {_fmt(v['neutral_fraction'])} | {_fmt(v['accuracy_outside_band'])} |"
            )
    lines += [
        "",
        "Caveats: zh_weibo labels are the author's emotion (a sad post about a pet is negative), not "
        "an opinion of a brand; none of the sets has a neutral class, so the band is the model's "
        "uncertainty, not a trained neutral label. Other product domains will score lower. "
        "`python bench/sentiment.py` reproduces these figures beside SnowNLP and a plain TF-IDF baseline.",
    ]
    if ABLATION:
        lines += ["", "## What each idea bought", "", "Macro-F1 at p > 0.5; tune = 15% slice of each train file, "
                  "LODO = leave one Chinese corpus out (trained on the other two). From "
                  "`python bench/sentiment.py --ablation`.", "",
                  "| " + " | ".join(ABLATION_HEADER) + " |", "|---|" + "---|" * (len(ABLATION_HEADER) - 1)]
        lines += ["| " + " | ".join(row) + " |" for row in ABLATION]
        lines += [""] + [f"- {note}" for note in ABLATION_NOTES]
    lines += [
        "",
        "## Training data and attribution",
        "",
        "Labelled sets from ../shared/data/sentiment (80/20 train/dev split by a hash of the text). "
        "No training text is included in the artifact or the repository.",
        "",
    ]
    for name, d in meta["training_data"].items():
        a = ATTRIBUTION[name]
        lines.append(f"- **{name}** ({d['file']}): {a['origin']}. Licence: {a['licence']}.")
    if english != "model":
        a = ATTRIBUTION["en_airline"]
        lines.append(
            f"- en_airline.dev is used only to measure the English path above, never for training: "
            f"{a['origin']}. Licence: {a['licence']}."
        )
    lines += ["", "## Licence notes", ""]
    if english == "model":
        lines.append(_CC_NOTICE)
    else:
        lines.append(
            "Trained on the three Chinese sets only, whose origins state no licence restriction; this "
            "is the model shipped in the package. A model including en_airline (CC BY-NC-SA 4.0) may "
            "be trained locally with `brandpulse train --include-english` and is never shipped. "
            "vaderSentiment (English path) is MIT-licensed."
        )
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
