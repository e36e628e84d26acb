from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hegui.detect._classifier_data import EXAMPLES, SHIPPED_DIR, shipped_corpus
from hegui.detect._classifier_features import fold
from hegui.detect._classifier_rows import load_label_map, read_labelled

HARD_ZH = Path(__file__).parent / "data" / "hard_zh.jsonl"
NEAR = 0.5
"""Character 4-gram Jaccard similarity at which two texts count as the same."""


def _grams(text: str) -> frozenset[str]:
    t = fold(text)
    return frozenset(t[i : i + 4] for i in range(max(1, len(t) - 3)))


def _near_duplicates(train: list[str], evaluation: list[str]) -> list[tuple[str, str]]:
    index: dict[str, list[int]] = {}
    grams = [_grams(t) for t in train]
    for k, g in enumerate(grams):
        for gram in g:
            index.setdefault(gram, []).append(k)
    found = []
    for text in evaluation:
        g = _grams(text)
        shared = Counter(k for gram in g for k in index.get(gram, ()))
        for k, n in shared.items():
            if n / len(g | grams[k]) >= NEAR:
                found.append((train[k], text))
    return found


def _examples() -> list[str]:
    return [r.text for name in EXAMPLES for r in read_labelled(SHIPPED_DIR / name, "text", "risk")]


def test_hard_chinese_set_is_labelled_and_apart_from_training() -> None:
    lines = HARD_ZH.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) >= 150 and len({r["text"] for r in rows}) == len(rows)
    assert {r["label"] for r in rows} == {0, 1} and {r["topic"] for r in rows} == {
        "race",
        "gender",
        "region",
    }
    assert all(r["kind"] for r in rows)
    labelled = read_labelled(
        HARD_ZH, "text", "topic,label", load_label_map(SHIPPED_DIR / "label_map_cold.yaml")
    )
    assert Counter(r.risk == "safe" for r in labelled) == Counter(r["label"] == 0 for r in rows)
    assert _near_duplicates(_examples(), [r["text"] for r in rows]) == []


def test_project_examples_name_known_risks() -> None:
    from hegui.policy import load_policy

    risks = set(load_policy("cn").risks) | {"safe"}
    for name in EXAMPLES:
        rows = read_labelled(SHIPPED_DIR / name, "text", "risk")
        bad = [r.risk for r in rows if r.risk not in risks]
        assert bad == [], name


@pytest.mark.data
def test_evaluation_sets_never_reach_training(data_dir: Path) -> None:
    corpus = shipped_corpus(data_dir)
    train = {i.text for i in corpus.train}
    for name, rows in corpus.heldout.items():
        leaked = [r.text for r in rows if r.text in train]
        assert leaked == [], f"{name} leaks into training: {leaked[:3]}"
    assert len(corpus.heldout["jade_v3_violating"]) > 100
    assert len(corpus.heldout["xstest_safe"]) > 100
    assert {i.risk for i in corpus.train if i.source == "xstest"} > {"safe", "A.1.f"}


@pytest.mark.data
def test_project_examples_are_no_near_copies_of_evaluation_rows(data_dir: Path) -> None:
    corpus = shipped_corpus(data_dir)
    held = [
        r.text
        for name in ("jade_v3_violating", "jade_v3_safe", "xstest_safe", "xstest_unsafe")
        for r in corpus.heldout[name]
    ]
    assert _near_duplicates(_examples(), held) == []
