"""The scanner: every detector a policy enables, over whole texts or streams."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from hegui.detect._registry import Detector, DetectorStream, build_detector
from hegui.detect._types import Finding, Release
from hegui.policy._actions import Action

if TYPE_CHECKING:
    from hegui.policy import Policy

Direction = Literal["input", "output"]
MASK_CHAR = "*"
# Text kept before the earliest position any detector resumes from, so detectors can
# see word and number boundaries across a release point (PII rules read up to 24).
CONTEXT_CHARS = 32


def _order(f: Finding) -> tuple[int, int, str, str, str]:
    return (f.start, f.end, f.detector, f.risk, f.term)


def apply_actions(text: str, findings: Iterable[Finding], offset: int = 0) -> tuple[str, bool]:
    """Apply masks to ``text`` and cut it at the first block.

    ``offset`` is the position of ``text[0]`` in the coordinates of the findings.
    Returns the text that may be shown and whether a block cut it.
    """
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=_order):
        s = min(max(f.start - offset, 0), len(text))
        e = min(max(f.end - offset, 0), len(text))
        if f.action is Action.BLOCK:
            out.append(text[pos : max(s, pos)])
            return "".join(out), True
        elif f.action is Action.MASK and e > pos:
            out.append(text[pos : max(s, pos)])
            out.append(MASK_CHAR * (e - max(s, pos)))
            pos = e
    out.append(text[pos:])
    return "".join(out), False


class Scanner:
    """Runs a fixed set of detectors; build one per policy and direction and reuse it."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self.detectors = tuple(detectors)

    @classmethod
    def from_policy(cls, policy: Policy, direction: Direction | None = None) -> Scanner:
        """The enabled detectors of ``policy`` that apply to ``direction`` (all if None)."""
        built = []
        for name, spec in policy.detectors.items():
            if not spec.enabled or (direction is not None and direction not in spec.applies_to):
                continue
            built.append(build_detector(name, spec, policy))
        return cls(built)

    def scan(self, text: str) -> list[Finding]:
        """All findings of all detectors in a whole text, ordered by position."""
        found: list[Finding] = []
        for d in self.detectors:
            found += d.scan(text)
        if len(found) > 1:
            found.sort(key=_order)
        return found

    def stream(self) -> StreamScanner:
        """A scanner for one stream of chunks (one model answer, say)."""
        return StreamScanner(self.detectors)


class StreamScanner:
    """Releases streamed text only once no finding can still cover it.

    Every chunk is appended to a small buffer that each detector rescans from where it
    last stopped; text before the earliest position any detector that may mask or
    block still needs is released, with masks applied (flag-only detectors, such as a
    classifier the policy sets to ``flag``, do not hold text back). A block stops the
    stream for good: the text before the blocked span is released and nothing after it
    ever is.
    """

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._streams: list[DetectorStream] = [d.stream() for d in detectors]
        # A detector whose findings can only be flags never changes or stops the text,
        # so the release does not wait for it (the classifier tier on a flag policy):
        # it still scans everything and its findings still arrive, just after the text.
        self._gates = [not getattr(d, "flag_only", False) for d in detectors]
        self._resume = [0] * len(self._streams)  # absolute position each detector goes on from
        self._buf = ""
        self._base = 0  # absolute position of _buf[0]
        self._released = 0  # absolute position up to which text was let out
        self._held: list[Finding] = []  # decided findings whose span is not released yet
        self._closed = False
        self._cap = 1 << 62  # position of the earliest block: the release never passes it
        self.blocked = False
        self.findings: list[Finding] = []

    @property
    def holdback(self) -> int:
        """Characters received but not yet released."""
        return self._base + len(self._buf) - self._released

    def feed(self, chunk: str) -> Release:
        """Add a chunk; return what can be released now.

        After a block nothing more is released, but chunks are still scanned, so the
        findings of a blocked stream are complete evidence of what was received.
        """
        if self._closed:
            raise RuntimeError("feed() after close()")
        self._buf += chunk
        return self._step(final=False)

    def close(self) -> Release:
        """End of stream: decide and release everything left."""
        if self._closed:
            return Release("", (), self.blocked)
        self._closed = True
        return self._step(final=True)

    def _step(self, final: bool) -> Release:
        base, buf = self._base, self._buf
        upto = base + len(buf)
        new: list[Finding] = []
        resume = self._resume
        for i, st in enumerate(self._streams):
            found, safe = st.scan(buf, resume[i] - base, base, final)
            resume[i] = base + safe
            if self._gates[i]:
                upto = min(upto, base + safe)
            if found:
                new.extend(found)
        if new:
            new.sort(key=_order)
            self.findings.extend(new)
            self._held.extend(f for f in new if f.action is not Action.FLAG)
        if self._held or self.blocked:
            text = self._release(upto)
        elif upto > self._released:  # nothing to apply: the common case
            text = buf[self._released - base : upto - base]
            self._released = upto
        else:
            text = ""
        keep_from = min([*resume, self._released]) - CONTEXT_CHARS
        if keep_from > base:
            self._buf = buf[keep_from - base :]
            self._base = keep_from
        return Release(text, tuple(new), self.blocked)

    def _release(self, upto: int) -> str:
        for f in self._held:
            if f.action is Action.BLOCK:  # nothing at or after a block is ever released
                self._cap = min(self._cap, f.start)
                self.blocked = True
        upto = min(upto, self._cap)
        moved = True
        while moved:  # never cut through a mask; pulling back may expose another one
            moved = False
            for f in self._held:
                if f.action is Action.MASK and f.start < upto < f.end:
                    upto, moved = f.start, True
        if upto <= self._released:
            self._held = [f for f in self._held if f.action is Action.MASK]
            return ""
        start = self._released
        segment = self._buf[start - self._base : upto - self._base]
        applied = [f for f in self._held if f.action is Action.MASK and f.start < upto]
        text, _ = apply_actions(segment, applied, start)
        self._held = [f for f in self._held if f.action is Action.MASK and f.end > upto]
        self._released = upto
        return text
