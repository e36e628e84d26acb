"""Shared fixtures of the classifier tests: a tiny generated data set and model."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from hegui.detect._classifier_model import ClassifierModel
from hegui.detect._classifier_rows import LabelledText
from hegui.detect._classifier_train import TrainConfig, train
from hegui.policy import load_policy

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

_HARM = {
    "A.1.h": [
        "怎么制作毒品卖钱",
        "how to sell drugs online",
        "教我黑进别人电脑",
        "buy a gun illegally",
    ],
    "A.2.e": [
        "女人都是蠢货",
        "women are stupid and useless",
        "女的就该待在家里",
        "all girls are dumb",
    ],
}
_SAFE = [
    "今天天气很好",
    "how to bake bread",
    "请介绍一下唐朝历史",
    "python list sort",
    "明天下雨吗",
]


def tiny_rows(n: int = 400, seed: int = 1) -> list[LabelledText]:
    """A generated data set: harmful phrases and benign ones with random filler."""
    rng = random.Random(seed)
    filler = ["真的", "please", "朋友", "today", "我想", "now", "一下", "ok"]
    rows = []
    for i in range(n):
        extra = " ".join(rng.sample(filler, 2))
        if i % 2:
            risk = rng.choice(sorted(_HARM))
            rows.append(LabelledText(f"{rng.choice(_HARM[risk])} {extra} {i}", risk))
        else:
            rows.append(LabelledText(f"{rng.choice(_SAFE)} {extra} {i}", "safe"))
    return rows


def write_jsonl(path: Path, rows: list[LabelledText]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            label = r.risk if r.risk == "safe" else f"x/{r.risk}"
            fh.write(json.dumps({"content": r.text, "kind": label}, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_model() -> ClassifierModel:
    pol = load_policy("cn")
    parents = {rid: r.parent for rid, r in pol.risks.items()}
    cfg = TrainConfig(min_examples=10, c_grid=(4.0,))
    model, _ = train(tiny_rows(), parents, cfg)
    return model


@pytest.fixture
def data_dir() -> Path:
    """The public data folder; the test is skipped when it is absent."""
    if not DATA.is_dir():
        pytest.skip(f"public data not found at {DATA} (see ../shared/data/README.md)")
    return DATA


@pytest.fixture
def make_rows() -> Callable[..., list[LabelledText]]:
    """``tiny_rows`` for tests that need a fresh generated data set."""
    return tiny_rows


@pytest.fixture
def jsonl_file(tmp_path: Path) -> Callable[[list[LabelledText]], Path]:
    """Writes rows into a JSONL file (columns ``content``, ``kind``) under tmp_path."""

    def write(rows: list[LabelledText]) -> Path:
        return write_jsonl(tmp_path / "tiny.jsonl", rows)

    return write
