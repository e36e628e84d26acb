from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hegui.detect._classifier_calibrate import best_threshold, by_source, joint_shift, shifted


def _rows() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], list[str]]:
    # one class; a big mixed source and a small source of hard negatives scoring high
    big = np.array([0.9] * 40 + [0.6] * 10 + [0.4] * 10 + [0.1] * 40, dtype=np.float32)
    hard = np.array([0.7] * 8 + [0.2] * 12, dtype=np.float32)
    probs = np.concatenate([big, hard])[:, None]
    truth = np.array([True] * 50 + [False] * 50 + [False] * 20)
    return probs, truth, ["big"] * 100 + ["hard"] * 20


def test_best_threshold_separates_the_calibration_rows() -> None:
    probs = np.array([0.9, 0.8, 0.3, 0.2], dtype=np.float32)
    truth = np.array([True, True, False, False])
    assert 0.3 < best_threshold(probs, truth, 0.1) < 0.8
    assert best_threshold(probs, truth, 0.95) == 0.95  # never below the floor
    assert best_threshold(probs, np.zeros(4, dtype=np.bool_), 0.3) == 0.5


def test_every_source_weighs_the_same_in_the_joint_shift() -> None:
    probs, truth, sources = _rows()
    base = np.array([0.5], dtype=np.float32)
    shift = joint_shift(probs, truth, sources, base)
    flagged = probs[:, 0] >= shifted(base, shift, 0.0)[0]
    # the 20 hard negatives count as much as the 50 safe rows of the big source
    assert not flagged[100:].any()
    assert flagged[:40].all()


def test_false_alarm_limits_bound_a_source() -> None:
    probs, truth, sources = _rows()
    base = np.array([0.35], dtype=np.float32)
    free = shifted(base, joint_shift(probs, truth, ["x"] * 120, base), 0.0)[0]
    assert (probs[100:, 0] >= free).mean() > 0.1  # one big source: the hard rows are flagged
    limited = joint_shift(probs, truth, sources, base, {"hard": 0.0})
    assert (probs[100:, 0] >= shifted(base, limited, 0.0)[0]).mean() == 0.0


def test_figures_by_source() -> None:
    probs, truth, sources = _rows()
    out = by_source(probs, np.array([0.5], dtype=np.float32), truth, sources)
    assert out["big"] == {"rows": 100, "harmful_flagged": 1.0, "safe_passed": 1.0}
    assert out["hard"] == {"rows": 20, "safe_passed": 0.6}
