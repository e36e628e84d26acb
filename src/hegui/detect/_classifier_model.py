"""The classifier model: plain arrays plus JSON metadata, scored with numpy alone.

A model folder holds ``model.npz`` (``weights`` float16 of shape ``(2**bits, classes)``,
``bias``, ``thresholds`` and optionally ``thresholds_latin`` float32: the thresholds of
Latin-script windows, which are calibrated apart) and ``model.json`` (format, feature parameters,
class -> risk ids, training record). Nothing is pickled: the arrays load with
``allow_pickle=False`` and the metadata is JSON, so a model file cannot run code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hegui.detect._classifier_features import (
    FeatureParams,
    FloatArray,
    IntArray,
    buckets,
    buckets_many,
    counts,
    is_latin,
    script_counts,
    segments,
    vectorize,
)

FORMAT = "hegui-classifier/1"
ARRAYS = "model.npz"
METADATA = "model.json"


class ModelError(ValueError):
    """A model folder is missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class Windowing:
    """How long texts are cut and scored; part of the model so training agrees."""

    max_segment: int = 256
    """A segment without a sentence end is cut after this many characters."""
    window_chars: int = 256
    """Earlier segments are added to a window while it stays within this many characters."""
    min_segment: int = 0
    """A sentence shorter than this joins the next in one segment: fewer windows in
    text of many short lines, and a stream holds back at most this much more."""

    def to_dict(self) -> dict[str, int]:
        """Plain JSON-ready form."""
        return {
            "max_segment": self.max_segment,
            "window_chars": self.window_chars,
            "min_segment": self.min_segment,
        }


@dataclass(eq=False)
class ClassifierModel:
    """One-vs-rest logistic regression over hashed n-grams; each class is a risk id."""

    params: FeatureParams
    classes: tuple[str, ...]
    weights: npt.NDArray[np.float16]
    bias: FloatArray
    thresholds: FloatArray
    windowing: Windowing = Windowing()
    info: Mapping[str, Any] = field(default_factory=dict)
    thresholds_latin: FloatArray | None = None
    """Thresholds of Latin-script (English) windows; None: the same as ``thresholds``."""
    _latin: FloatArray = field(init=False, repr=False)
    _dense: FloatArray = field(init=False, repr=False)
    """The weights as float32, gathered when scoring (float16 is only for storage)."""

    def __post_init__(self) -> None:
        n = len(self.classes)
        expected = {
            "weights": (1 << self.params.bits, n),
            "bias": (n,),
            "thresholds": (n,),
        }
        for name, shape in expected.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ModelError(f"{name} has shape {got}, expected {shape}")
        if len(set(self.classes)) != n:
            raise ModelError("class names must be distinct")
        latin = self.thresholds if self.thresholds_latin is None else self.thresholds_latin
        if latin.shape != (n,):
            raise ModelError(f"thresholds_latin has shape {latin.shape}, expected {(n,)}")
        self._latin = latin.astype(np.float32)
        self._dense = self.weights.astype(np.float32)

    def logits(self, bucket_ids: IntArray) -> FloatArray:
        """Raw scores of one window given the bucket ids of all its n-grams."""
        idx, val = vectorize(bucket_ids)
        out: FloatArray = val @ self._dense.take(idx, axis=0) + self.bias
        return out

    def probabilities(self, bucket_ids: IntArray) -> FloatArray:
        """Per-class probability of one window (sigmoid of the logits)."""
        return _sigmoid(self.logits(bucket_ids))

    def part(self, bucket_ids: IntArray) -> tuple[FloatArray, float]:
        """One segment's share of a summed window: its unnormalised scores and squared norm."""
        idx, val = counts(bucket_ids)
        return val @ self._dense.take(idx, axis=0), float(np.dot(val, val))

    def parts(self, segments: Sequence[str]) -> tuple[FloatArray, npt.NDArray[np.float64]]:
        """``part`` of several segments at once: their scores (one row each) and squared norms.

        The segments are hashed and counted in one pass (``buckets_many``); each
        segment's scores are then the same product as ``part``'s, so a segment scores
        the same to the bit whether it comes alone (a stream chunk) or with others.
        """
        n = len(segments)
        totals = np.zeros((n, len(self.classes)), dtype=np.float32)
        squares = np.zeros(n, dtype=np.float64)
        ids, owner = buckets_many(segments, self.params)
        if n == 1:
            idx, val = counts(ids)
            totals[0] = val @ self._dense.take(idx, axis=0)
            squares[0] = float(np.dot(val, val))
            return totals, squares
        bits = self.params.bits
        key = np.sort((owner << bits) | ids)
        if not len(key):
            return totals, squares
        first = np.empty(len(key), dtype=np.bool_)
        first[0] = True
        np.not_equal(key[1:], key[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        runs = np.diff(np.append(starts, len(key)))
        vals = (1.0 + np.log(runs)).astype(np.float32)
        distinct = key[starts]
        bounds = np.searchsorted(distinct >> bits, np.arange(n + 1)).tolist()
        idx = distinct & ((1 << bits) - 1)
        for k in range(n):
            a, b = bounds[k], bounds[k + 1]
            val = vals[a:b].copy()
            totals[k] = val @ self._dense.take(idx[a:b], axis=0)
            squares[k] = float(np.dot(val, val))
        return totals, squares

    def summed(self, total: npt.NDArray[np.float64], sq: float) -> FloatArray:
        """Per-class probability of a window from the sums of its segments' ``part``s."""
        scale = 1.0 / np.sqrt(sq) if sq > 0 else 0.0
        return _sigmoid((total * scale).astype(np.float32) + self.bias)

    def combine(self, parts: Sequence[tuple[FloatArray, float]]) -> FloatArray:
        """Per-class probability of a window from its segments' ``part``s (``window_sum``)."""
        total = np.zeros(len(self.classes), dtype=np.float64)
        for p, _ in parts:
            total += p
        return self.summed(total, sum(q for _, q in parts))

    def text_probabilities(self, text: str) -> FloatArray:
        """Per-class probability of a whole text taken as one window."""
        ids = [buckets(text[s:e], self.params) for s, e in self.segments(text)]
        if self.params.window_sum:
            return self.combine([self.part(i) for i in ids]) if ids else _sigmoid(self.bias)
        return self.probabilities(np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64))

    def segments(self, text: str) -> list[tuple[int, int]]:
        """Spans of the segments of a whole text, as this model cuts them."""
        win = self.windowing
        return segments(text, win.max_segment, win.min_segment)

    @property
    def max_segment(self) -> int:
        """Longest segment, in characters."""
        return self.windowing.max_segment

    def limits(self, text: str) -> FloatArray:
        """The thresholds that apply to ``text`` (Latin-script text has its own)."""
        return self.script_limits(is_latin(*script_counts(text)))

    def script_limits(self, latin: bool) -> FloatArray:
        """The thresholds of Latin-script text, or of any other."""
        return self._latin if latin else self.thresholds

    def score(self, text: str) -> dict[str, float]:
        """Class -> probability for a whole text taken as one window."""
        probs = self.text_probabilities(text)
        return {c: float(p) for c, p in zip(self.classes, probs, strict=True)}

    def score_many(self, texts: Sequence[str]) -> FloatArray:
        """Probabilities of many whole texts, one row each."""
        out = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.text_probabilities(text)
        return out

    def save(self, folder: str | Path) -> None:
        """Write ``model.npz`` and ``model.json`` into ``folder`` (created if needed)."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path / ARRAYS,
            weights=self.weights,
            bias=self.bias,
            thresholds=self.thresholds,
            thresholds_latin=self._latin,
        )
        meta = {
            "format": FORMAT,
            "features": self.params.to_dict(),
            "windowing": self.windowing.to_dict(),
            "classes": list(self.classes),
            "thresholds": _named(self.classes, self.thresholds),
            "thresholds_latin": _named(self.classes, self._latin),
            "info": dict(self.info),
        }
        text = json.dumps(meta, ensure_ascii=False, indent=2) + "\n"
        (path / METADATA).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> ClassifierModel:
        """Read a model folder; arrays are loaded with ``allow_pickle=False``.

        Raises:
            ModelError: a file is missing or the two files disagree.
        """
        path = Path(folder)
        try:
            meta = json.loads((path / METADATA).read_text(encoding="utf-8"))
            with np.load(path / ARRAYS, allow_pickle=False) as arrays:
                weights = arrays["weights"]
                bias = arrays["bias"].astype(np.float32)
                thresholds = arrays["thresholds"].astype(np.float32)
                latin = arrays.get("thresholds_latin")
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot read classifier model in {path}: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelError(f"{path / METADATA}: format must be {FORMAT!r}")
        if weights.dtype != np.float16:
            raise ModelError(f"{path / ARRAYS}: weights must be float16, not {weights.dtype}")
        try:
            params = FeatureParams(**meta["features"])
            windowing = Windowing(**meta.get("windowing", {}))
            classes = tuple(str(c) for c in meta["classes"])
        except (KeyError, TypeError) as exc:
            raise ModelError(f"{path / METADATA}: {exc}") from None
        return cls(
            params,
            classes,
            weights,
            bias,
            thresholds,
            windowing,
            meta.get("info", {}),
            None if latin is None else latin.astype(np.float32),
        )


def _sigmoid(logits: FloatArray) -> FloatArray:
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def _named(classes: Sequence[str], values: FloatArray) -> dict[str, float]:
    return {c: round(float(t), 6) for c, t in zip(classes, values, strict=True)}
