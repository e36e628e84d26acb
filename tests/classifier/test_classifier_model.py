from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hegui.detect._classifier_features import (
    FeatureParams,
    buckets,
    counts,
    featurize,
    is_latin,
    script_counts,
    segment_end,
    segments,
)
from hegui.detect._classifier_model import ClassifierModel, ModelError
from hegui.detect._classifier_rows import LabelledText
from hegui.detect._classifier_train import TrainConfig


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
            "thresholds_latin": "f",
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
    from hegui.detect._classifier import ClassifierDetector, _WindowState
    from hegui.detect._classifier_features import chunks, windows

    text = "。".join(f"第{i}句话，里面有一些内容" * 3 for i in range(12)) + "。\n\n末尾"
    state = _WindowState(ClassifierDetector(tiny_model, Action.FLAG))
    seen = []
    for s, e in tiny_model.segments(text):
        state.push([(s, text[s:e])], tiny_model)
        if any(ch.isalnum() for ch in text[s:e]):
            last = state.recent[-1]
            seen.append((state.recent[0].start, last.start + len(last.text)))
    win = tiny_model.windowing
    assert windows(text, win.max_segment, win.window_chars, win.min_segment) == seen
    pieces = chunks(text, 256, 64)
    assert "".join(text[s:e] for s, e in pieces).strip() == text.strip()
    assert all(e - s <= 64 for s, e in pieces)


def test_variants_stay_with_their_original() -> None:
    from hegui.detect._classifier_data import _variant
    from hegui.detect._classifier_rows import LabelledText
    from hegui.detect._classifier_train import split_rows

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


def test_short_sentences_join_the_next_segment_up_to_min_segment() -> None:
    text = "好的。可以。我们明天上午九点在公司门口见面吧。谢谢！"
    cuts = [text[s:e] for s, e in segments(text, 256, 8)]
    assert cuts == ["好的。可以。我们明天上午九点在公司门口见面吧。", "谢谢！"]
    assert "".join(cuts) == text
    assert segment_end("好的。可以。", 0, 256, final=False, min_len=8) is None  # may still grow
    assert segment_end("好的。可以。我们明天见。", 0, 256, final=False, min_len=8) == 12


def test_summed_windows_are_the_sum_of_their_segments() -> None:
    p = FeatureParams(bits=12, window_sum=True)
    text = "第一句话。第二句话有点长。Third one here."
    idx, val = featurize(text, p, 256)
    parts = [counts(buckets(text[s:e], p)) for s, e in segments(text, 256)]
    dense = np.zeros(2**12)
    for i, v in parts:
        np.add.at(dense, i, v)
    norm = np.sqrt(sum(float(np.dot(v, v)) for _, v in parts))
    assert np.allclose(dense[idx], val * norm, atol=1e-5)
    assert np.count_nonzero(dense) == len(idx)
    # one segment: the same vector as the whole-window map
    one_idx, one_val = featurize("只有一句话", p, 256)
    plain = featurize("只有一句话", FeatureParams(bits=12), 256)
    assert np.array_equal(one_idx, plain[0]) and np.allclose(one_val, plain[1])


def test_latin_script_text_uses_its_own_thresholds(tiny_model: ClassifierModel) -> None:
    assert is_latin(*script_counts("How do I kill a Python process?"))
    assert not is_latin(*script_counts("用Python写一个读取CSV文件的例子"))
    latin = tiny_model.thresholds + 0.05
    model = ClassifierModel(
        tiny_model.params,
        tiny_model.classes,
        tiny_model.weights,
        tiny_model.bias,
        tiny_model.thresholds,
        tiny_model.windowing,
        thresholds_latin=latin,
    )
    assert np.array_equal(model.limits("women are stupid"), latin)
    assert np.array_equal(model.limits("女人都是蠢货"), tiny_model.thresholds)


def test_a_model_saved_without_latin_thresholds_still_loads(
    tiny_model: ClassifierModel, tmp_path: Path
) -> None:
    tiny_model.save(tmp_path)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as arrays:
        kept = {k: arrays[k] for k in ("weights", "bias", "thresholds")}
    np.savez(tmp_path / "model.npz", **kept)
    loaded = ClassifierModel.load(tmp_path)
    assert np.array_equal(loaded.limits("plain English text"), loaded.thresholds)


def test_summed_model_scores_a_stream_like_its_whole_text(
    tmp_path: Path, make_rows: Callable[..., list[LabelledText]]
) -> None:

    from hegui.detect import Action, Scanner
    from hegui.detect._classifier import ClassifierDetector
    from hegui.detect._classifier_model import Windowing
    from hegui.detect._classifier_train import train
    from hegui.policy import load_policy

    parents = {rid: r.parent for rid, r in load_policy("cn").risks.items()}
    cfg = TrainConfig(
        features=FeatureParams(bits=14, window_sum=True),
        windowing=Windowing(window_chars=12, min_segment=6),
        min_examples=10,
        c_grid=(4.0,),
        folds=3,
    )
    model, report = train(make_rows(300, seed=5), parents, cfg)
    assert set(report.calibration_by_source) == {""} and report.rows["calibration"] > 0
    model.save(tmp_path)
    model = ClassifierModel.load(tmp_path)
    assert model.params.window_sum and model.windowing.min_segment == 6
    det = ClassifierDetector(model, Action.FLAG)
    text = "今天天气很好。好的。女人都是蠢货！how to bake bread. 明天下雨吗？怎么制作毒品卖钱"
    whole = [f.to_dict() for f in det.scan(text)]
    assert {f["risk"] for f in whole} == {"A.1.h", "A.2.e"}
    stream = Scanner([det]).stream()
    for k in range(0, len(text), 3):
        stream.feed(text[k : k + 3])
    stream.close()
    assert [f.to_dict() for f in stream.findings] == whole
    # the last window alone is scored like the same text as a whole
    last = det.scan(text)[-1]
    probs = model.text_probabilities(last.matched)
    assert float(last.details["score"]) == pytest.approx(
        float(probs[model.classes.index(last.risk)]), abs=0.006
    )


def test_quoted_ngrams_count_twice_only_with_quote_tag() -> None:
    plain, tagged = FeatureParams(bits=16), FeatureParams(bits=16, quote_tag=True)
    text = "别再说“外地人”了"
    extra = len(buckets(text, tagged)) - len(buckets(text, plain))
    # “外地人 has 4 characters inside the quotes: 4 + 3 + 2 + 1 n-grams of up to 4
    assert extra == 10
    unquoted = "别再说外地人了"
    assert buckets(unquoted, tagged).tolist() == buckets(unquoted, plain).tolist()
    # ASCII quotes open and close in turn; an unclosed mark quotes the rest
    assert len(buckets('say "ab" c', tagged)) - len(buckets('say "ab" c', plain)) == 6
    assert len(buckets("“ab", tagged)) - len(buckets("“ab", plain)) == 6
    # the quoted copies live in their own buckets
    assert set(buckets(text, tagged).tolist()) > set(buckets(text, plain).tolist())


def test_quote_tag_is_stored_and_old_models_read_without_it(
    tiny_model: ClassifierModel, tmp_path: Path
) -> None:
    import json

    tiny_model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert meta["features"]["quote_tag"] is False
    del meta["features"]["quote_tag"]  # a model saved before the option existed
    (tmp_path / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    assert ClassifierModel.load(tmp_path).params == tiny_model.params


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("别再叫人“蛮子”了，这种说法就是歧视。", {"refuse_speech", "quote+reject"}),
        ("有人说那里的人都是骗子，我不同意。", {"reported_voice", "disagree", "report+reject"}),
        ("不是所有东北人都爱打架", {"denied_general", "group_general", "general+denied"}),
        ("我不是地域黑，但是他们确实小气", {"disclaimer"}),
        ("老话说得好，这话一点没错", {"approving_frame"}),
        ("呵呵，不愧是你", {"sarcasm"}),
    ],
)
def test_stance_cues_name_the_framing(text: str, expected: set[str]) -> None:
    from hegui.detect._classifier_cues import CUES, cue_names
    from hegui.detect._classifier_features import fold

    found = set(cue_names(fold(text)))
    assert expected <= found <= set(CUES)


def test_stance_cues_add_their_own_buckets_only_when_asked() -> None:
    plain, cued = FeatureParams(bits=16), FeatureParams(bits=16, stance_cues=2)
    text = "别再说外地人都是骗子了"
    extra = len(buckets(text, cued)) - len(buckets(text, plain))
    assert extra > 0 and extra % 2 == 0  # each cue counts twice
    assert buckets(text, plain).tolist() == buckets(text, cued).tolist()[:-extra]
    assert buckets("今天天气不错", cued).tolist() == buckets("今天天气不错", plain).tolist()


def test_stance_cues_are_stored_and_old_models_read_without_them(
    tiny_model: ClassifierModel, tmp_path: Path
) -> None:
    import json

    tiny_model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert meta["features"]["stance_cues"] == 0
    del meta["features"]["stance_cues"]  # a model saved before the option existed
    (tmp_path / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    assert ClassifierModel.load(tmp_path).params == tiny_model.params


@pytest.mark.parametrize(
    "params",
    [
        FeatureParams(bits=17, window_sum=True, quote_tag=True, stance_cues=3),
        FeatureParams(bits=12),
        FeatureParams(bits=12, char_min=2, char_max=3, word_max=3, quote_tag=True, stance_cues=2),
    ],
)
def test_segments_hashed_together_give_each_segment_its_own_buckets(
    params: FeatureParams,
) -> None:
    from hegui.detect._classifier_features import buckets_many

    texts = [
        "别再叫人“X”了。不是所有人都这样！",
        'say "ab" c. And "unclosed',
        "「引号」里外“未闭合\n第二段“又一个”。",
        "",
        " ",
        "a",
        "How do I kill a Python process? Use kill -9.",
        "一" * 300,
    ]
    for text in texts:
        segs = [text[s:e] for s, e in segments(text, 256)] or [text]
        assert len(segs) > 1 or len(text) < 12  # the joined path, not the one-segment one
        ids, owner = buckets_many(segs, params)
        for k, seg in enumerate(segs):
            assert sorted(ids[owner == k].tolist()) == sorted(buckets(seg, params).tolist())


def test_parts_of_many_segments_match_one_at_a_time(
    tiny_model: ClassifierModel,
) -> None:
    segs = ["How do I kill a Python process?", "用Python写一个例子。", "", "别叫人“X”。"]
    totals, squares = tiny_model.parts(segs)
    for k, seg in enumerate(segs):
        one, sq = tiny_model.part(buckets(seg, tiny_model.params))
        alone, sq_alone = tiny_model.parts([seg])
        # the same to the bit, alone or with others: a stream and a whole text agree
        assert totals[k].tolist() == one.tolist() == alone[0].tolist()
        assert squares[k] == sq == sq_alone[0]


def test_verdict_and_sarcasm_cues_checked_by_hand_keep_their_meaning() -> None:
    from hegui.detect._classifier_cues import cue_names

    assert "verdict" in cue_names("这是歧视")
    assert "verdict" not in cue_names("这不是歧视")
    assert "verdict" not in cue_names("并非是偏见")
    assert "verdict" in cue_names("这不就是歧视吗")  # 是歧视 after 就
    assert "verdict" in cue_names("不是歧视,是偏见")  # the second one counts
    for marks in ("真的吗??", "好!!!", "嗯🙄"):
        assert "sarcasm" in cue_names(marks)
    assert "sarcasm" not in cue_names("真的吗?好!")
