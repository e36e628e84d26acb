"""The green-list watermark: keys, the null distribution, detection, the logits processors."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trace_wm import VOCAB, sample_ids, words, write_word_tokenizer

from hegui.trace import (
    DEFAULT_FPR,
    GREEDY_DELTA,
    GreenList,
    WatermarkDetector,
    WatermarkError,
    WatermarkKey,
    WatermarkParams,
    binomial_p_values,
    load_tokenizer,
    p_value,
    z_score,
)

KEY = WatermarkKey(
    bytes(range(32)), WatermarkParams(gamma=0.25, delta=2.0, context_width=1, greedy_delta=5.0)
)


def test_key_file_round_trip(tmp_path: Path) -> None:
    key = WatermarkKey.generate(WatermarkParams(0.5, 3.0, 2, greedy_delta=6.5))
    path = key.write(tmp_path / "wm.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = WatermarkKey.load(path)
    assert again == key and again.key_id == key.key_id and len(key.key_id) == 16
    assert again.params.greedy_delta == 6.5
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


def test_key_files_without_a_greedy_delta_keep_one_delta(tmp_path: Path) -> None:
    data = WatermarkKey(bytes(range(32)), WatermarkParams(delta=3.0)).to_json()
    del data["greedy_delta"]  # written before the greedy default existed
    (tmp_path / "old.json").write_text(json.dumps(data))
    params = WatermarkKey.load(tmp_path / "old.json").params
    assert params.delta == params.greedy_delta == 3.0
    assert WatermarkParams().greedy_delta == GREEDY_DELTA > WatermarkParams().delta


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gamma": 0.0},
        {"gamma": 1.0},
        {"delta": -1.0},
        {"greedy_delta": -0.5},
        {"greedy_delta": 101.0},
        {"context_width": 0},
    ],
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


def _expected_rate(scored: np.ndarray, least_green: np.ndarray, gamma: float) -> float:
    """Mean exact chance, over rows, of at least ``least_green`` green pairs."""
    return float(np.mean(binomial_p_values(least_green, scored, gamma)))


def test_unwatermarked_scores_are_calibrated_on_a_large_sample() -> None:
    detector = WatermarkDetector(KEY)
    rows = np.random.default_rng(7).integers(0, 49152, (40_000, 200))
    scored, green = detector.green_counts(rows)
    z = (green - 0.25 * scored) / np.sqrt(scored * 0.25 * 0.75)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02
    for threshold in (2.0, 3.0):
        least = np.ceil(0.25 * scored + threshold * np.sqrt(scored * 0.1875) - 1e-9)
        exact = _expected_rate(scored, least.astype(np.int64), 0.25)
        observed = float(np.mean(z >= threshold))
        # binomial sampling error of the observed rate over 40,000 rows, four times over
        assert abs(observed - exact) < 4 * math.sqrt(exact / 40_000), (threshold, observed)
    # the skewed binomial puts more above z = 2 than the normal tail (0.0228) says: this is
    # why detection uses the exact p-value
    assert float(np.mean(z >= 2.0)) > p_value(2.0) + 4 * math.sqrt(p_value(2.0) / 40_000)


def test_exact_p_values_hold_their_level_on_repetitive_text() -> None:
    """Few distinct tokens, many repeats: distinct pairs keep the p-value exact over keys.

    Rows that share their pairs share one key's luck, so the level holds over keys (as
    the bench measures it): here each key scores 50 rows.
    """
    rng = np.random.default_rng(11)
    weights = 1.0 / np.arange(1, 41)
    rows = rng.choice(40, size=(20_000, 200), p=weights / weights.sum())
    counts = [
        WatermarkDetector(WatermarkKey(rng.bytes(32), KEY.params)).green_counts(part)
        for part in np.split(rows, 400)
    ]
    scored = np.concatenate([c[0] for c in counts])
    green = np.concatenate([c[1] for c in counts])
    assert scored.max() < 190 and scored.min() > 50  # repeats were dropped, variably
    p = binomial_p_values(green, scored, 0.25)
    for level in (0.05, 0.01):
        least = np.zeros_like(scored)
        for n in np.unique(scored):  # the least green count at this level, per scored count
            least[scored == n] = np.argmax(binomial_p_values(np.arange(n + 2), n, 0.25) <= level)
        exact = _expected_rate(scored, least, 0.25)  # below level: the binomial is discrete
        rate = float(np.mean(p <= level))
        assert exact <= level and abs(rate - exact) < 4 * math.sqrt(exact / 20_000), (
            level,
            rate,
            exact,
        )
    detector = WatermarkDetector(KEY, fpr=0.01)
    scored, green = detector.green_counts(rows[:300])
    results = [detector.score_ids(row) for row in rows[:300]]
    assert [r.detected for r in results] == [r.p_value <= 0.01 for r in results]
    assert [(r.scored, r.green) for r in results] == list(
        zip(scored.tolist(), green.tolist(), strict=True)
    )


def test_binomial_p_values_are_exact() -> None:
    def tail(k: int, n: int, g: float) -> float:
        return sum(math.comb(n, j) * g**j * (1 - g) ** (n - j) for j in range(k, n + 1))

    for k, n in [(0, 10), (1, 10), (5, 10), (10, 10), (11, 10), (73, 199), (130, 199)]:
        expected = tail(k, n, 0.25) if k <= n else 0.0
        assert float(binomial_p_values(k, n, 0.25)) == pytest.approx(expected, rel=1e-9, abs=0)
    assert float(binomial_p_values(0, 0, 0.25)) == 1.0
    # 199 scored pairs: the normal tail at z = 3.719 is 1e-4, the exact one 1.7e-4
    assert float(binomial_p_values(73, 199, 0.25)) == pytest.approx(1.691e-4, rel=1e-3)


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
    result = WatermarkDetector(KEY, fpr=1e-3).score_ids(sample_ids(KEY, 50, 1))
    record = result.to_json()
    assert (record["gamma"], record["delta"], record["greedy_delta"]) == (0.25, 2.0, 5.0)
    assert record["context_width"] == 1 and record["fpr"] == 1e-3
    assert record["key_id"] == KEY.key_id
    assert abs(z_score(result.green, result.scored, 0.25) - result.z) < 1e-12
    assert result.p_value == float(binomial_p_values(result.green, result.scored, 0.25))
    assert p_value(0.0) == pytest.approx(0.5)
    assert WatermarkDetector(KEY).fpr == DEFAULT_FPR == 1e-4
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(WatermarkError, match="fpr"):
            WatermarkDetector(KEY, fpr=bad)


def test_short_or_empty_inputs() -> None:
    detector = WatermarkDetector(KEY)
    for ids in ([], [5]):
        result = detector.score_ids(ids)
        assert result.scored == 0 and result.z == 0.0 and not result.detected
    with pytest.raises(WatermarkError):
        detector.score_ids([-1, 2])
    with pytest.raises(WatermarkError, match="tokenizer"):
        detector.detect("text")
    with pytest.raises(WatermarkError, match="2-D"):
        detector.green_counts(np.arange(10))
    scored, green = detector.green_counts(np.zeros((3, 1), dtype=np.int64))
    assert scored.tolist() == green.tolist() == [0, 0, 0]


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
    greedy = logits_processor(KEY, greedy=True)(input_ids, torch.zeros((2, VOCAB)))
    assert np.array_equal(greedy.numpy() == 5.0, expected)  # the key's greedy_delta
    assert set(np.unique(greedy.numpy())) <= {0.0, 5.0}
    greedy_row = vllm_logits_processor(KEY, greedy=True)([4, 8], [15], torch.zeros(VOCAB))
    assert torch.equal(greedy_row, greedy[0])


def _tiny_llama(seed: int) -> Any:
    """A one-layer Llama over the test vocabulary, random weights from ``seed``."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    return transformers.LlamaForCausalLM(config).eval()


def test_generation_with_a_tiny_transformers_model() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from hegui.trace import logits_processor

    model = _tiny_llama(seed=0)
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


def test_greedy_generation_uses_the_greedy_delta() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from hegui.trace import logits_processor

    key = WatermarkKey(bytes(range(32)), WatermarkParams(delta=0.0, greedy_delta=5.0))
    model = _tiny_llama(seed=1)
    detector = WatermarkDetector(key)
    scores = {}
    for greedy in (True, False):
        processors = transformers.LogitsProcessorList([logits_processor(key, greedy=greedy)])
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([[1, 2, 3]]),
                max_new_tokens=120,
                do_sample=False,
                logits_processor=processors,
                pad_token_id=0,
            )
        scores[greedy] = detector.score_ids(out[0, 3:].tolist())
    assert scores[True].detected, scores[True]
    assert not scores[False].detected  # delta 0: the plain greedy answer


def test_a_wider_context_keeps_one_key_calibrated_on_a_shared_vocabulary() -> None:
    """Texts that share frequent pairs move together under one key at width 1, not at 4."""
    rng = np.random.default_rng(5)
    weights = 1.0 / np.arange(1, 3001)
    rows = rng.choice(3000, size=(1000, 200), p=weights / weights.sum())
    spread = {}
    for width in (1, 4):
        means = []
        for _ in range(12):
            key = WatermarkKey(rng.bytes(32), WatermarkParams(context_width=width))
            scored, green = WatermarkDetector(key).green_counts(rows)
            means.append(float(np.mean((green - 0.25 * scored) / np.sqrt(scored * 0.1875))))
        spread[width] = float(np.std(means))
    assert spread[1] > 3 * spread[4], spread
    assert WatermarkParams().context_width == 4
