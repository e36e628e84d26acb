"""The ``classifier`` detector: the shipped n-gram model scored over sentence windows.

Text is cut into segments at 。！？!? and newlines, at a full stop followed by white
space, and after ``max_segment`` characters; a model may join sentences shorter than
``min_segment`` to the next (see ``segment_end``). Each segment with a
letter, digit or CJK character closes one window: that segment plus the segments just
before it that fit in ``window_chars``. A window whose score for a risk reaches the
threshold gives a finding spanning the window; a risk that fired on the previous
window too is not reported again until a window comes out clean. ``scan`` and
``stream`` walk the same windows, so a stream and its whole text give equal findings;
a stream holds back only the unfinished segment.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hegui.detect._classifier_features import (
    BoolArray,
    FloatArray,
    IntArray,
    buckets,
    is_latin,
    script_counts,
    segment_end,
)
from hegui.detect._classifier_model import ClassifierModel, ModelError
from hegui.detect._registry import detector
from hegui.detect._types import Finding
from hegui.policy._actions import Action, Severity

if TYPE_CHECKING:
    from hegui.policy import DetectorSpec, Policy

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "packs" / "cn" / "classifier"
"""Folder of the model that ships with hegui (trained by ``bench/classifier.py --train``)."""
_CONTENT = re.compile(r"\w")
_NO_IDS: IntArray = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int
    text: str
    ids: IntArray
    part: tuple[FloatArray, float] | None
    """Scored once when the model sums segments (``window_sum``), else None."""
    cjk: int
    latin: int


class ClassifierDetector:
    """Scores sentence windows with a ``ClassifierModel`` and reports risks over threshold."""

    name = "classifier"

    def __init__(
        self,
        model: ClassifierModel,
        action: Action,
        severity: Severity = Severity.MEDIUM,
        risks: Iterable[str] | None = None,
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.model = model
        self.action = action
        self.flag_only = action is Action.FLAG
        """Findings never mask or block, so a stream need not hold text back for them."""
        self.severity = severity
        wanted = set(model.classes if risks is None else risks)
        unknown = sorted(set(thresholds or {}) - set(model.classes))
        if unknown:
            raise ValueError(f"thresholds for unknown class(es) {', '.join(unknown)}")
        self.enabled = np.array([c in wanted for c in model.classes], dtype=np.bool_)
        limits = model.thresholds.copy()
        latin = model.script_limits(latin=True).copy()
        for cls, value in (thresholds or {}).items():
            limits[model.classes.index(cls)] = latin[model.classes.index(cls)] = float(value)
        self.thresholds = limits
        self.thresholds_latin = latin
        """Thresholds of Latin-script (English) windows, calibrated apart."""

    def _fire(
        self, window: Sequence[_Segment], probs: FloatArray, latin: bool
    ) -> tuple[BoolArray, list[Finding]]:
        hot: BoolArray = (probs >= (self.thresholds_latin if latin else self.thresholds)) & (
            self.enabled
        )
        if not hot.any():
            return hot, []
        start = window[0].start
        text = "".join(s.text for s in window)
        found = [
            Finding(
                detector=self.name,
                risk=self.model.classes[k],
                start=start,
                end=start + len(text),
                matched=text,
                term=self.model.classes[k],
                action=self.action,
                severity=self.severity,
                kind="classifier",
                details={"score": f"{probs[k]:.2f}"},
            )
            for k in np.flatnonzero(hot)
        ]
        return hot, found

    def scan(self, text: str) -> list[Finding]:
        """Findings of every sentence window of a whole text (same windows as a stream)."""
        segs = [(start, text[start:end]) for start, end in self.model.segments(text)]
        return _WindowState(self).push(segs, self.model)

    def stream(self) -> _ClassifierStream:
        """Fresh per-stream state."""
        return _ClassifierStream(self)


class _WindowState:
    """The recent segments, their running totals and the risks that fired last."""

    def __init__(self, det: ClassifierDetector) -> None:
        self.det = det
        self.recent: deque[_Segment] = deque()
        self.chars = self.cjk = self.latin = 0
        self.total = np.zeros(len(det.model.classes), dtype=np.float64)
        self.sq = 0.0
        self.last = np.zeros(len(det.model.classes), dtype=np.bool_)

    def _count(self, seg: _Segment, sign: int) -> None:
        self.chars += sign * len(seg.text)
        self.cjk += sign * seg.cjk
        self.latin += sign * seg.latin
        if seg.part is not None:
            (np.add if sign > 0 else np.subtract)(self.total, seg.part[0], out=self.total)
            self.sq += sign * seg.part[1]

    def push(self, segs: Sequence[tuple[int, str]], model: ClassifierModel) -> list[Finding]:
        """Findings of the windows that the segments ``segs`` (start, text) close, in order.

        The segments are featurised and scored together (``ClassifierModel.parts``);
        the windows are then walked one segment at a time.
        """
        if not segs:
            return []
        texts = [t for _, t in segs]
        if model.params.window_sum:
            totals, squares = model.parts(texts)
            parts: list[tuple[FloatArray, float] | None] = [
                (totals[k], float(squares[k])) for k in range(len(texts))
            ]
            ids: list[IntArray] = [_NO_IDS] * len(texts)
        else:
            parts = [None] * len(texts)
            ids = [buckets(t, model.params) for t in texts]
        found: list[Finding] = []
        for (start, text), i, part, scripts in zip(
            segs, ids, parts, map(script_counts, texts), strict=True
        ):
            found += self._window(_Segment(start, text, i, part, *scripts), model)
        return found

    def _window(self, seg: _Segment, model: ClassifierModel) -> list[Finding]:
        self.recent.append(seg)
        self._count(seg, 1)
        while len(self.recent) > 1 and self.chars > model.windowing.window_chars:
            self._count(self.recent.popleft(), -1)
        if not _CONTENT.search(seg.text):
            return []
        if model.params.window_sum:
            probs = model.summed(self.total, self.sq)
        else:
            probs = model.probabilities(np.concatenate([s.ids for s in self.recent]))
        hot, found = self.det._fire(self.recent, probs, is_latin(self.cjk, self.latin))
        new = [f for f in found if not self.last[self.det.model.classes.index(f.risk)]]
        self.last = hot
        return new


class _ClassifierStream:
    def __init__(self, det: ClassifierDetector) -> None:
        self.det = det
        self.state = _WindowState(det)

    def scan(self, buf: str, start: int, offset: int, final: bool) -> tuple[list[Finding], int]:
        # ``start`` is always the first character of the unfinished segment
        model = self.det.model
        win = model.windowing
        segs: list[tuple[int, str]] = []
        pos = start
        while (end := segment_end(buf, pos, win.max_segment, final, win.min_segment)) is not None:
            segs.append((offset + pos, buf[pos:end]))
            pos = end
        return self.state.push(segs, model), pos


@detector("classifier")
def _build_classifier(spec: DetectorSpec, policy: Policy) -> ClassifierDetector:
    folder = Path(str(spec.options.get("model") or SHIPPED_MODEL)).expanduser()
    if not folder.is_absolute():
        folder = policy.source.parent / folder
    try:
        model = ClassifierModel.load(folder)
    except ModelError as exc:
        raise ValueError(str(exc)) from None
    unknown = sorted(c for c in model.classes if c not in policy.risks)
    if unknown:
        raise ValueError(f"classifier classes not in policy {policy.id!r}: {', '.join(unknown)}")
    risks = spec.options.get("risks")
    threshold = spec.options.get("threshold")
    if isinstance(threshold, int | float):
        thresholds = {c: float(threshold) for c in model.classes}
    else:
        thresholds = {str(k): float(v) for k, v in (threshold or {}).items()}
    return ClassifierDetector(
        model,
        spec.action,
        spec.severity,
        risks=_expand(risks, model.classes) if risks is not None else None,
        thresholds=thresholds,
    )


def _expand(risks: Iterable[Any], classes: tuple[str, ...]) -> list[str]:
    """Classes selected by risk ids; a group id (``A.2``) selects every class under it."""
    out: list[str] = []
    for r in map(str, risks):
        picked = [c for c in classes if c == r or c.startswith(r + ".")]
        if not picked:
            raise ValueError(f"classifier option risks: {r!r} matches no class of the model")
        out += picked
    return out
