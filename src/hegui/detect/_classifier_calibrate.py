"""Choosing the classifier's thresholds from scores of rows the model did not see.

Training scores its calibration rows with models that never saw them (out-of-fold
scores from cross-fitting, or a held-out calibration split), then picks one threshold
per class here: the best F1 for that class, then one logit shift of all of them for
the best "any risk flagged" figure, each data source weighing the same; Latin-script
(English) text may get a shift of its own (``script_shifts``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from hegui.detect._classifier_features import is_latin, script_counts

FloatArrayLike = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


def best_threshold(probs: FloatArrayLike, truth: BoolArray, floor: float) -> float:
    """Threshold with the best F1 on the calibration rows (never below ``floor``)."""
    if not truth.any():
        return max(0.5, floor)
    order = np.argsort(-probs)
    p_sorted = probs[order]
    hits = np.cumsum(truth[order])
    k = np.arange(1, len(p_sorted) + 1)
    f1 = 2 * hits / (k + truth.sum())
    best = int(np.argmax(f1))
    # halfway to the next lower score, so the chosen rows stay above it
    nxt = p_sorted[best + 1] if best + 1 < len(p_sorted) else 0.0
    return float(max((p_sorted[best] + nxt) / 2, floor))


def shifted(thresholds: FloatArrayLike, shift: float, floor: float) -> FloatArrayLike:
    """All thresholds moved by ``shift`` in logit space, none below ``floor``."""
    t = np.clip(thresholds.astype(np.float64), 1e-6, 1 - 1e-6)
    moved = 1 / (1 + np.exp(-(np.log(t / (1 - t)) + shift)))
    return np.maximum(moved, floor).astype(np.float32)


def _source_weights(sources: Sequence[str], truth: BoolArray) -> npt.NDArray[np.float64]:
    """Row weights that give every (source, harmful-or-safe) part the same total."""
    count = Counter(zip(sources, truth.tolist(), strict=True))
    return np.array([1.0 / count[(s, t)] for s, t in zip(sources, truth.tolist(), strict=True)])


def joint_shift(
    probs: FloatArrayLike,
    truth: BoolArray,
    sources: Sequence[str],
    thresholds: FloatArrayLike,
    false_alarm_limits: Mapping[str, float] | None = None,
) -> float:
    """Logit shift of all thresholds with the best source-balanced accuracy.

    Each source contributes the share of its harmful rows flagged and the share of its
    safe rows passed, every such part weighing the same, so a source of hard negatives
    (safe text with alarming words) counts as much as a large mixed set.
    ``false_alarm_limits`` (source -> share) keeps only the shifts that flag at most
    that share of the source's safe rows, when any shift does.
    """
    weight = _source_weights(sources, truth)
    parts = len(set(zip(sources, truth.tolist(), strict=True)))
    src = np.asarray(sources)
    limited = [
        ((src == name) & ~truth, limit)
        for name, limit in (false_alarm_limits or {}).items()
        if ((src == name) & ~truth).any()
    ]
    candidates: list[tuple[float, float, bool]] = []
    for shift in np.round(np.arange(-3.0, 3.01, 0.1), 2):
        flagged: BoolArray = np.asarray(
            (probs >= shifted(thresholds, float(shift), 0.0)).any(axis=1)
        )
        right = np.where(truth, flagged, ~flagged)
        score = float((weight * right).sum()) / max(parts, 1)
        ok = all(flagged[mask].mean() <= limit for mask, limit in limited)
        candidates.append((score, float(shift), ok))
    allowed = [c for c in candidates if c[2]] or candidates
    best = max(allowed, key=lambda c: (round(c[0], 9), -abs(c[1])))
    return best[1]


def script_shifts(
    probs: FloatArrayLike,
    truth: BoolArray,
    rows: Sequence[tuple[str, str]],
    thresholds: FloatArrayLike,
    false_alarm_limits: Mapping[str, float] | None = None,
    *,
    per_script: bool = True,
) -> dict[str, float]:
    """``joint_shift`` of Latin-script (``"latin"``) rows and of the others (``"other"``).

    ``rows`` are (text, source) pairs. Each script's shift is chosen on its own rows when
    they hold both harmful and safe rows; otherwise (or without ``per_script``) the
    shift chosen on all rows applies.
    """
    sources = [s for _, s in rows]
    overall = joint_shift(probs, truth, sources, thresholds, false_alarm_limits)
    out = {"other": overall, "latin": overall}
    if not per_script:
        return out
    latin = np.array([is_latin(*script_counts(t)) for t, _ in rows], dtype=np.bool_)
    for name, mask in (("latin", latin), ("other", ~latin)):
        if truth[mask].any() and (~truth[mask]).any():
            picked = [s for s, m in zip(sources, mask, strict=True) if m]
            out[name] = joint_shift(
                probs[mask], truth[mask], picked, thresholds, false_alarm_limits
            )
    return out


def average_precision(probs: FloatArrayLike, truth: BoolArray) -> float:
    """Average precision of one class's scores (NaN without positives)."""
    if not truth.any():
        return float("nan")
    order = np.argsort(-probs)
    hits = np.cumsum(truth[order])
    precision = hits / np.arange(1, len(hits) + 1)
    return float((precision * truth[order]).sum() / truth.sum())


def by_source(
    probs: FloatArrayLike, thresholds: FloatArrayLike, truth: BoolArray, sources: Sequence[str]
) -> dict[str, Mapping[str, float]]:
    """Per source: rows, share of harmful rows flagged, share of safe rows passed."""
    flagged: BoolArray = np.asarray((probs >= thresholds).any(axis=1))
    out: dict[str, Mapping[str, float]] = {}
    for src in sorted(set(sources)):
        mask = np.array([s == src for s in sources])
        bad, good = mask & truth, mask & ~truth
        row: dict[str, float] = {"rows": int(mask.sum())}
        if bad.any():
            row["harmful_flagged"] = round(float(flagged[bad].mean()), 4)
        if good.any():
            row["safe_passed"] = round(float(1 - flagged[good].mean()), 4)
        out[src] = row
    return out
