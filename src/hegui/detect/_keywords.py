"""The lexicon detector: a keyword library compiled into the folding C matcher."""

from __future__ import annotations

import hashlib
import json
import os
from array import array
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from hegui.detect import _variants
from hegui.detect._fastscan import Matcher
from hegui.detect._lexicon import Lexicon, LexiconEntry, LexiconError, load_lexicon
from hegui.detect._normalize import FoldOptions, fold_term, is_word_term
from hegui.detect._registry import detector
from hegui.detect._tables import cache_dir, cached_fold_table
from hegui.detect._types import Finding
from hegui.detect._variants import homophone_variants, pinyin_variants
from hegui.policy._actions import Action, Severity

if TYPE_CHECKING:
    from hegui.policy import DetectorSpec, Policy


@dataclass(frozen=True, slots=True)
class _Pattern:
    entries: tuple[int, ...]
    variant: str
    allow: bool


@dataclass
class _PatternSet:
    """Folded patterns deduplicated by (folded text, word flag)."""

    folded: list[str] = field(default_factory=list)
    word: bytearray = field(default_factory=bytearray)
    info: list[_Pattern] = field(default_factory=list)
    index: dict[tuple[str, bool], int] = field(default_factory=dict)

    def add(self, folded: str, word: bool, entry: int | None, variant: str) -> None:
        key = (folded, word)
        pid = self.index.get(key)
        if pid is None:
            self.index[key] = len(self.folded)
            self.folded.append(folded)
            self.word.append(word)
            self.info.append(
                _Pattern((entry,) if entry is not None else (), variant, entry is None)
            )
            return
        old = self.info[pid]
        if entry is None:
            self.info[pid] = _Pattern(old.entries, old.variant, True)
        elif entry not in old.entries:
            self.info[pid] = _Pattern((*old.entries, entry), old.variant, old.allow)


_VARIANTS_SOURCE = Path(_variants.__file__).read_bytes()


def _compute_spellings(wanted: list[tuple[str, str]]) -> dict[str, list[str]]:
    out = {}
    for kind, keyword in wanted:
        spell = pinyin_variants if kind == "pinyin" else homophone_variants
        out[f"{kind}:{keyword}"] = spell(keyword)
    return out


def variant_spellings(entries: Sequence[LexiconEntry]) -> dict[str, list[str]]:
    """``"<kind>:<keyword>"`` -> the pinyin or homophone spellings the entries ask for.

    Computing them imports pypinyin and walks its dictionaries (about 0.3 s, paid by
    every process that builds a scanner: each corpus worker, each gateway start), so
    the result is kept in the cache directory under a hash of what decides it: the
    keywords, the code that spells them and pypinyin's version.
    """
    wanted = sorted({(kind, e.keyword) for e in entries for kind in e.variants})
    if not wanted:
        return {}
    folder = cache_dir()
    if folder is None:
        return _compute_spellings(wanted)
    try:
        pinyin_version = version("pypinyin")
    except PackageNotFoundError:  # pragma: no cover - pypinyin is a dependency
        pinyin_version = "?"
    digest = hashlib.sha256(json.dumps([wanted, pinyin_version]).encode())
    digest.update(_VARIANTS_SOURCE)
    path = folder / f"variants-{digest.hexdigest()[:24]}.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        return {f"{k}:{w}": [str(x) for x in cached[f"{k}:{w}"]] for k, w in wanted}
    except (OSError, ValueError, TypeError, KeyError):
        pass  # absent or damaged: spell again and rewrite it
    found = _compute_spellings(wanted)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs the spelling next time
    return found


class CompiledLexicon:
    """A lexicon compiled for one set of folding options."""

    def __init__(self, lexicon: Lexicon, options: FoldOptions, max_gap: int) -> None:
        self.lexicon = lexicon
        self.table: array[int] = cached_fold_table(options)
        patterns = _PatternSet()
        spellings = variant_spellings(lexicon.entries)
        for i, entry in enumerate(lexicon.entries):
            folded = fold_term(self.table, entry.keyword)
            if not folded:
                raise LexiconError(
                    entry.source, None, f"keyword {entry.keyword!r} is empty once folded"
                )
            patterns.add(folded, self._word(entry, folded), i, "")
            for kind in entry.variants:
                for spelling in spellings[f"{kind}:{entry.keyword}"]:
                    fv = fold_term(self.table, spelling)
                    if fv and fv != folded:
                        patterns.add(fv, is_word_term(self.table, fv), i, kind)
        for word in lexicon.allowlist:
            folded = fold_term(self.table, word)
            if folded:
                patterns.add(folded, False, None, "")
        self.patterns = patterns.info
        veto = bytes(info.allow for info in patterns.info)
        self.matcher = Matcher(self.table, patterns.folded, bytes(patterns.word), max_gap, veto)
        self.max_pattern_len = max((len(f) for f in patterns.folded), default=0)

    def _word(self, entry: LexiconEntry, folded: str) -> bool:
        if entry.match:
            return entry.match == "word"
        return is_word_term(self.table, folded)

    def hits(
        self, text: str, start: int = 0, final: bool = True
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]], int]:
        """Keyword hits and allowlist spans in ``text[start:]``, and the safe index."""
        raw, safe = self.matcher.scan(text, start, final)
        keyword, allow = self.split(raw)
        return keyword, allow, safe

    def split(
        self, raw: list[tuple[int, int, int]]
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
        """The matcher's hits sorted into keyword hits and allowlist spans."""
        keyword: list[tuple[int, int, int]] = []
        allow: list[tuple[int, int]] = []
        for s, e, pid in raw:
            info = self.patterns[pid]
            if info.allow:
                allow.append((s, e))
            if info.entries:
                keyword.append((s, e, pid))
        return keyword, allow


class _AllowIndex:
    """Answers "does an allowlist span contain [s, e)?" in O(log n)."""

    def __init__(self, spans: Sequence[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self.starts = [a for a, _ in ordered]
        self.reach: list[int] = []  # the furthest end among spans starting at or before
        far = -1
        for _, b in ordered:
            far = max(far, b)
            self.reach.append(far)

    def __call__(self, s: int, e: int) -> bool:
        if not self.starts:
            return False
        i = bisect_right(self.starts, s)
        return i > 0 and self.reach[i - 1] >= e


class LexiconDetector:
    """Finds keyword-library terms, evasions included, and maps them to risks."""

    name = "lexicon"

    def __init__(
        self,
        compiled: CompiledLexicon,
        action: Action,
        severity_actions: Mapping[Severity, Action] | None = None,
    ) -> None:
        self.compiled = compiled
        self.action = action
        # e.g. low -> flag: topic words are counted, how-to phrases are blocked
        self.severity_actions = dict(severity_actions or {})
        self._out_cache: dict[
            int, tuple[tuple[str, str, Action, Severity, Mapping[str, str]], ...]
        ] = {}

    def _outputs(
        self, pid: int
    ) -> tuple[tuple[str, str, Action, Severity, Mapping[str, str]], ...]:
        """What each entry behind a pattern reports, built once per pattern."""
        cached = self._out_cache.get(pid)
        if cached is None:
            info = self.compiled.patterns[pid]
            rows = []
            for i in info.entries:
                entry = self.compiled.lexicon.entries[i]
                details = {"category": f"{entry.level1}/{entry.level2}"}
                if info.variant:
                    details["variant"] = info.variant
                action = self.severity_actions.get(entry.severity, self.action)
                rows.append(
                    (entry.risk, entry.keyword, action, entry.severity, MappingProxyType(details))
                )
            cached = self._out_cache[pid] = tuple(rows)
        return cached

    def _findings(
        self,
        text: str,
        hits: list[tuple[int, int, int]],
        allow: Sequence[tuple[int, int]],
        offset: int,
    ) -> list[Finding]:
        out = []
        inside = _AllowIndex(allow)
        name = self.name
        for s, e, pid in hits:
            if inside(s + offset, e + offset):
                continue
            for risk, term, action, severity, details in self._outputs(pid):
                out.append(
                    Finding(
                        name,
                        risk,
                        s + offset,
                        e + offset,
                        text[s:e],
                        term,
                        action,
                        severity,
                        "keyword",
                        details,
                    )
                )
        return out

    def scan(self, text: str) -> list[Finding]:
        """All keyword findings in a whole text."""
        raw, _ = self.compiled.matcher.scan(text)
        if not raw:
            return []  # most texts match nothing: the call is then the whole cost
        hits, allow = self.compiled.split(raw)
        return self._findings(text, hits, allow, 0)

    def stream(self) -> _LexiconStream:
        """Fresh per-stream state."""
        return _LexiconStream(self)


class _LexiconStream:
    def __init__(self, det: LexiconDetector) -> None:
        self.det = det
        self.allow: set[tuple[int, int]] = set()  # absolute allowlist spans still relevant
        # Hits decided early although they start in the held-back tail: the next rescan
        # finds them again, so remember them until the tail moves past their start.
        self.reported: set[tuple[int, int, int]] = set()

    def scan(self, buf: str, start: int, offset: int, final: bool) -> tuple[list[Finding], int]:
        hits, allow, safe = self.det.compiled.hits(buf, start, final)
        if not hits and not allow and not self.reported and not self.allow:
            return [], safe  # nothing found and nothing remembered: the common case
        self.allow.update((s + offset, e + offset) for s, e in allow)
        fresh = [h for h in hits if (h[0] + offset, h[1] + offset, h[2]) not in self.reported]
        found = self.det._findings(buf, fresh, tuple(self.allow), offset)
        horizon = offset + safe
        self.reported = {
            r
            for r in self.reported | {(s + offset, e + offset, p) for s, e, p in fresh}
            if r[0] >= horizon
        }
        self.allow = {span for span in self.allow if span[1] > horizon}
        return found, safe


_COMPILED: dict[tuple[object, ...], CompiledLexicon] = {}


def compile_lexicon(
    *,
    files: Sequence[str],
    mapping: str | None,
    allowlist: Sequence[str],
    options: FoldOptions,
    max_gap: int,
    known_risks: frozenset[str] | None,
) -> CompiledLexicon:
    """Load and compile a lexicon, reusing an earlier compilation of the same files."""
    stamps = tuple(
        (p, Path(p).stat().st_mtime_ns if Path(p).exists() else 0)
        for p in (*files, *(mapping and [mapping] or []), *allowlist)
    )
    key = (stamps, options, max_gap, known_risks)
    if key not in _COMPILED:
        lexicon = load_lexicon(files, mapping, allowlist, known_risks)
        _COMPILED[key] = CompiledLexicon(lexicon, options, max_gap)
    return _COMPILED[key]


def fold_options(policy: Policy) -> tuple[FoldOptions, int]:
    """The folding options and separator gap a policy asks for."""
    n = policy.normalization
    opts = FoldOptions(
        fullwidth=n.fullwidth,
        casefold=n.casefold,
        invisible=n.invisible,
        traditional=n.traditional,
        hard_breaks=n.hard_breaks,
    )
    return opts, n.max_gap


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    raise LexiconError("policy", None, f"expected a path or a list of paths, got {value!r}")


@detector("lexicon")
def _build_lexicon(spec: DetectorSpec, policy: Policy) -> LexiconDetector:
    opts, gap = fold_options(policy)
    files = _as_list(spec.options.get("files"))
    if not files:
        raise LexiconError(
            policy.source, None, "detectors.lexicon.options.files names no keyword library"
        )
    compiled = compile_lexicon(
        files=files,
        mapping=spec.options.get("mapping"),
        allowlist=_as_list(spec.options.get("allowlist")),
        options=opts,
        max_gap=gap,
        known_risks=frozenset(policy.risks),
    )
    raw = spec.options.get("severity_actions") or {}
    try:
        by_severity = {Severity(k): Action(v) for k, v in dict(raw).items()}
    except (TypeError, ValueError) as exc:
        raise LexiconError(
            policy.source, None, f"detectors.lexicon.options.severity_actions: {exc}"
        ) from None
    return LexiconDetector(compiled, spec.action, by_severity)
