"""The green-list watermark: keys, the null distribution, detection, the logits processors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
from trace_wm import VOCAB, sample_ids, words, write_word_tokenizer

from hegui.trace import (
    GreenList,
    WatermarkDetector,
    WatermarkError,
    WatermarkKey,
    WatermarkParams,
    load_tokenizer,
    p_value,
    z_score,
)

KEY = WatermarkKey(bytes(range(32)), WatermarkParams(gamma=0.25, delta=2.0, context_width=1))


def test_key_file_round_trip(tmp_path: Path) -> None:
    key = WatermarkKey.generate(WatermarkParams(0.5, 3.0, 2))
    path = key.write(tmp_path / "wm.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = WatermarkKey.load(path)
    assert again == key and again.key_id == key.key_id and len(key.key_id) == 16
    with pytest.raises(FileExistsError):
        key.write(path)
    data = json.loads(path.read_text())
    data["key_id"] = "0" * 16
    (tmp_path / "forged.json").write_text(json.dumps(data))
    with pytest.raises(WatermarkError, match="does not match"):
        WatermarkKey.load(tmp_path / "forged.json")
    (tmp_path / "other.json").write_text('{"kind": "something"}')
    with pytest.raises(WatermarkError, match="not a hegui watermark key"):
        WatermarkKey.load(tmp_path / "other.json")


@pytest.mark.parametrize(
    "kwargs", [{"gamma": 0.0}, {"gamma": 1.0}, {"delta": -1.0}, {"context_width": 0}]
)
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(WatermarkError):
        WatermarkParams(**kwargs)  # type: ignore[arg-type]


def test_green_share_is_gamma_and_depends_on_key_and_context() -> None:
    green = GreenList(KEY)
    masks = green.vocab_masks(green.seeds(np.arange(200).reshape(-1, 1)), 5000)
    assert abs(masks.mean() - 0.25) < 0.01
    assert not np.array_equal(masks[0], masks[1])
    other = GreenList(WatermarkKey(bytes(range(1, 33)), KEY.params))
    other_mask = other.vocab_masks(other.seeds(np.zeros((1, 1))), 5000)
    assert not np.array_equal(
        other_mask[0], green.vocab_masks(green.seeds(np.zeros((1, 1))), 5000)[0]
    )


def test_unwatermarked_text_scores_like_a_standard_normal() -> None:
    detector = WatermarkDetector(KEY)
    rng = np.random.default_rng(7)
    zs = np.array([detector.score_ids(rng.integers(0, 49152, 200)).z for _ in range(3000)])
    assert abs(zs.mean()) < 0.1 and abs(zs.std() - 1.0) < 0.1
    assert (zs >= 4.0).sum() <= 1


def test_watermarked_samples_are_detected_and_only_with_the_key() -> None:
    detector = WatermarkDetector(KEY)
    wrong = WatermarkDetector(WatermarkKey(b"another secret of 32 bytes......", KEY.params))
    for seed in range(5):
        ids = sample_ids(KEY, 200, seed)
        result = detector.score_ids(ids)
        assert result.detected and result.z > 6 and result.p_value < 1e-9
        assert not wrong.score_ids(ids).detected
        assert not detector.score_ids(sample_ids(None, 200, seed)).detected


def test_repeated_pairs_are_scored_once() -> None:
    detector = WatermarkDetector(KEY)
    ids = sample_ids(KEY, 30, 3) * 40
    result = detector.score_ids(ids)
    assert result.tokens == 1200 and result.scored <= 31
    assert result.z < 10  # 1,200 tokens all counted would give about 30


def test_result_records_the_parameters() -> None:
    result = WatermarkDetector(KEY, z_threshold=3.0).score_ids(sample_ids(KEY, 50, 1))
    record = result.to_json()
    assert {record["gamma"], record["delta"], record["context_width"]} == {0.25, 2.0, 1}
    assert record["key_id"] == KEY.key_id and record["z_threshold"] == 3.0
    assert abs(z_score(result.green, result.scored, 0.25) - result.z) < 1e-12
    assert p_value(0.0) == pytest.approx(0.5)


def test_short_or_empty_inputs() -> None:
    detector = WatermarkDetector(KEY)
    for ids in ([], [5]):
        result = detector.score_ids(ids)
        assert result.scored == 0 and result.z == 0.0 and not result.detected
    with pytest.raises(WatermarkError):
        detector.score_ids([-1, 2])
    with pytest.raises(WatermarkError, match="tokenizer"):
        detector.detect("text")


def test_wider_context_still_detects() -> None:
    key = WatermarkKey(bytes(range(32)), WatermarkParams(context_width=3))
    assert WatermarkDetector(key).score_ids(sample_ids(key, 200, 4, prompt=(1, 2, 3))).detected


def test_detection_through_a_tokenizer_file(tmp_path: Path) -> None:
    encode = load_tokenizer(str(write_word_tokenizer(tmp_path / "tokenizer.json")))
    detector = WatermarkDetector(KEY, encode)
    ids = sample_ids(KEY, 200, 9)
    assert list(encode(words(ids))) == ids
    assert detector.detect(words(ids)).detected


def test_transformers_processor_biases_green_tokens() -> None:
    torch = pytest.importorskip("torch")
    from hegui.trace import logits_processor, vllm_logits_processor

    processor = logits_processor(KEY)
    input_ids = torch.tensor([[4, 8, 15], [16, 23, 42]])
    scores = torch.zeros((2, VOCAB))
    biased = processor(input_ids, scores)
    green = GreenList(KEY)
    expected = green.vocab_masks(green.seeds(np.array([[15], [42]])), VOCAB)
    assert np.array_equal(biased.numpy() == 2.0, expected)
    assert set(np.unique(biased.numpy())) <= {0.0, 2.0}
    vllm = vllm_logits_processor(KEY)
    row = vllm([4, 8], [15], torch.zeros(VOCAB))
    assert torch.equal(row, biased[0])


def test_generation_with_a_tiny_transformers_model() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from hegui.trace import logits_processor

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    processors = transformers.LogitsProcessorList([logits_processor(KEY)])
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([[1, 2, 3]]),
            max_new_tokens=120,
            do_sample=True,
            top_k=0,
            logits_processor=processors,
            pad_token_id=0,
        )
    assert WatermarkDetector(KEY).score_ids(out[0, 3:].tolist()).detected
