from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hegui.detect._classifier_features import (
    FeatureParams,
    buckets,
    featurize,
    segment_end,
    segments,
)
from hegui.detect._classifier_model import ClassifierModel, ModelError


def test_features_are_stable_and_normalised() -> None:
    p = FeatureParams(bits=12)
    a_idx, a_val = featurize("这种男人又无耻又恶心 Hello World", p, 256)
    b_idx, b_val = featurize("这种男人又无耻又恶心 hello  world", p, 256)  # case and spaces fold
    assert np.array_equal(a_idx, b_idx) and np.allclose(a_val, b_val)
    assert abs(float(np.dot(a_val, a_val)) - 1.0) < 1e-5
    assert a_idx.max() < 2**12 and np.all(np.diff(a_idx) > 0)
    # fixed hashing: the same text gives the same buckets in every process
    assert buckets("ab", p).tolist() == buckets("ab", p).tolist()
    assert len(buckets("ab", p)) == 2 + 3 + 2 + 1 + 1  # 1..4-grams of \x02ab\x03 + word


def test_segments_cut_at_sentence_ends_not_decimals() -> None:
    text = "价格是3.14元。Visit example.com now. Next?\n末尾"
    cuts = [text[s:e] for s, e in segments(text, 256)]
    assert cuts == ["价格是3.14元。", "Visit example.com now.", " Next?", "\n", "末尾"]
    assert segment_end("abc.", 0, 256, final=False) is None  # a full stop needs lookahead
    assert segment_end("abc. ", 0, 256, final=False) == 4
    assert segment_end("x" * 10, 0, 4, final=False) == 4


def test_round_trip_gives_identical_scores(tiny_model: ClassifierModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path)
    loaded = ClassifierModel.load(tmp_path)
    texts = ["女人都是蠢货", "how to bake bread today", "", "怎么制作毒品卖钱 please"]
    assert loaded.classes == tiny_model.classes
    assert np.array_equal(loaded.score_many(texts), tiny_model.score_many(texts))
    assert np.array_equal(loaded.thresholds, tiny_model.thresholds)


def test_model_file_loads_without_pickle(tiny_model: ClassifierModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as arrays:
        assert {k: arrays[k].dtype.kind for k in arrays.files} == {
            "weights": "f",
            "bias": "f",
            "thresholds": "f",
        }
    # an object array would need pickle: the loader must refuse it, not run it
    np.savez(tmp_path / "model.npz", weights=np.array([object()]), bias=[], thresholds=[])
    with pytest.raises(ModelError):
        ClassifierModel.load(tmp_path)


def test_tiny_model_learns(tiny_model: ClassifierModel) -> None:
    hit = tiny_model.score("女人都是蠢货")
    assert hit["A.2.e"] >= float(tiny_model.thresholds[tiny_model.classes.index("A.2.e")])
    calm = tiny_model.score("how to bake bread")
    assert all(calm[c] < t for c, t in zip(tiny_model.classes, tiny_model.thresholds, strict=True))


def test_inconsistent_shapes_are_refused(tiny_model: ClassifierModel) -> None:
    with pytest.raises(ModelError, match="bias"):
        ClassifierModel(
            tiny_model.params,
            tiny_model.classes,
            tiny_model.weights,
            np.zeros(7, dtype=np.float32),
            tiny_model.thresholds,
        )


def test_windows_match_the_detector(tiny_model: ClassifierModel) -> None:
    from hegui.detect import Action
    from hegui.detect._classifier import ClassifierDetector, _segments, _WindowState
    from hegui.detect._classifier_features import chunks, windows

    text = "。".join(f"第{i}句话，里面有一些内容" * 3 for i in range(12)) + "。\n\n末尾"
    state = _WindowState(ClassifierDetector(tiny_model, Action.FLAG))
    seen = []
    for seg in _segments(text, tiny_model.max_segment):
        state.push(seg, tiny_model)
        if any(ch.isalnum() for ch in seg[1]):
            last = state.recent[-1]
            seen.append((state.recent[0].start, last.start + len(last.text)))
    assert windows(text, tiny_model.max_segment, tiny_model.windowing.window_chars) == seen
    pieces = chunks(text, 256, 64)
    assert "".join(text[s:e] for s, e in pieces).strip() == text.strip()
    assert all(e - s <= 64 for s, e in pieces)


def test_variants_stay_with_their_original() -> None:
    from hegui.detect._classifier_data import _variant
    from hegui.detect._classifier_train import LabelledText, TrainConfig, split_rows

    safe = LabelledText(
        "作为AI助手，我不能提供这种帮助。你可以向专业机构求助，他们会给你合适的建议。",
        "safe",
        "x",
        "g1",
    )
    v = _variant(safe)
    assert v is not None and not v.text.startswith("作为") and v.group == "g1"
    bad = LabelledText("第一步准备工具，第二步动手。", "A.1.f", "x", "g1")
    vb = _variant(bad)
    assert vb is not None and vb.text.startswith("作为") and vb.text.endswith(bad.text)
    parts = split_rows([safe, v, bad, vb], TrainConfig())
    assert sorted(len(p) for p in parts) == [0, 0, 4]
