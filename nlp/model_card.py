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


# What each idea bought: `python bench/sentiment.py --ablation` (bench/sentiment_ablation.py),
# on the train files only. Decisions were made on these, never on dev.
ABLATION_HEADER = (
    "recipe", "cv hotel", "cv waimai", "cv weibo", "cv mean", "cv mean, d > 0", "cv mean, Platt as sampled",
    "lodo hotel", "lodo waimai", "lodo weibo", "lodo mean", "probe mean P", "probe < 0.4",
)
# (label, figures in ABLATION_HEADER order after the label)
ABLATION: list[tuple[str, str]] = [  # the bench run that chose the shipped recipe (train files only)
    ("A words 1-2 + chars 1-3 tf-idf, LR C=4 (the plain baseline)",
     "0.837 0.879 0.846 0.854 0.852 0.856 0.699 0.810 0.659 0.723 0.461 9/20"),
    ("B = A + sublinear tf",
     "0.837 0.879 0.847 0.854 0.854 0.858 0.697 0.811 0.658 0.722 0.458 9/20"),
    ("C = B + balanced class weights",
     "0.839 0.878 0.848 0.855 0.859 0.858 0.764 0.802 0.669 0.745 0.456 9/20"),
    ("D = C + chars 1-4",
     "0.836 0.878 0.845 0.853 0.856 0.855 0.765 0.805 0.659 0.743 0.456 9/20"),
    ("E = C + 4x hashed columns (2^20 per block: collisions)",
     "0.840 0.878 0.849 0.856 0.859 0.859 0.761 0.805 0.666 0.744 0.452 8/20"),
    ("F = C + C=10",
     "0.843 0.879 0.848 0.857 0.860 0.859 0.751 0.802 0.675 0.743 0.456 9/20"),
    ("G = C + NB-SVM log-count ratios",
     "0.848 0.873 0.848 0.856 0.860 0.858 0.732 0.763 0.699 0.731 0.496 7/20"),
    ("H = C + negation-scope marks",
     "0.841 0.877 0.848 0.855 0.858 0.858 0.760 0.802 0.673 0.745 0.469 9/20"),
    ("I = H + degree-adverb marks",
     "0.844 0.876 0.849 0.856 0.859 0.858 0.769 0.803 0.664 0.745 0.466 9/20"),
    ("J = H + contrast-clause marks",
     "0.838 0.877 0.849 0.855 0.859 0.857 0.758 0.805 0.668 0.744 0.471 10/20"),
    ("K = H + shared weights x0.3 (the previous model's recipe) = shipped",
     "0.854 0.867 0.841 0.854 0.854 0.851 0.776 0.763 0.694 0.744 0.539 5/20"),
    ("L = H + shared weights x0.1",
     "0.855 0.869 0.841 0.855 0.855 0.851 0.780 0.763 0.694 0.746 0.539 6/20"),
]
ABLATION_NOTES: list[str] = [
    "Within the cv columns every idea lands within about 0.005 of the plain baseline: with 6,000-15,000 "
    "rows per corpus that is noise. The n-gram family is saturated on these corpora; no feature idea moved "
    "in-domain macro-F1.",
    "Balanced class weights are the one idea that moves transfer: lodo mean 0.722 -> 0.745 (hotel 0.70 -> "
    "0.76), at no in-domain cost. Kept.",
    "Shared weights (K) change neither mean, but keep plain statements from reading negative: of 20 neutral "
    "sentences written for the check (probe; \"我在用华为手机\", \"航班改到了下午四点\" ...) 5 score below 0.4 "
    "with them, 9 without (mean P 0.54 vs 0.47). Brand mentions are mostly such statements, so K ships.",
    "Hashing collisions cost nothing (E: 4x the columns, +0.001), so 2^18 per block stays (2.4 MB artifact). "
    "NB-SVM ratios: same in-domain, lodo -0.014. Chars 1-4, C = 10, degree-adverb and contrast-clause "
    "marks: within +-0.003. None shipped; negation marks are kept for the explanations (\"NEG_好吃\").",
    "Calibration: Platt is now fitted on cross-fitted out-of-fold decisions and the model on every row "
    "(the previous model was fitted on 90% and calibrated on a 10% holdout): dev Weibo 0.843 -> 0.850, "
    "hotel and waimai unchanged. For the shipped recipe the balanced Platt rule, the uncalibrated "
    "decision and Platt as sampled give 0.854 / 0.854 / 0.851 in cv: the neutral band and the "
    "calibration cost no binary accuracy.",
    "Checks on dev (bench/sentiment.py): Traditional -> Simplified, on the Chinese dev texts converted "
    "to Traditional: 0.817 -> 0.871; the emoji table, on the 112 Chinese dev texts holding an entry: "
    "0.872 -> 0.879; VADER on the English words of Chinese posts, on the 678 that have some: 0.890 -> 0.896.",
    "Tried in one-off scripts on a 15% slice of train, not shipped: PPMI-SVD word vectors learned from "
    "the train texts as dense features (+0.002); per-corpus experts behind a corpus gate (hotel +0.012, "
    "others +-0.003; quadruples the model and breaks the exact explanations); an LR + NB-SVM + linear "
    "SVM ensemble (+0.004).",
    "Where the ceiling is: with per-corpus oracle thresholds macro-F1 rises by at most 0.02 (Weibo), "
    "so ranking (AUC about 0.94), not the decision rule, limits it. The issue's targets (0.91 hotel, "
    "0.91 waimai, 0.89 Weibo) are where contextual models are (pretrained transformers reach about 0.94 "
    "on hotel reviews). In the same bench run the reference TF-IDF words+chars LR scores 0.849 / 0.888 "
    "/ 0.833 / 0.828 (the data README quotes 0.86 / 0.89 / 0.86 / 0.88); this model 0.855 / 0.878 / "
    "0.850 with English by rules at 0.754.",
    "English: the shipped VADER + rules path reaches 0.754 on en_airline.dev; the same recipe trained "
    "with en_airline (`--include-english`, local only, CC BY-NC-SA 4.0) reaches 0.892.",
    "Speed (bench/sentiment.py, one process, 3,801 Weibo dev texts): the whole scoring path 18,259 "
    "texts/s with rjieba, 2.07x jieba's own tokenisation of the same texts (8,810/s); 0.71x with plain jieba.",
]

_ROUTING = [
    "- Any Chinese character -> this model, so a Chinese post naming an English brand "
    "(\"ACME Coffee 的外卖又洒了\") is read by the Chinese model; Latin words are n-grams like any other. "
    "Two additions to its logit: the emoji table below, and for a post mixing in English words "
    "(\"华为 phone is terrible\") VADER's reading of the Latin words alone (no complaint cues; brand "
    "names carry no VADER valence, so they change nothing).",
    "- No Chinese, some Latin letters -> the English path below.",
    "- Neither (emoji, emoticons, punctuation only: \"😡😡\", \":(\") -> a hand-written polarity table "
    "(nlp/features.py), p = sigmoid(1.5 x summed polarity); nothing known -> 0.5 (neutral). For Chinese "
    "texts the same table's polarity is added to the model's logit, so \"小米 👍👍\" reads positive.",
    "- Short texts get no special case: \"垃圾服务!!!\" is confidently negative from its n-grams; "
    "a text with no known n-gram stays near 0.5, inside the neutral band.",
]


def _features(f: dict[str, Any]) -> str:
    kinds = {"negation": "negation scope (the {w} words after 不/没/别/未/无/not/never/no ..., up to punctuation)",
             "degree": "degree adverbs (the word after 很/太/非常/very/too ...)",
             "contrast": "contrast clauses (the words after 但是/不过/可是/but ... to the end of the sentence)"}
    marks = ""
    if f.get("mark_n_features"):
        named = "; ".join(kinds[k].format(w=f.get("negation_window")) for k in f.get("mark_kinds", ["negation"]))
        marks = f", marks ({f['mark_n_features']} hashed): {named}"
    return (
        f"- Features: jieba word {f['word_ngram'][0]}-{f['word_ngram'][1]}-grams ({f['word_n_features']} hashed "
        f"columns), character {f['char_ngram'][0]}-{f['char_ngram'][1]}-grams ({f['char_n_features']}){marks}; "
        f"{'sublinear ' if f['sublinear_tf'] else ''}tf x idf, L2 per block. Text is normalised first "
        "(HTML, NFKC full-width -> half-width, URLs, Traditional -> Simplified). Training tokens come from "
        "jieba (the reference); at run time the Segmenter uses rjieba when installed, which cuts the same "
        "tokens (tests/nlp/test_segment.py checks >= 99.9% agreement on the dev texts; bench/sentiment.py "
        "prints it per set)."
    )


def _classifier(c: dict[str, Any], cal: dict[str, Any]) -> list[str]:
    lines = [
        f"- Classifier: logistic regression (liblinear, C={c['c']}, class weights {c['class_weight'] or 'none'}"
        + (", NB-SVM log-count ratios folded into the weights" if c.get("nb_ratio") else "") + ")"
        + (
            f", fitted with a per-corpus copy of every feature (x{c['domain_scale']}) and a per-corpus "
            "intercept beside the shared ones; only the shared weights ship, so what holds in one corpus only "
            "(Weibo's emotion labels, each corpus's class mix) stays out of the model that meets new domains"
            if c.get("domain_scale")
            else ""
        )
        + ".",
    ]
    if cal.get("kind") == "platt":
        lines.append(f"- Calibration: Platt on {cal['fitted_on']} (a={cal['a']:.3f}, b={cal['b']:.3f}); "
                     "then the model is fitted on every row. Balanced means p = 0.5 is \"no evidence either way\", "
                     "not the training corpora's majority class.")
    return lines


def _english(e: dict[str, Any]) -> str:
    if e["path"] == "model":
        return "- English -> the same linear model (trained with en_airline, see the licence notice)."
    return (
        "- English -> VADER (vaderSentiment, MIT licence) plus hand-written customer-service complaint "
        f"rules (nlp/english.py): positive compounds below {e['positive_floor']} count as no evidence "
        "(politeness is not praise), each complaint cue (delayed, cancelled, on hold, refund, still, "
        f"nobody, why ...) subtracts {e['cue_weight']} from the logit (at most {e['max_cues']}), "
        "p = sigmoid(8.11 c' - cues); no sentiment word and no cue -> exactly 0.5. No English "
        "training data is in this model (en_airline may not ship, see the licence notes); the floor "
        "and weight were set by hand and en_airline.dev was looked at, so its figure below is "
        "optimistic for other tweets. A user with English data they may use trains their own model "
        "with `brandpulse train --data` and the daemon loads it like this one."
    )


def _scores(report: dict[str, Any]) -> list[str]:
    lines = [
        "| dev set | scorer | rows | accuracy | macro-F1 | in neutral band | acc. outside band |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in report["dev"].items():
        rows = [(s["scorer"], s)]
        if "before_corrections" in s:
            rows.append(("same recipe without the corrections", s["before_corrections"]))
        if "plain_vader" in s:
            rows.append(("plain VADER", s["plain_vader"]))
        for scorer, v in rows:
            lines.append(
                f"| {name} | {scorer} | {v['rows']} | {_fmt(v['accuracy'])} | {_fmt(v['macro_f1'])} | "
                f"{v.get('neutral_rows', '-')} ({_fmt(v['neutral_fraction'])}) | {_fmt(v['accuracy_outside_band'])} |"
            )
    return lines


def write_model_card(path: Path, meta: dict[str, Any], report: dict[str, Any]) -> None:
    english = meta["english"]["path"]
    rows = meta["train_rows"]
    lines = [
        f"# Sentiment model `{meta['version']}`",
        "",
        f"Created {meta['created']} by `brandpulse train` (nlp/train.py). Format `{meta['format']}`: "
        "`model.json` (parameters, calibration, scores) + `weights.npz` (float32 arrays, loaded with "
        "`allow_pickle=False`, checked against the sha256 in model.json; nothing is unpickled).",
        "",
        "## What it is",
        "",
        "- Binary polarity, P(positive) in 0..1, shown to users as three classes: `neutral` inside the band "
        f"{meta['neutral_band'][0]}..{meta['neutral_band'][1]} (the model is not confident; configurable as "
        "`nlp.neutral_band`), `negative` below it, `positive` above.",
        _features(meta["features"]),
        *_classifier(meta["classifier"], meta["calibration"]),
        f"- Training rows: {rows['files']:,} from the train files"
        + (f" + {rows['corrections']:,} from analyst corrections" if rows.get("corrections") else "")
        + (f" (sample of {meta['sample_per_set']} per set)" if meta.get("sample_per_set") else "")
        + ".",
        "- `brandpulse explain \"TEXT\"` shows the features and words that pushed a text either way "
        "(nlp/explain.py: the logit is split exactly into the share of each feature).",
        "",
        "## Language routing",
        "",
        *_ROUTING,
        _english(meta["english"]),
        "",
        "## Scores on the dev splits",
        "",
        "Binary decision at p > 0.5 over all rows; `in neutral band` = rows (share) inside the band; "
        "`acc. outside band` = accuracy on the rest (what a user sees as a confident label).",
        "",
        *_scores(report),
        "",
        "Caveats: zh_weibo labels are the author's emotion (a sad post about a pet is negative), not "
        "an opinion of a brand; none of the sets has a neutral class, so the band is the model's "
        "uncertainty, not a trained neutral label. Other product domains will score lower (see the "
        "leave-one-corpus-out column below). `python bench/sentiment.py` reproduces these figures beside "
        "SnowNLP and plain TF-IDF baselines.",
    ]
    corr = meta.get("corrections")
    if corr:
        lines += [
            "",
            "## Analyst corrections",
            "",
            f"{corr['examples']} relabelled mentions ({', '.join(f'{k} {v}' for k, v in corr['by_label'].items())}) "
            f"joined the fitted rows with weight {corr['weight']:g} each (neutral: half a positive and half a "
            "negative row). The dev rows marked \"without the corrections\" above are the same recipe fitted "
            "without them (same calibration). Agreement of the three-class label with the analysts' labels: "
            f"{_fmt(corr['agreement_before'])} before, {_fmt(corr['agreement_after'])} after (in-sample: the "
            "corrections are training rows now)."
            + (f" {corr['left_out_not_chinese']} corrections of texts without Chinese were left out: English "
               "is scored by the VADER rules, which no training row changes." if corr.get("left_out_not_chinese")
               else ""),
        ]
    if ABLATION:
        lines += ["", "## What each idea bought", "",
                  "Macro-F1 on the three Chinese train files (dev never used for choosing). cv = 5-fold "
                  "cross-fitting over all three files, balanced Platt on the out-of-fold decisions, p > 0.5 "
                  "(the shipped rule; `d > 0` = uncalibrated, `as sampled` = Platt to the corpora's class mix); "
                  "lodo = trained on the other two corpora, scored on the third: the proxy for unseen domains; "
                  "probe = 20 plain statements without opinion, mean P and how many would show as negative. "
                  "From `python bench/sentiment.py --ablation`.", "",
                  "| " + " | ".join(ABLATION_HEADER) + " |", "|---|" + "---|" * (len(ABLATION_HEADER) - 1)]
        lines += ["| " + " | ".join([label, *figures.split()]) + " |" for label, figures in ABLATION]
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
