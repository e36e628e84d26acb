"""The classifier model: plain arrays plus JSON metadata, scored with numpy alone.

A model folder holds ``model.npz`` (``weights`` float16 of shape ``(2**bits, classes)``,
``bias`` and ``thresholds`` float32) and ``model.json`` (format, feature parameters,
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

    def logits(self, bucket_ids: IntArray) -> FloatArray:
        """Raw scores of one window given the bucket ids of its n-grams."""
        idx, val = vectorize(bucket_ids)
        out: FloatArray = val @ self.weights[idx].astype(np.float32) + self.bias
        return out

    def probabilities(self, bucket_ids: IntArray) -> FloatArray:
        """Per-class probability of one window (sigmoid of the logits)."""
        logits = self.logits(bucket_ids)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def buckets(self, text: str) -> IntArray:
        """Bucket ids of a whole text taken as one window."""
        parts = [buckets(text[s:e], self.params) for s, e in segments(text, self.max_segment)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    @property
    def max_segment(self) -> int:
        """Longest segment, in characters."""
        return self.windowing.max_segment

    def score(self, text: str) -> dict[str, float]:
        """Class -> probability for a whole text taken as one window."""
        probs = self.probabilities(self.buckets(text))
        return {c: float(p) for c, p in zip(self.classes, probs, strict=True)}

    def score_many(self, texts: Sequence[str]) -> FloatArray:
        """Probabilities of many whole texts, one row each."""
        out = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.probabilities(self.buckets(text))
        return out

    def save(self, folder: str | Path) -> None:
        """Write ``model.npz`` and ``model.json`` into ``folder`` (created if needed)."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path / ARRAYS, weights=self.weights, bias=self.bias, thresholds=self.thresholds
        )
        meta = {
            "format": FORMAT,
            "features": self.params.to_dict(),
            "windowing": {
                "max_segment": self.windowing.max_segment,
                "window_chars": self.windowing.window_chars,
            },
            "classes": list(self.classes),
            "thresholds": {
                c: round(float(t), 6) for c, t in zip(self.classes, self.thresholds, strict=True)
            },
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
        return cls(params, classes, weights, bias, thresholds, windowing, meta.get("info", {}))
