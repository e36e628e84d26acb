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

from hegui.detect._classifier_features import FeatureParams, featurize_many
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
    c_grid: tuple[float, ...] = (2.0, 8.0, 32.0)
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


def _fit(x: Any, y: npt.NDArray[np.int64], n_classes: int, c: float) -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression

    weights = np.zeros((x.shape[1], n_classes), dtype=np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)
    for k in range(n_classes):
        target = (y == k).astype(np.int64)
        # balanced: a risk with a hundred rows is not drowned by COLD's thousands
        clf = LogisticRegression(C=c, solver="liblinear", max_iter=200, class_weight="balanced")
        clf.fit(x, target)
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
        f = seeded_fraction(item.text, cfg.seed)
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

    x_tr, x_ca = _matrix([r.text for r in tr], cfg), _matrix([r.text for r in ca], cfg)
    y_tr, y_ca = labels(tr), labels(ca)
    best: tuple[float, float, Any, Any] | None = None
    for c in cfg.c_grid:
        w, b = _fit(x_tr, y_tr, len(classes), c)
        probs = 1 / (1 + np.exp(-(x_ca @ w + b)))
        aps = [_average_precision(probs[:, k], y_ca == k) for k in range(len(classes))]
        score = float(np.nanmean(aps)) if not np.all(np.isnan(aps)) else 0.0
        if best is None or score > best[0]:
            best = (score, c, w, b)
    assert best is not None
    _, chosen_c, w, b = best
    weights = w.astype(np.float16)
    probs = (1 / (1 + np.exp(-(x_ca @ weights.astype(np.float32) + b)))).astype(np.float32)
    thresholds = np.array(
        [_best_threshold(probs[:, k], y_ca == k, cfg.min_threshold) for k in range(len(classes))],
        dtype=np.float32,
    )
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
        report.test = evaluate(model, te, to_class)
        meta["test"] = report.test
    return model, report


def evaluate(
    model: ClassifierModel,
    items: Sequence[LabelledText],
    to_class: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Binary and per-class figures of ``model`` on labelled rows (whole texts).

    ``harmful_*`` treat any class over its threshold as "flagged"; ``class_accuracy``
    counts a harmful row as right when its own class (after merging) is flagged.
    """
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
