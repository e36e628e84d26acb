"""Training and evaluation of the classifier from labelled text (needs scikit-learn).

The rows are split by a seeded hash of their text into a test part, only measured,
and the rest. With cross-fitting (the default) the rest is cut into folds: each fold
is scored by a model fitted on the others, C and the per-risk thresholds are chosen
on those out-of-fold scores, and the shipped model is fitted on all of the rest.
Without it, a calibration part plays that role and the model never sees it.
Evaluation sets never enter any of these parts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hegui.detect._classifier_calibrate import (
    average_precision,
    best_threshold,
    by_source,
    script_shifts,
    shifted,
)
from hegui.detect._classifier_features import (
    FeatureParams,
    chunks,
    featurize_many,
    is_latin,
    script_counts,
    windows,
)
from hegui.detect._classifier_model import ClassifierModel, Windowing
from hegui.detect._classifier_rows import SAFE, DataError, LabelledText, seeded_fraction

FloatArrayLike = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyper-parameters of ``train``; recorded in the model's metadata."""

    features: FeatureParams = FeatureParams(bits=17)
    """2**17 buckets: the float16 weights of a dozen classes stay near 3 MB."""
    windowing: Windowing = Windowing()
    c_grid: tuple[float, ...] = (8.0, 32.0, 128.0)
    """Inverse regularisation strengths tried; the best mean average precision on
    held-out scores (the first fold, or the calibration part) is kept."""
    min_examples: int = 60
    """A risk with fewer training rows is merged into its parent group; a group that
    is still smaller is left out (its rows too) and recorded as ``dropped``."""
    folds: int = 5
    """Cross-fitting folds for out-of-fold calibration scores; below 2, a single
    calibration part (``calibration``) is held out instead and never fitted on."""
    calibration: float = 0.1
    """Share of rows held out to pick C and the thresholds when ``folds`` < 2."""
    test: float = 0.1
    """Share of rows kept aside and only measured."""
    min_threshold: float = 0.3
    """Lowest threshold a risk may get, however the calibration rows fall."""
    other_weight: float = 0.2
    """Weight of the rows of other risks among the negatives of a class (safe rows
    weigh 1): below 1, a class learns "harmful vs safe" more than "this risk vs others"."""
    joint_shift: bool = True
    """After the per-risk thresholds, move all of them by one shift in logit space,
    chosen for the best "any risk flagged" accuracy on the calibration scores with
    each source's harmful and safe rows weighing the same (a text is flagged when
    any class fires, so per-risk optima add up their false alarms)."""
    script_thresholds: bool = True
    """Shift the thresholds of Latin-script (English) text apart from the others', each
    on the calibration rows of its script (the scores of a language with less training
    data sit elsewhere)."""
    false_alarm_limits: Mapping[str, float] = field(default_factory=dict)
    """Source -> highest share of its safe calibration rows the shift may flag."""
    source_weights: Mapping[str, float] = field(default_factory=dict)
    """Source -> weight of its rows in fitting (default 1)."""
    window_rows: bool = True
    """Train on a long text as the window-sized pieces the detector scores, and score
    calibration and test rows as the detector does (the highest of their windows)."""
    seed: int = 20251101

    def record(self) -> dict[str, Any]:
        """The settings as plain JSON data, for the model's metadata."""
        return {
            "c_grid": list(self.c_grid),
            "min_examples": self.min_examples,
            "folds": self.folds,
            "calibration": self.calibration if self.folds < 2 else 0.0,
            "test": self.test,
            "split_seed": self.seed,
            "min_threshold": self.min_threshold,
            "other_weight": self.other_weight,
            "joint_shift": self.joint_shift,
            "script_thresholds": self.script_thresholds,
            "false_alarm_limits": dict(self.false_alarm_limits),
            "source_weights": dict(self.source_weights),
            "window_rows": self.window_rows,
        }


@dataclass
class TrainReport:
    """What training did and measured; ``test`` figures come from unseen rows."""

    rows: dict[str, int]
    classes: dict[str, int]
    merged: dict[str, str]
    dropped: list[str]
    chosen_c: float
    calibration_ap: dict[str, float]
    calibration_by_source: dict[str, Mapping[str, float]] = field(default_factory=dict)
    """Out-of-fold (or calibration-part) figures per data source, at the chosen thresholds."""
    test: dict[str, float] = field(default_factory=dict)


def _roll_up(
    items: Sequence[LabelledText], parents: Mapping[str, str | None], min_examples: int
) -> dict[str, str]:
    """Risk -> class: rare risks become their parent group until each class is big enough."""
    counts = Counter(i.risk for i in items if i.risk != SAFE)
    target = {r: r for r in counts}
    changed = True
    while changed:
        changed = False
        sizes = Counter(target[r] for r in counts for _ in range(counts[r]))
        for risk in counts:
            cls = target[risk]
            parent = parents.get(cls)
            if sizes[cls] < min_examples and parent:
                for r in counts:
                    if target[r] == cls:
                        target[r] = parent
                changed = True
                break
    return target


def _matrix(texts: Sequence[str], cfg: TrainConfig) -> Any:
    from scipy.sparse import csr_matrix

    win = cfg.windowing
    indptr, indices, data = featurize_many(texts, cfg.features, win.max_segment, win.min_segment)
    return csr_matrix((data, indices, indptr), shape=(len(texts), 1 << cfg.features.bits))


def _fit(
    x: Any,
    y: npt.NDArray[np.int64],
    n_classes: int,
    c: float,
    *,
    other_weight: float = 1.0,
    row_weight: npt.NDArray[np.float64] | None = None,
) -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression

    weights = np.zeros((x.shape[1], n_classes), dtype=np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)
    for k in range(n_classes):
        target = (y == k).astype(np.int64)
        sample = np.where((y >= 0) & (y != k), other_weight, 1.0)
        if row_weight is not None:
            sample = sample * row_weight
        # balanced: a risk with a hundred rows is not drowned by COLD's thousands
        clf = LogisticRegression(C=c, solver="liblinear", max_iter=200, class_weight="balanced")
        clf.fit(x, target, sample_weight=sample)
        weights[:, k] = clf.coef_[0]
        bias[k] = clf.intercept_[0]
    return weights, bias


def split_rows(
    items: Sequence[LabelledText], cfg: TrainConfig
) -> tuple[list[LabelledText], list[LabelledText], list[LabelledText]]:
    """Train, calibration and test parts by a seeded hash of each text (or group).

    With cross-fitting (``folds`` >= 2) the calibration part is empty: every row that
    is not in the test part is fitted on and scored out of fold.
    """
    cal = cfg.calibration if cfg.folds < 2 else 0.0
    parts: tuple[list[LabelledText], list[LabelledText], list[LabelledText]] = ([], [], [])
    for item in items:
        f = seeded_fraction(item.group or item.text, cfg.seed)
        k = 2 if f < cfg.test else 1 if f < cfg.test + cal else 0
        parts[k].append(item)
    return parts


def _folds(rows: Sequence[LabelledText], cal: int, cfg: TrainConfig) -> npt.NDArray[np.int64]:
    """Fold of each row: 0..folds-1 when cross-fitting.

    Without cross-fitting: 0 for the first ``cal`` rows (the calibration part) and -1
    for the rest (fitted on, never scored).
    """
    if cfg.folds >= 2:
        return np.array(
            [int(seeded_fraction(r.group or r.text, cfg.seed + 1) * cfg.folds) for r in rows],
            dtype=np.int64,
        )
    return np.array([0 if k < cal else -1 for k in range(len(rows))], dtype=np.int64)


@dataclass
class _Design:
    """Feature matrices of the rows to fit, built once and reused by every fold."""

    fold: npt.NDArray[np.int64]
    x_fit: Any
    """One row per training piece (a long text is cut into window-sized pieces)."""
    y_fit: npt.NDArray[np.int64]
    w_fit: npt.NDArray[np.float64]
    fit_owner: npt.NDArray[np.int64]
    x_win: Any
    """One row per window the detector scores."""
    win_owner: npt.NDArray[np.int64]

    @classmethod
    def build(
        cls,
        rows: Sequence[LabelledText],
        fold: npt.NDArray[np.int64],
        y: npt.NDArray[np.int64],
        cfg: TrainConfig,
    ) -> _Design:
        pieces, fit_owner = _pieces(rows, cfg)
        weight = np.array([cfg.source_weights.get(r.source, 1.0) for r in rows])
        win_texts, win_owner = _scored_windows([r.text for r in rows], cfg)
        return cls(
            fold,
            _matrix(pieces, cfg),
            y[fit_owner],
            weight[fit_owner],
            fit_owner,
            _matrix(win_texts, cfg),
            win_owner,
        )

    def fit(self, leave_out: int | None, c: float, n: int, cfg: TrainConfig) -> tuple[Any, Any]:
        """Weights and bias fitted on every row outside fold ``leave_out``."""
        keep = self.fold[self.fit_owner] != leave_out
        return _fit(
            self.x_fit[keep],
            self.y_fit[keep],
            n,
            c,
            other_weight=cfg.other_weight,
            row_weight=self.w_fit[keep],
        )

    def score(self, f: int, w: Any, b: Any) -> FloatArrayLike:
        """Probabilities of the rows of fold ``f``, each class at its highest window."""
        mask = self.fold[self.win_owner] == f
        probs = 1 / (1 + np.exp(-(self.x_win[mask] @ w + b)))
        out = np.full((len(self.fold), probs.shape[1]), -np.inf, dtype=np.float32)
        np.maximum.at(out, self.win_owner[mask], probs)
        scored: FloatArrayLike = out[self.fold == f]
        return scored


def _classes(
    items: Sequence[LabelledText], parents: Mapping[str, str | None], cfg: TrainConfig
) -> tuple[list[LabelledText], dict[str, str], list[str]]:
    """Rows kept, risk -> class after merging rare risks, and the risks left out."""
    unknown = sorted({i.risk for i in items if i.risk != SAFE and i.risk not in parents})
    if unknown:
        raise DataError(f"risk id(s) not in the taxonomy: {', '.join(unknown)}")
    to_class = _roll_up(items, parents, cfg.min_examples)
    sizes = Counter(to_class[i.risk] for i in items if i.risk != SAFE)
    dropped = sorted(r for r, c in to_class.items() if sizes[c] < cfg.min_examples)
    if dropped:  # still too rare at the top of the taxonomy: not learnable, left out
        items = [i for i in items if i.risk not in dropped]
        to_class = {r: c for r, c in to_class.items() if r not in dropped}
    if not to_class or all(i.risk != SAFE for i in items):
        raise DataError("training needs both harmful rows and safe rows")
    return list(items), to_class, dropped


def train(
    items: Sequence[LabelledText],
    parents: Mapping[str, str | None],
    cfg: TrainConfig = TrainConfig(),
    info: Mapping[str, Any] | None = None,
) -> tuple[ClassifierModel, TrainReport]:
    """Fit a model on ``items``; ``parents`` maps each risk id to its group (or None).

    Raises:
        DataError: no harmful or no safe rows, or a risk the taxonomy does not know.
    """
    items, to_class, dropped = _classes(items, parents, cfg)
    classes = tuple(sorted(set(to_class.values())))
    index = {c: k for k, c in enumerate(classes)}
    tr, ca, te = split_rows(items, cfg)
    if not tr or (cfg.folds < 2 and not ca) or len(tr) < cfg.folds:
        raise DataError("too few rows to split into training and calibration parts")
    rows = ca + tr
    y = np.array([index[to_class[r.risk]] if r.risk != SAFE else -1 for r in rows])
    fold = _folds(rows, len(ca), cfg)
    design = _Design.build(rows, fold, y, cfg)
    chosen_c, w, b, oof = _cross_fit(design, y, len(classes), cfg)
    scored = fold >= 0
    probs, y_cal = oof[scored], y[scored]
    thresholds = np.array(
        [best_threshold(probs[:, k], y_cal == k, cfg.min_threshold) for k in range(len(classes))],
        dtype=np.float32,
    )
    cal_rows = [rows[i] for i in np.flatnonzero(scored)]
    shifts = {"other": 0.0, "latin": 0.0}
    if cfg.joint_shift:
        shifts = script_shifts(
            probs,
            y_cal >= 0,
            [(r.text, r.source) for r in cal_rows],
            thresholds,
            cfg.false_alarm_limits,
            per_script=cfg.script_thresholds,
        )
    latin = np.array([is_latin(*script_counts(r.text)) for r in cal_rows])
    thresholds_latin = shifted(thresholds, shifts["latin"], cfg.min_threshold)
    thresholds = shifted(thresholds, shifts["other"], cfg.min_threshold)
    sources = [r.source for r in cal_rows]
    limits = np.where(latin[:, None], thresholds_latin, thresholds)
    merged = {r: c for r, c in sorted(to_class.items()) if r != c}
    counts = {"fitted": len(rows) if cfg.folds >= 2 else len(tr), "calibration": int(scored.sum())}
    report = TrainReport(
        rows={**counts, "test": len(te)},
        classes={c: int((design.y_fit == index[c]).sum()) for c in classes},
        merged=merged,
        dropped=dropped,
        chosen_c=chosen_c,
        calibration_ap={
            c: round(average_precision(probs[:, k], y_cal == k), 4) for k, c in enumerate(classes)
        },
        calibration_by_source=by_source(probs, limits, y_cal >= 0, sources),
    )
    meta: dict[str, Any] = {
        **(info or {}),
        "trained_with": {
            **cfg.record(),
            "c": chosen_c,
            "threshold_shift": shifts,
            "rows": report.rows,
            "merged": merged,
            "dropped": dropped,
        },
        "calibration_by_source": report.calibration_by_source,
    }
    model = ClassifierModel(
        cfg.features,
        classes,
        w.astype(np.float16),
        b.astype(np.float32),
        thresholds,
        cfg.windowing,
        meta,
        thresholds_latin,
    )
    if te:
        report.test = evaluate(model, te, to_class, by_window=cfg.window_rows)
        meta["test"] = report.test
    return model, report


def _cross_fit(
    design: _Design, y: npt.NDArray[np.int64], n: int, cfg: TrainConfig
) -> tuple[float, Any, Any, FloatArrayLike]:
    """Chosen C, the final weights and bias, and every scored row's held-out scores.

    C is chosen on the first scored fold; the other folds are then scored with it.
    Cross-fitting ends with a fit on all rows; otherwise the calibration fold's model
    (which never saw that fold) is the final one.
    """
    fold = design.fold
    first = int(fold.max()) if cfg.folds < 2 else 0
    oof = np.zeros((len(fold), n), dtype=np.float32)
    best: tuple[float, float, Any, Any, FloatArrayLike] | None = None
    for c in cfg.c_grid:
        w, b = design.fit(first, c, n, cfg)
        probs = design.score(first, w, b)
        aps = [average_precision(probs[:, k], y[fold == first] == k) for k in range(n)]
        score = float(np.nanmean(aps)) if not np.all(np.isnan(aps)) else 0.0
        if best is None or score > best[0]:
            best = (score, c, w, b, probs)
    assert best is not None
    _, chosen_c, w, b, oof[fold == first] = best
    for f in range(1, cfg.folds):
        oof[fold == f] = design.score(f, *design.fit(f, chosen_c, n, cfg))
    if cfg.folds >= 2:
        w, b = design.fit(None, chosen_c, n, cfg)
    return chosen_c, w, b, oof


def _pieces(
    rows: Sequence[LabelledText], cfg: TrainConfig
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Texts to fit on: a row longer than a window becomes its window-sized pieces.

    Returns the texts and the index of the row each came from.
    """
    win = cfg.windowing
    out: list[str] = []
    owner: list[int] = []
    for k, r in enumerate(rows):
        if not cfg.window_rows or len(r.text) <= win.window_chars:
            spans = [(0, len(r.text))]
        else:
            spans = chunks(r.text, win.max_segment, win.window_chars, win.min_segment)
        out += [r.text[s:e] for s, e in spans]
        owner += [k] * len(spans)
    return out, np.asarray(owner, dtype=np.int64)


def _scored_windows(texts: Sequence[str], cfg: TrainConfig) -> tuple[list[str], Any]:
    """Every window the detector scores in each text, and the index of its text."""
    win = cfg.windowing
    out: list[str] = []
    owner: list[int] = []
    for k, text in enumerate(texts):
        spans = (
            windows(text, win.max_segment, win.window_chars, win.min_segment)
            if cfg.window_rows
            else []
        )
        for s, e in spans or [(0, len(text))]:
            out.append(text[s:e])
            owner.append(k)
    return out, np.asarray(owner, dtype=np.int64)


def evaluate(
    model: ClassifierModel,
    items: Sequence[LabelledText],
    to_class: Mapping[str, str] | None = None,
    by_window: bool = False,
) -> dict[str, float]:
    """Binary and per-class figures of ``model`` on labelled rows.

    A row is scored as one window, or with ``by_window`` as the detector scores it:
    each class at its highest window. ``harmful_*`` treat any class over its
    threshold as "flagged"; ``class_accuracy`` counts a harmful row as right when its
    own class (after merging) is flagged.
    """
    if by_window:
        win = model.windowing
        probs = (
            np.stack(
                [
                    model.score_many(
                        [
                            i.text[s:e]
                            for s, e in windows(
                                i.text, win.max_segment, win.window_chars, win.min_segment
                            )
                        ]
                    ).max(axis=0)
                    for i in items
                ]
            )
            if items
            else np.zeros((0, len(model.classes)), dtype=np.float32)
        )
    else:
        probs = model.score_many([i.text for i in items])
    flagged = probs >= np.array([model.limits(i.text) for i in items]).reshape(probs.shape)
    any_flag = flagged.any(axis=1)
    truth = np.array([i.risk != SAFE for i in items])
    tp = int((any_flag & truth).sum())
    fp = int((any_flag & ~truth).sum())
    fn = int((~any_flag & truth).sum())
    tn = int((~any_flag & ~truth).sum())
    out = {
        "rows": float(len(items)),
        "accuracy": (tp + tn) / max(len(items), 1),
        "harmful_recall": tp / max(tp + fn, 1),
        "safe_pass_rate": tn / max(tn + fp, 1),
        "f1_harmful": 2 * tp / max(2 * tp + fp + fn, 1),
        "f1_safe": 2 * tn / max(2 * tn + fp + fn, 1),
    }
    out["macro_f1"] = (out["f1_harmful"] + out["f1_safe"]) / 2
    cls_index = {c: k for k, c in enumerate(model.classes)}
    right = total = 0
    for row, item in zip(flagged, items, strict=True):
        if item.risk == SAFE:
            continue
        cls = (to_class or {}).get(item.risk, item.risk)
        k = cls_index.get(cls)
        if k is None:
            continue
        total += 1
        right += bool(row[k])
    if total:
        out["class_accuracy"] = right / total
    return {k: round(v, 4) for k, v in out.items()}
