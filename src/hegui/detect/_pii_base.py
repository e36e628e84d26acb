"""Value types and the matching machinery shared by every PII recognizer.

See :mod:`hegui.detect._pii` for the kinds, their rules and the streaming contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from hegui.detect._fastscan import digit_runs, first_of


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One validated piece of personal data.

    Attributes:
        kind: Name of the recognizer that found it (a key of ``RECOGNIZERS``).
        start: Code-point offset of the first character in the scanned text.
        end: Code-point offset just past the last character.
        value: ``text[start:end]``, separators and prefixes included.
    """

    kind: str
    start: int
    end: int
    value: str


Validator = Callable[[str, re.Match[str]], bool]
"""Decides whether a pattern match is real PII; gets the whole text and the match."""

Runs = list[tuple[int, int]]
Seed = re.Pattern[str] | Callable[[str, Runs], list[int]]
"""See :attr:`Recognizer.seed`."""

_LOOKAHEAD: Final = 2
"""Characters after a match that a pattern may read (e.g. ``(?! [0-9])``)."""


@dataclass(frozen=True, slots=True)
class Recognizer:
    """A pattern plus validator for one kind of PII, with what streaming needs.

    Attributes:
        kind: Kind name reported in :class:`PiiMatch`.
        max_len: Upper bound on the length of any span ``pattern`` can match,
            separators and prefixes included (valid matches are never longer).
        pattern: Proposes candidate spans.  It has at most one match per start
            position and looks at no more than ``max_len + 2`` characters from the
            start and :data:`LEFT_CONTEXT` characters before it.
        validate: Accepts or rejects one candidate.
        seed: What every candidate contains, found in one cheap pass; the pattern only
            runs near its hits.  Either a regex (hits are its ``finditer`` starts) or
            a filter ``(text, runs) -> hits`` that gets the spans ``(a, b)`` of all
            maximal runs of three or more ASCII digits and returns the starts of
            those that may belong to a candidate.
        seed_back: A candidate starts at most this many characters before the first
            seed hit inside it.
        alphabet: Every character a candidate may contain, and every character the
            pattern may read past while looking ahead.
        start: Matches exactly where a candidate could begin (left boundary plus
            first character); used to find matches still in progress.
        viable: Optional extra test for matches in progress: it must match all of
            the text from a possible start to the end of the text, and it matches
            every beginning of a candidate (with the characters read after it).
        seed_lead: For a regex ``seed``: ASCII characters one of which begins every
            hit, so the search starts at the first of them and is skipped in a text
            without any (empty: no such promise).
    """

    kind: str
    max_len: int
    pattern: re.Pattern[str]
    validate: Validator
    seed: Seed
    seed_back: int
    alphabet: frozenset[str]
    start: re.Pattern[str]
    viable: re.Pattern[str] | None = None
    seed_lead: str = ""

    def find(self, text: str) -> list[PiiMatch]:
        """Return all validated matches of this kind, sorted by start.

        Matches of one kind never share a start but may overlap (a mobile number
        with and without its ``+86``); :func:`find_pii` resolves overlaps.

        Args:
            text: The text to scan.

        Returns:
            The matches in ``text``.
        """
        return self.scan(text)

    def scan(self, text: str, pos: int = 0) -> list[PiiMatch]:
        """Return validated matches starting at or after ``pos``.

        ``text[:pos]`` still serves as left context (boundaries, keywords), so the
        result equals the part of ``find(text)`` that starts at ``pos`` or later.

        Args:
            text: The text to scan.
            pos: First start offset of interest.

        Returns:
            The matches, sorted by start.
        """
        return self._scan(
            text, _Seeds(text, pos).windows(self.seed, self.seed_back, self.seed_lead)
        )

    def _scan(self, text: str, windows: list[tuple[int, int]]) -> list[PiiMatch]:
        out: list[PiiMatch] = []
        n = len(text)
        reach = self.max_len + _LOOKAHEAD
        search = self.pattern.search
        for lo, hi in windows:
            # No candidate starting at or before ``hi`` reads at or past ``endpos``,
            # so cutting the search there cannot change any of them.
            endpos = min(n, hi + reach + 1)
            at = lo
            while (m := search(text, at, endpos)) is not None and m.start() <= hi:
                if self.validate(text, m):
                    out.append(PiiMatch(self.kind, m.start(), m.end(), m.group()))
                at = m.start() + 1
        return out

    def live_start(self, text: str, pos: int = 0) -> int:
        """Return the earliest start of a match that appended text could create or change.

        Only starts at or after ``pos`` are considered.

        Args:
            text: Text received so far.
            pos: Nothing before this offset is considered.

        Returns:
            That offset, or ``len(text)`` when no match is in progress.
        """
        n = len(text)
        floor = max(pos, n - self.max_len - _LOOKAHEAD)
        i = n
        alphabet = self.alphabet
        while i > floor and text[i - 1] in alphabet:
            i -= 1
        match = self.start.match
        viable = self.viable.fullmatch if self.viable is not None else None
        for s in range(i, n):
            if match(text, s) is not None and (viable is None or viable(text, s)):
                return s
        return n


_DIGIT_RUN: Final = re.compile(r"[0-9]+")


class _Seeds:
    """Seed hits and candidate start windows of one text, shared by recognizers."""

    __slots__ = ("_cache", "_pos", "_runs", "_text")

    def __init__(self, text: str, pos: int) -> None:
        self._text = text
        self._pos = pos
        self._runs: Runs | None = None
        self._cache: dict[tuple[Seed, int], list[tuple[int, int]]] = {}

    def _hits(self, seed: Seed, lead: str) -> list[int]:
        if isinstance(seed, re.Pattern):
            at = first_of(self._text, lead, self._pos) if lead else self._pos
            return [m.start() for m in seed.finditer(self._text, at)] if at >= 0 else []
        if self._runs is None:  # the spans of re.finditer("[0-9]{3,}"), found in C
            self._runs = digit_runs(self._text, self._pos)
        return seed(self._text, self._runs)

    def windows(self, seed: Seed, back: int, lead: str = "") -> list[tuple[int, int]]:
        """Disjoint closed intervals holding every possible candidate start."""
        key = (seed, back)
        out = self._cache.get(key)
        if out is None:
            out = []
            for hit in self._hits(seed, lead):
                lo = max(self._pos, hit - back)
                if out and lo <= out[-1][1] + 1:
                    out[-1] = (out[-1][0], hit)
                else:
                    out.append((lo, hit))
            self._cache[key] = out
        return out


# --------------------------------------------------------------------------- patterns
