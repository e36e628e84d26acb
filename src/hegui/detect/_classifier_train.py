"""Training and evaluation of the classifier from labelled text (needs scikit-learn).

Rows are read from CSV or JSONL with configurable columns; a label map turns each
label into a risk id or ``safe``. The rows are split by a seeded hash of their text
into train / calibration / test parts: the model is fitted on train, the
regularisation strength and the per-risk thresholds are chosen on calibration, and
the test part is only measured. Evaluation sets never enter any of the three.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from hegui.detect._classifier_features import FeatureParams, chunks, featurize_many, windows
from hegui.detect._classifier_model import ClassifierModel, Windowing

SAFE = "safe"
FloatArrayLike = npt.NDArray[np.float32]
SPREADSHEET_ERRORS = frozenset({"#NAME?", "#VALUE!", "#REF!", "#N/A", "#DIV/0!"})
"""Cells a spreadsheet export left instead of text; rows holding them are skipped."""
_SAFE_WORDS = frozenset({"safe", "none", "null", "0", "benign", "~", ""})


class DataError(ValueError):
    """A data or label-map file cannot be used; the message names file and row."""


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One training or evaluation row: its text and risk id (``safe`` for none)."""

    text: str
    risk: str
    source: str = ""
    group: str = ""
    """Rows with the same non-empty group land in the same split part (a row and the
    variants made from it); empty: the text itself decides."""


def load_label_map(path: str | Path) -> dict[str, str]:
    """Read a YAML mapping ``label -> risk id``; ``safe``/null/``none`` mean no risk."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: a label map must be a mapping of label -> risk id")
    out: dict[str, str] = {}
    for key, value in raw.items():
        risk = SAFE if value is None or str(value).strip().lower() in _SAFE_WORDS else str(value)
        out[str(key).strip()] = risk
    return out


def map_label(value: str, mapping: Mapping[str, str]) -> str | None:
    """Risk id of a label: the whole label, else its last, else its first ``/`` part.

    Labels from several columns are joined with ``/`` (``race/1``, ``违法犯罪/诈骗``), so
    a map can name a combination, the finer part alone, or the coarse part as a
    fallback (the first ``|`` alternative of the last part too); ``*`` is the default.
    Returns None when nothing matches.
    """
    value = value.strip()
    parts = [p.strip() for p in value.split("/")]
    for key in (value, parts[-1], parts[-1].split("|")[0].strip(), parts[0], "*"):
        if key in mapping:
            return mapping[key]
    return None


def _rows(path: Path) -> Iterable[tuple[int, Mapping[str, Any]]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{line_no}: {exc}") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path}:{line_no}: each line must be a JSON object")
                    yield line_no, row
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            yield from enumerate(csv.DictReader(fh), 2)


def read_labelled(
    path: str | Path,
    text_col: str = "text",
    label_col: str = "label",
    label_map: Mapping[str, str] | None = None,
    known_risks: Iterable[str] | None = None,
) -> list[LabelledText]:
    """Rows of a CSV or JSONL file as labelled texts.

    ``label_col`` may name several columns separated by commas; their values are
    joined with ``/`` before the label map is applied. Without a map, labels must be
    risk ids or ``safe``.

    Raises:
        DataError: a column is missing, a label has no mapping or names an unknown risk.
    """
    p = Path(path)
    cols = [c.strip() for c in label_col.split(",") if c.strip()]
    known = set(known_risks) if known_risks is not None else None
    out: list[LabelledText] = []
    try:
        for line_no, row in _rows(p):
            missing = [c for c in (text_col, *cols) if c not in row]
            if missing:
                raise DataError(f"{p}:{line_no}: no column(s) {', '.join(missing)}")
            text = str(row[text_col] or "").strip()
            if not text or text in SPREADSHEET_ERRORS:
                continue
            label = "/".join(str(row[c]).strip() for c in cols)
            if label_map is None:
                risk: str | None = SAFE if label.lower() in _SAFE_WORDS else label
            else:
                risk = map_label(label, label_map)
            if risk is None:
                raise DataError(f"{p}:{line_no}: label {label!r} is not in the label map")
            if known is not None and risk != SAFE and risk not in known:
                raise DataError(f"{p}:{line_no}: label {label!r} -> unknown risk {risk!r}")
            out.append(LabelledText(text, risk, p.name))
    except OSError as exc:
        raise DataError(f"{p}: {exc}") from None
    return out


def seeded_fraction(key: str, seed: int) -> float:
    """A stable number in [0, 1) for ``key``: the basis of every split here."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyper-parameters of ``train``; recorded in the model's metadata."""

    features: FeatureParams = FeatureParams(bits=17)
    """2**17 buckets: the float16 weights of a dozen classes stay near 3 MB."""
    windowing: Windowing = Windowing()
    c_grid: tuple[float, ...] = (8.0, 32.0, 128.0)
    """Inverse regularisation strengths tried; the best on calibration is kept."""
    min_examples: int = 60
    """A risk with fewer training rows is merged into its parent group; a group that
    is still smaller is left out (its rows too) and recorded as ``dropped``."""
    calibration: float = 0.1
    """Share of rows used to pick C and the thresholds."""
    test: float = 0.1
    """Share of rows kept aside and only measured."""
    min_threshold: float = 0.3
    """Lowest threshold a risk may get, however the calibration rows fall."""
    other_weight: float = 0.2
    """Weight of the rows of other risks among the negatives of a class (safe rows
    weigh 1): below 1, a class learns "harmful vs safe" more than "this risk vs others"."""
    joint_shift: bool = True
    """After the per-risk thresholds, move all of them by one shift in logit space,
    chosen for the best "any risk flagged" macro-F1 on the calibration rows, each
    source weighing the same (a text is flagged when any class fires, so per-risk
    optima add up their false alarms)."""
    window_rows: bool = True
    """Train on a long text as the window-sized pieces the detector scores, and score
    calibration and test rows as the detector does (the highest of their windows)."""
    seed: int = 20251101


@dataclass
class TrainReport:
    """What training did and measured; ``test`` figures come from unseen rows."""

    rows: dict[str, int]
    classes: dict[str, int]
    merged: dict[str, str]
    dropped: list[str]
    chosen_c: float
    calibration_ap: dict[str, float]
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

    indptr, indices, data = featurize_many(texts, cfg.features, cfg.windowing.max_segment)
    return csr_matrix((data, indices, indptr), shape=(len(texts), 1 << cfg.features.bits))


def _fit(
    x: Any, y: npt.NDArray[np.int64], n_classes: int, c: float, other_weight: float = 1.0
) -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression

    weights = np.zeros((x.shape[1], n_classes), dtype=np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)
    for k in range(n_classes):
        target = (y == k).astype(np.int64)
        sample = np.where((y >= 0) & (y != k), other_weight, 1.0)
        # balanced: a risk with a hundred rows is not drowned by COLD's thousands
        clf = LogisticRegression(C=c, solver="liblinear", max_iter=200, class_weight="balanced")
        clf.fit(x, target, sample_weight=sample)
        weights[:, k] = clf.coef_[0]
        bias[k] = clf.intercept_[0]
    return weights, bias


def _best_threshold(probs: FloatArrayLike, truth: npt.NDArray[np.bool_], floor: float) -> float:
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


def _shifted(thresholds: FloatArrayLike, shift: float, floor: float) -> FloatArrayLike:
    t = np.clip(thresholds.astype(np.float64), 1e-6, 1 - 1e-6)
    moved = 1 / (1 + np.exp(-(np.log(t / (1 - t)) + shift)))
    return np.maximum(moved, floor).astype(np.float32)


def _joint_shift(
    probs: FloatArrayLike,
    truth: npt.NDArray[np.bool_],
    sources: Sequence[str],
    thresholds: FloatArrayLike,
) -> float:
    """Logit shift of all thresholds with the best source-weighted binary macro-F1."""
    count = Counter(sources)
    weight = np.array([1.0 / count[s] for s in sources])
    best = (-1.0, 0.0)
    for shift in np.round(np.arange(-3.0, 3.01, 0.1), 2):
        flagged = (probs >= _shifted(thresholds, float(shift), 0.0)).any(axis=1)
        tp = weight[flagged & truth].sum()
        fp = weight[flagged & ~truth].sum()
        fn = weight[~flagged & truth].sum()
        tn = weight[~flagged & ~truth].sum()
        f1 = tp / max(tp + (fp + fn) / 2, 1e-9) + tn / max(tn + (fp + fn) / 2, 1e-9)
        if f1 > best[0] + 1e-9 or (abs(f1 - best[0]) <= 1e-9 and abs(shift) < abs(best[1])):
            best = (f1, float(shift))
    return best[1]


def _average_precision(probs: FloatArrayLike, truth: npt.NDArray[np.bool_]) -> float:
    if not truth.any():
        return float("nan")
    order = np.argsort(-probs)
    hits = np.cumsum(truth[order])
    precision = hits / np.arange(1, len(hits) + 1)
    return float((precision * truth[order]).sum() / truth.sum())


def split_rows(
    items: Sequence[LabelledText], cfg: TrainConfig
) -> tuple[list[LabelledText], list[LabelledText], list[LabelledText]]:
    """Train, calibration and test parts by a seeded hash of each text."""
    parts: tuple[list[LabelledText], list[LabelledText], list[LabelledText]] = ([], [], [])
    for item in items:
        f = seeded_fraction(item.group or item.text, cfg.seed)
        k = 2 if f < cfg.test else 1 if f < cfg.test + cfg.calibration else 0
        parts[k].append(item)
    return parts


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
    unknown = sorted({i.risk for i in items if i.risk != SAFE and i.risk not in parents})
    if unknown:
        raise DataError(f"risk id(s) not in the taxonomy: {', '.join(unknown)}")
    to_class = _roll_up(items, parents, cfg.min_examples)
    sizes = Counter(to_class[i.risk] for i in items if i.risk != SAFE)
    dropped = sorted(r for r, c in to_class.items() if sizes[c] < cfg.min_examples)
    if dropped:  # still too rare at the top of the taxonomy: not learnable, left out
        items = [i for i in items if i.risk not in dropped]
        to_class = {r: c for r, c in to_class.items() if r not in dropped}
    classes = tuple(sorted(set(to_class.values())))
    if not classes or all(i.risk != SAFE for i in items):
        raise DataError("training needs both harmful rows and safe rows")
    index = {c: k for k, c in enumerate(classes)}
    tr, ca, te = split_rows(items, cfg)
    if not tr or not ca:
        raise DataError("too few rows to split into train and calibration parts")

    def labels(rows: Sequence[LabelledText]) -> npt.NDArray[np.int64]:
        return np.array([index[to_class[r.risk]] if r.risk != SAFE else -1 for r in rows])

    fit_rows = _pieces(tr, cfg) if cfg.window_rows else list(tr)
    x_tr, y_tr = _matrix([r.text for r in fit_rows], cfg), labels(fit_rows)
    ca_texts, ca_owner = _scored_windows([r.text for r in ca], cfg)
    x_ca, y_ca = _matrix(ca_texts, cfg), labels(ca)

    def row_max(scores: Any) -> Any:  # a row scores as its highest window
        out = np.full((len(ca), scores.shape[1]), -np.inf, dtype=np.float32)
        np.maximum.at(out, ca_owner, scores)
        return out

    best: tuple[float, float, Any, Any] | None = None
    for c in cfg.c_grid:
        w, b = _fit(x_tr, y_tr, len(classes), c, cfg.other_weight)
        probs = row_max(1 / (1 + np.exp(-(x_ca @ w + b))))
        aps = [_average_precision(probs[:, k], y_ca == k) for k in range(len(classes))]
        score = float(np.nanmean(aps)) if not np.all(np.isnan(aps)) else 0.0
        if best is None or score > best[0]:
            best = (score, c, w, b)
    assert best is not None
    _, chosen_c, w, b = best
    weights = w.astype(np.float16)
    probs = row_max(1 / (1 + np.exp(-(x_ca @ weights.astype(np.float32) + b))))
    thresholds = np.array(
        [_best_threshold(probs[:, k], y_ca == k, cfg.min_threshold) for k in range(len(classes))],
        dtype=np.float32,
    )
    shift = 0.0
    if cfg.joint_shift:
        shift = _joint_shift(probs, y_ca >= 0, [r.source for r in ca], thresholds)
        thresholds = _shifted(thresholds, shift, cfg.min_threshold)
    merged = {r: c for r, c in sorted(to_class.items()) if r != c}
    meta = {
        **(info or {}),
        "trained_with": {
            "c": chosen_c,
            "c_grid": list(cfg.c_grid),
            "min_examples": cfg.min_examples,
            "split_seed": cfg.seed,
            "calibration": cfg.calibration,
            "test": cfg.test,
            "min_threshold": cfg.min_threshold,
            "threshold_shift": round(shift, 3),
            "other_weight": cfg.other_weight,
            "window_rows": cfg.window_rows,
            "rows": {"train": len(tr), "calibration": len(ca), "test": len(te)},
            "merged": merged,
            "dropped": dropped,
        },
    }
    model = ClassifierModel(
        cfg.features, classes, weights, b.astype(np.float32), thresholds, cfg.windowing, meta
    )
    report = TrainReport(
        rows={"train": len(tr), "calibration": len(ca), "test": len(te)},
        classes={c: int((y_tr == index[c]).sum()) for c in classes},
        merged=merged,
        dropped=dropped,
        chosen_c=chosen_c,
        calibration_ap={
            c: round(_average_precision(probs[:, k], y_ca == k), 4) for k, c in enumerate(classes)
        },
    )
    if te:
        report.test = evaluate(model, te, to_class, by_window=cfg.window_rows)
        meta["test"] = report.test
    return model, report


def _pieces(rows: Sequence[LabelledText], cfg: TrainConfig) -> list[LabelledText]:
    """Rows longer than a window become their window-sized pieces (same label)."""
    win = cfg.windowing
    out: list[LabelledText] = []
    for r in rows:
        if len(r.text) <= win.window_chars:
            out.append(r)
            continue
        for s, e in chunks(r.text, win.max_segment, win.window_chars):
            out.append(LabelledText(r.text[s:e], r.risk, r.source, r.group))
    return out


def _scored_windows(texts: Sequence[str], cfg: TrainConfig) -> tuple[list[str], Any]:
    """Every window the detector scores in each text, and the index of its text."""
    win = cfg.windowing
    out: list[str] = []
    owner: list[int] = []
    for k, text in enumerate(texts):
        spans = windows(text, win.max_segment, win.window_chars) if cfg.window_rows else []
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
                        [i.text[s:e] for s, e in windows(i.text, win.max_segment, win.window_chars)]
                    ).max(axis=0)
                    for i in items
                ]
            )
            if items
            else np.zeros((0, len(model.classes)), dtype=np.float32)
        )
    else:
        probs = model.score_many([i.text for i in items])
    flagged = probs >= model.thresholds
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
