"""The ``classifier`` detector: the shipped n-gram model scored over sentence windows.

Text is cut into segments at 。！？!? and newlines, at a full stop followed by white
space, and after ``max_segment`` characters (see ``segment_end``). Each segment with a
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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hegui.detect._classifier_features import IntArray, buckets, segment_end
from hegui.detect._classifier_model import ClassifierModel, ModelError
from hegui.detect._registry import detector
from hegui.detect._types import Finding
from hegui.policy._actions import Action, Severity

if TYPE_CHECKING:
    from hegui.policy import DetectorSpec, Policy

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "packs" / "cn" / "classifier"
"""Folder of the model that ships with hegui (trained by ``bench/classifier.py --train``)."""
_CONTENT = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int
    text: str
    ids: IntArray


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
        for cls, value in (thresholds or {}).items():
            limits[model.classes.index(cls)] = float(value)
        self.thresholds = limits

    def _fire(self, window: Iterable[_Segment]) -> tuple[np.ndarray[Any, Any], list[Finding]]:
        segs = list(window)
        probs = self.model.probabilities(np.concatenate([s.ids for s in segs]))
        hot = (probs >= self.thresholds) & self.enabled
        start = segs[0].start
        text = "".join(s.text for s in segs)
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
        state = _WindowState(self)
        found: list[Finding] = []
        for seg in _segments(text, self.model.max_segment):
            found.extend(state.push(seg, self.model))
        return found

    def stream(self) -> _ClassifierStream:
        """Fresh per-stream state."""
        return _ClassifierStream(self)


def _segments(text: str, max_segment: int) -> Iterator[tuple[int, str]]:
    pos = 0
    while (end := segment_end(text, pos, max_segment, final=True)) is not None:
        yield pos, text[pos:end]
        pos = end


class _WindowState:
    """The recent segments and the risks that fired on the last window."""

    def __init__(self, det: ClassifierDetector) -> None:
        self.det = det
        self.recent: deque[_Segment] = deque()
        self.chars = 0
        self.last = np.zeros(len(det.model.classes), dtype=np.bool_)

    def push(self, seg: tuple[int, str], model: ClassifierModel) -> list[Finding]:
        start, text = seg
        self.recent.append(_Segment(start, text, buckets(text, model.params)))
        self.chars += len(text)
        while len(self.recent) > 1 and self.chars > model.windowing.window_chars:
            self.chars -= len(self.recent.popleft().text)
        if not _CONTENT.search(text):
            return []
        hot, found = self.det._fire(self.recent)
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
        found: list[Finding] = []
        pos = start
        while (end := segment_end(buf, pos, model.max_segment, final)) is not None:
            found.extend(self.state.push((offset + pos, buf[pos:end]), model))
            pos = end
        return found, pos


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
