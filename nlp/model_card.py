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


def write_model_card(path: Path, meta: dict[str, Any], report: dict[str, Any]) -> None:
    english = meta["english"]["path"]
    f = meta["features"]
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
        f"({f['word_n_features']} hashed features) and character "
        f"{f['char_ngram'][0]}-{f['char_ngram'][1]}-grams ({f['char_n_features']}), "
        "sublinear tf x idf, L2 per block; logistic regression "
        f"(C={meta['classifier']['C']}, balanced classes); Platt calibration on "
        f"{meta['calibration']['fitted_on']} "
        f"(a={meta['calibration']['a']:.3f}, b={meta['calibration']['b']:.3f}).",
        f"- Training rows: {meta['train_rows']['fit']} fitted, "
        f"{meta['train_rows']['calibration']} for calibration"
        + (f" (sample of {meta['sample_per_set']} per set)" if meta.get("sample_per_set") else "")
        + ".",
        "- Routing: texts with any Chinese character -> this model (Chinese posts naming an English brand "
        "included); emoji/emoticon-only texts -> a hand-written polarity table (nlp/features.py), "
        "whose polarity is also added to the model's logit for Chinese texts with emoji.",
    ]
    if english == "vader":
        lines.append(
            "- English (no Chinese characters) -> VADER (vaderSentiment, MIT licence), compound c mapped to "
            "p = sigmoid(8.11 c), so VADER's own neutral threshold |c| < 0.05 is the 0.4..0.6 band. "
            "No English training data is in this model."
        )
    else:
        lines.append("- English -> the same linear model (trained with en_airline, see the licence notice).")
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
    lines += [
        "",
        "Caveats: zh_weibo labels are the author's emotion (a sad post about a pet is negative), not "
        "an opinion of a brand; none of the sets has a neutral class, so the band is the model's "
        "uncertainty, not a trained neutral label. Other product domains will score lower.",
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
    if english == "vader":
        a = ATTRIBUTION["en_airline"]
        lines.append(
            f"- en_airline.dev is used only to measure the VADER path above, never for training: "
            f"{a['origin']}. Licence: {a['licence']}."
        )
    lines += ["", "## Licence notes", ""]
    if english == "model":
        lines.append(_CC_NOTICE)
    else:
        lines.append(
            "Trained on the three Chinese sets only, whose origins state no licence restriction; this "
            "is the model shipped in the package. A model including en_airline (CC BY-NC-SA 4.0) may "
            "be trained locally with `brandpulse train --include-english` and is never shipped."
        )
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
