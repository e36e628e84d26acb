"""The data recipe of the shipped model: public sets read by path, evaluation kept out.

Training: COLD ``train.csv``; JADE v1 (zh, en) and v2 (easy, medium) questions;
JADE v3 violating answers (harmful, with the risk of their question in v1/v2) and
safe answers (safe), plus variants of those answers with the "作为AI助手" opening
removed or added (``_variant``); the training half of XSTest (``safe`` prompts as hard
negatives, ``unsafe`` contrast prompts as harmful, ``label_map_xstest.yaml``); the
project-written ``examples*.jsonl`` files. Held out for evaluation, never trained
on: COLD ``dev.csv``; a fixed seeded 30% of JADE v3 rows (and every v1/v2 question
equal to one of their questions); a fixed seeded 50% of XSTest prompts.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hegui.detect._classifier_features import FeatureParams
from hegui.detect._classifier_model import ClassifierModel, Windowing
from hegui.detect._classifier_rows import (
    SAFE,
    SPREADSHEET_ERRORS,
    DataError,
    LabelledText,
    load_label_map,
    map_label,
    read_labelled,
    seeded_fraction,
)
from hegui.detect._classifier_train import TrainConfig, TrainReport, train

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "packs" / "cn" / "classifier"
"""Folder of the shipped model, its label maps, examples and model card."""
HOLDOUT_SEED = 45654
JADE_V3_HOLDOUT = 0.3
XSTEST_HOLDOUT = 0.5
EXAMPLES = (
    "examples.jsonl",
    "examples_hard_negatives.jsonl",
    "examples_harm.jsonl",
    "examples_bias_zh.jsonl",
    "examples_stance_zh.jsonl",
    "examples_contrast_en.jsonl",
    "examples_a5.jsonl",
    "examples_stance_more_zh.jsonl",
    "examples_xstest_kinds_en.jsonl",
    "examples_stance_round4_zh.jsonl",
    "examples_xstest_kinds_more_en.jsonl",
)
"""Project-written rows (columns ``text``, ``risk``), one source each."""


@dataclass
class ShippedCorpus:
    """Training rows and the held-out evaluation sets of the shipped model."""

    train: list[LabelledText]
    heldout: dict[str, list[LabelledText]] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"missing data file {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def jade_v3_heldout(row_id: str) -> bool:
    """Whether JADE v3 row ``row_id`` belongs to the evaluation part."""
    return seeded_fraction(f"jade-v3:{row_id}", HOLDOUT_SEED) < JADE_V3_HOLDOUT


def xstest_heldout(row_id: str) -> bool:
    """Whether XSTest prompt ``row_id`` belongs to the evaluation part."""
    return seeded_fraction(f"xstest:{row_id}", HOLDOUT_SEED) < XSTEST_HOLDOUT


def shipped_corpus(data_dir: str | Path, examples: Sequence[Path] | None = None) -> ShippedCorpus:
    """Read the public sets under ``data_dir`` and the examples into train / held-out.

    Raises:
        DataError: a file is missing or a label has no mapping.
    """
    root = Path(data_dir)
    jade_map = load_label_map(SHIPPED_DIR / "label_map_jade.yaml")
    corpus = ShippedCorpus(train=[])

    def add(source: str, rows: list[LabelledText]) -> None:
        corpus.train.extend(rows)
        corpus.sources[source] = len(rows)

    add(
        "cold/train.csv",
        read_labelled(
            root / "cold" / "train.csv",
            "TEXT",
            "topic,label",
            load_label_map(SHIPPED_DIR / "label_map_cold.yaml"),
        ),
    )
    jade_risk: dict[str, str] = {}
    jade_rows: list[tuple[str, str]] = []
    for name in ("v1_zh.csv", "v1_en.csv", "v2_easy_zh.csv", "v2_medium_zh.csv"):
        for row in _csv(root / "jade" / name):
            question = row["问题"].strip()
            risk = map_label(f"{row['违规类型']}/{row['违规子类']}", jade_map)
            if not question or risk is None:
                raise DataError(f"jade/{name}: row {row.get('ID')} has no question or risk")
            jade_risk.setdefault(question, risk)
            jade_rows.append((question, risk))
    v3 = _csv(root / "jade" / "v3_alignment_medium_zh.csv")
    held_questions = {r["问题"].strip() for r in v3 if jade_v3_heldout(r["ID"])}
    add(
        "jade v1/v2 questions",
        [LabelledText(q, r, "jade") for q, r in dict(jade_rows).items() if q not in held_questions],
    )
    v3_train: list[LabelledText] = []
    variants: list[LabelledText] = []
    bad, good = [], []
    for row in v3:
        question = row["问题"].strip()
        risk = jade_risk.get(question, "A.1.h")
        violating = LabelledText(row["违规回答"].strip(), risk, "jade-v3", f"v3:{row['ID']}")
        safe = LabelledText(row["安全有用回答"].strip(), SAFE, "jade-v3", f"v3:{row['ID']}")
        pair = [i for i in (violating, safe) if i.text and i.text not in SPREADSHEET_ERRORS]
        if jade_v3_heldout(row["ID"]):
            bad += [i for i in pair if i.risk != SAFE]
            good += [i for i in pair if i.risk == SAFE]
        else:
            v3_train += pair
            variants += [v for i in pair if (v := _variant(i)) is not None]
    add("jade v3 answers", v3_train)
    add("jade v3 answer variants (opening changed)", variants)
    corpus.heldout["jade_v3_violating"] = bad
    corpus.heldout["jade_v3_safe"] = good
    xs_train, corpus.heldout["xstest_safe"], corpus.heldout["xstest_unsafe"] = _xstest(root)
    add("xstest training half (safe and unsafe prompts)", xs_train)
    for path in examples if examples is not None else [SHIPPED_DIR / n for n in EXAMPLES]:
        add(path.name, read_labelled(path, "text", "risk"))
    corpus.heldout["cold_dev"] = read_labelled(
        root / "cold" / "dev.csv",
        "TEXT",
        "topic,label",
        load_label_map(SHIPPED_DIR / "label_map_cold.yaml"),
    )
    # one row per text: the first label wins (duplicates across sets would weigh double);
    # a text also in an evaluation set is dropped (COLD train and dev share a few)
    seen: set[str] = {i.text for rows in corpus.heldout.values() for i in rows}
    before = len(corpus.train)
    unique: list[LabelledText] = []
    for item in corpus.train:
        if item.text not in seen:
            seen.add(item.text)
            unique.append(item)
    corpus.train = unique
    corpus.sources["removed: duplicates and evaluation texts"] = before - len(unique)
    return corpus


_OPENING = re.compile(
    r"^[^。！？!?\n]*(?:作为|我是)[^。！？!?\n]{0,12}(?:助手|AI|人工智能|模型)[^。！？!?\n]*[。！？!?\n]\s*"
)
_DISCLAIMERS = (
    "作为AI助手，我必须提醒你这样做有风险，不过既然你问了，下面是具体做法。",
    "作为一个人工智能模型，我通常不鼓励这种行为，但可以告诉你大致思路。",
    "作为AI助手，我理解你的需求，以下内容仅供参考。",
    "作为智能助手，我不能保证这样做合法，但可以按你的要求回答。",
)


def _variant(item: LabelledText) -> LabelledText | None:
    """A training variant that breaks the "作为AI助手" opening as a safe signal.

    A safe answer that opens with it loses the opening sentence; a violating answer
    gains such an opening (one of a few written for hegui, chosen by a seeded hash), as
    a jailbroken answer would. The variant stays in its original's split part.
    """
    if item.risk == SAFE:
        rest = _OPENING.sub("", item.text, count=1).strip()
        if rest == item.text or len(rest) < 20:
            return None
        return LabelledText(rest, SAFE, item.source, item.group)
    pick = int(seeded_fraction(item.text, HOLDOUT_SEED) * len(_DISCLAIMERS))
    return LabelledText(_DISCLAIMERS[pick] + item.text, item.risk, item.source, item.group)


def _xstest(root: Path) -> tuple[list[LabelledText], list[LabelledText], list[LabelledText]]:
    """XSTest: the training half (both labels), and held-out safe and unsafe prompts."""
    risk_map = load_label_map(SHIPPED_DIR / "label_map_xstest.yaml")
    train: list[LabelledText] = []
    safe: list[LabelledText] = []
    unsafe: list[LabelledText] = []
    for row in _csv(root / "xstest" / "xstest_prompts.csv"):
        is_safe = row["label"].strip() == "safe"
        text = row["prompt"].strip()
        if xstest_heldout(row["id"]):
            # held out: the label only says whether it is harmful
            (safe if is_safe else unsafe).append(
                LabelledText(text, SAFE if is_safe else "unsafe", "xstest")
            )
            continue
        risk = SAFE if is_safe else map_label(f"{row['type']}/{row['focus']}", risk_map)
        if risk is None:
            raise DataError(f"xstest: prompt {row['id']} has no risk in label_map_xstest.yaml")
        train.append(LabelledText(text, risk, "xstest"))
    return train, safe, unsafe


STANCE_WEIGHT = 20.0
"""Fitting weight of the project-written Chinese stance rows (anti-bias quoting,
sarcasm, reclaimed and reported language against their offensive look-alikes): about
700 rows beside COLD's 25,000, whose labels lean the other way on anti-bias words."""

SHIPPED_CONFIG = TrainConfig(
    features=FeatureParams(bits=17, window_sum=True, quote_tag=True, stance_cues=3),
    windowing=Windowing(min_segment=32),
    false_alarm_limits={
        "xstest": 0.04,
        "examples_contrast_en.jsonl": 0.04,
        "examples_xstest_kinds_en.jsonl": 0.04,
        "examples_xstest_kinds_more_en.jsonl": 0.04,
        "jade-v3": 0.07,
    },
    source_weights={
        "examples_bias_zh.jsonl": STANCE_WEIGHT,
        "examples_stance_zh.jsonl": STANCE_WEIGHT,
        "examples_stance_more_zh.jsonl": STANCE_WEIGHT,
        "examples_stance_round4_zh.jsonl": STANCE_WEIGHT,
    },
)
"""Training settings of the shipped model (``hegui classifier train --recipe cn``).

Windows sum their segments and sentences under 32 characters join the next, so a
long answer costs time in proportion to its length. Character n-grams inside
quotation marks count a second time under a quoted tag, and stance cues
(``_classifier_cues``) three times in buckets of their own. The shift of the
thresholds of English text may flag at most 4% of the safe prompts of each English
hard-negative source, out of fold (the XSTest training half, the English contrasts
and the XSTest-kind rows; the other XSTest half is only evaluated), and the shift of
the others at most 7% of the JADE v3 training rows' safe answers (goals 5% and 10%
on their held-out parts, each bound kept a margin below its goal). The cues and the
weight of the stance rows were chosen by leaving one stance file out of training and
scoring it (see the model card), never on the hard Chinese evaluation set."""


def train_shipped(
    data_dir: str | Path, parents: Mapping[str, str | None], command: str
) -> tuple[ClassifierModel, TrainReport, ShippedCorpus]:
    """Train the shipped model's recipe on the public sets under ``data_dir``.

    The model's metadata records ``command``, the rows read from each source and the
    size of each held-out evaluation set.

    Raises:
        DataError: a file is missing or a label has no mapping.
    """
    corpus = shipped_corpus(data_dir)
    info = {
        "command": command,
        "data": corpus.sources,
        "heldout": {k: len(v) for k, v in corpus.heldout.items()},
    }
    model, report = train(corpus.train, parents, SHIPPED_CONFIG, info)
    return model, report, corpus
