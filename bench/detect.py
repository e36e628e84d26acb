"""Benchmark of the detection engine against raw multi-pattern matchers, in one run.

Generates (fixed seed) a mixed Chinese/English lexicon and a mixed text with planted
keywords, some of them disguised (full width, case, zero-width characters, inserted
separators, traditional characters). Prints one table and writes JSON:

- MB/s (UTF-8 bytes of input per second, one core) of hegui's whole pipeline
  (fold + match + spans in the original text) and of hyperscan, daachorse,
  ahocorasick-rs and pyahocorasick matching the raw text without normalization;
- recall of the planted keywords, clean and disguised, for each;
- streaming cost per 20-character chunk and the largest holdback seen.

``--corpus-text MB`` measures instead what ``hegui corpus scan`` spends on detection: MB
(UTF-8) per CPU second of the cn pack's lexicon and PII detectors, alone and together,
one ``scan`` call per document, on documents as ``bench/corpus.py`` generates them (its
generator, seed and all), the fastest of ``--repeat`` runs, with the load average.

Usage: python bench/detect.py [--terms 50000] [--mb 50] [--out bench/results/detect.json]
       python bench/detect.py --corpus-text 60 [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hegui.detect import (
    Action,
    CompiledLexicon,
    FoldOptions,
    Lexicon,
    LexiconDetector,
    LexiconEntry,
    Scanner,
    Severity,
)

SEED = 20261123
# Share of sentences that carry a planted term: about one term per 3.5 KB of text, far
# denser than real model output or corpora, so matching cost shows, and enough plants
# (about 14,000 in 50 MB) to measure recall per disguise.
PLANT_RATE = 0.02
EVASIONS = ("fullwidth", "case", "zero_width", "separator", "traditional")


def _zipf_cum(n: int, s: float) -> list[float]:
    """Cumulative Zipf weights, so random.choices does not re-sum them on every call."""
    out, acc = [], 0.0
    for i in range(n):
        acc += 1.0 / (i + 1) ** s
        out.append(acc)
    return out


def _common_han(rng: random.Random) -> list[str]:
    chars = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    level1, level2 = chars[:3755], chars[3755:]
    rng.shuffle(level1)
    rng.shuffle(level2)
    return level1 + level2


def _pseudo_words(rng: random.Random, n: int) -> list[str]:
    onsets = [
        "",
        "b",
        "c",
        "d",
        "f",
        "g",
        "h",
        "j",
        "k",
        "l",
        "m",
        "n",
        "p",
        "r",
        "s",
        "t",
        "v",
        "w",
        "z",
        "br",
        "ch",
        "cl",
        "dr",
        "fl",
        "gr",
        "pl",
        "pr",
        "sh",
        "st",
        "th",
        "tr",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "io"]
    codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt"]
    words: set[str] = set()
    while len(words) < n:
        syl = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
        words.add(
            "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(syl))
        )
    # Zipf's law of abbreviation: frequent words are short. Rank by length with noise.
    return sorted(sorted(words), key=lambda w: len(w) + rng.uniform(0, 4))


class Corpus:
    """The generated lexicon, text and planted keyword spans."""

    def __init__(
        self, n_terms: int, megabytes: float, seed: int = SEED, plant_rate: float = PLANT_RATE
    ) -> None:
        self.plant_rate = plant_rate
        rng = random.Random(seed)
        self.han = _common_han(rng)
        self.han_cw = _zipf_cum(len(self.han), 1.0)
        words = _pseudo_words(rng, 45_000)
        # The text speaks one vocabulary; the lexicon draws most of its English terms from
        # words the text never uses, as real blocked terms are rare in ordinary writing.
        rare = set(rng.sample(range(len(words)), 15_000))
        self.words = [w for i, w in enumerate(words) if i not in rare]
        self.rare_words = [w for i, w in enumerate(words) if i in rare]
        self.word_cw = _zipf_cum(len(self.words), 1.05)
        self.terms = self._lexicon(rng, n_terms)
        self.t2s_inverse = self._simplified_to_traditional()
        self.text, self.plants = self._text(rng, int(megabytes * 1_000_000))

    def _lexicon(self, rng: random.Random, n: int) -> list[str]:
        terms: set[str] = set()
        while len(terms) < n:
            if rng.random() < 0.6:
                # ordinary characters; two-character terms from the less common ones, as
                # a frequent bigram would not be a blocked term
                k = rng.choice((2, 3, 3, 4, 4, 5))
                pool = self.han[1000:] if k == 2 else self.han
                terms.add("".join(rng.choice(pool) for _ in range(k)))
            elif rng.random() < 0.7:
                terms.add(rng.choice(self.rare_words))
            else:
                # phrases of ordinary words, any of the vocabulary, most of them uncommon
                k = rng.choice((2, 2, 3))
                terms.add(" ".join(rng.choice(self.words) for _ in range(k)))
        out = sorted(terms)
        rng.shuffle(out)
        return out

    def _simplified_to_traditional(self) -> dict[str, str]:
        import opencc

        conv = opencc.OpenCC("s2t")
        chars = self.han
        trad = conv.convert("\n".join(chars)).split("\n")
        return {a: b for a, b in zip(chars, trad, strict=True) if a != b and len(b) == 1}

    def _disguise(self, rng: random.Random, term: str, how: str) -> str:
        if how == "fullwidth":
            return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in term)
        if how == "case":
            return "".join(c.upper() if rng.random() < 0.5 else c for c in term)
        if how == "zero_width":
            return "\u200b".join(term)
        if how == "separator":
            sep = rng.choice((" ", "*", ".", "-", "_", "·"))
            return sep.join(term.replace(" ", ""))
        return "".join(self.t2s_inverse.get(c, c) for c in term)  # traditional

    def _han_sentence(self, rng: random.Random) -> str:
        return "".join(
            rng.choices(self.han, cum_weights=self.han_cw, k=rng.randint(8, 40))
        ) + rng.choice("，。！？；")

    def _en_sentence(self, rng: random.Random) -> str:
        words = rng.choices(self.words, cum_weights=self.word_cw, k=rng.randint(5, 18))
        words[0] = words[0].capitalize()
        return " ".join(words) + rng.choice((". ", ", ", "! ", "? "))

    def _text(self, rng: random.Random, size: int) -> tuple[str, list[tuple[int, int, str, str]]]:
        parts: list[str] = []
        plants: list[tuple[int, int, str, str]] = []
        pos = 0
        written = 0
        while written < size:
            piece = self._han_sentence(rng) if rng.random() < 0.65 else self._en_sentence(rng)
            if rng.random() < self.plant_rate:
                term = rng.choice(self.terms)
                ascii_term = term.isascii()
                how = rng.choice(("clean", "clean", "clean", "clean", *EVASIONS))
                if how == "traditional" and (
                    ascii_term or not any(c in self.t2s_inverse for c in term)
                ):
                    how = "clean"
                if how == "fullwidth" and not ascii_term:
                    how = "clean"
                shown = term if how == "clean" else self._disguise(rng, term, how)
                lead = " " if ascii_term else ""
                piece = f"{lead}{shown} " if ascii_term else shown
                plants.append((pos + len(lead), pos + len(lead) + len(shown), term, how))
            parts.append(piece)
            pos += len(piece)
            written += len(piece.encode())
        return "".join(parts), plants


def _recall(
    plants: list[tuple[int, int, str, str]], spans: list[tuple[int, int]]
) -> dict[str, float]:
    """Share of planted keywords covered by a reported span, overall and per disguise."""
    spans = sorted(spans)
    starts = [s for s, _ in spans]
    import bisect

    hit_by: dict[str, list[int]] = {}
    for s, e, _term, how in plants:
        i = bisect.bisect_right(starts, s)
        covered = i > 0 and spans[i - 1][0] == s and spans[i - 1][1] >= e
        covered = covered or any(a == s and b >= e for a, b in spans[i : i + 3])
        hit_by.setdefault(how, []).append(int(covered))
    out = {how: sum(v) / len(v) for how, v in sorted(hit_by.items())}
    allv = [x for v in hit_by.values() for x in v]
    out["all"] = sum(allv) / len(allv)
    disguised = [x for how, v in hit_by.items() if how != "clean" for x in v]
    out["disguised"] = sum(disguised) / len(disguised) if disguised else 1.0
    return out


def _time(
    fn: Callable[[], list[tuple[int, int]]], repeat: int = 3
) -> tuple[float, list[tuple[int, int]]]:
    best = float("inf")
    spans: list[tuple[int, int]] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        spans = fn()
        best = min(best, time.perf_counter() - t0)
    return best, spans


def _hegui(corpus: Corpus, text: str) -> tuple[Scanner, Callable[[], list[tuple[int, int]]]]:
    entries = tuple(
        LexiconEntry(
            t,
            "bench",
            "bench",
            "A.1.h",
            "en" if t.isascii() else "zh",
            "",
            (),
            Severity.HIGH,
            f"bench:{i}",
        )
        for i, t in enumerate(corpus.terms)
    )
    compiled = CompiledLexicon(Lexicon(entries, ()), FoldOptions(), 3)
    scanner = Scanner([LexiconDetector(compiled, Action.BLOCK)])
    return scanner, lambda: [(f.start, f.end) for f in scanner.scan(text)]


def _peers(corpus: Corpus, text: str) -> dict[str, Callable[[], list[tuple[int, int]]]]:
    """Raw matchers over un-normalized text, as a plain filter would use them."""
    peers: dict[str, Callable[[], list[tuple[int, int]]]] = {}
    terms = corpus.terms
    try:
        import hyperscan

        raw = text.encode()
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        pats = [t.encode() for t in terms]
        lens = [len(p) for p in pats]
        db.compile(
            expressions=pats,
            ids=list(range(len(pats))),
            elements=len(pats),
            flags=[0] * len(pats),
            literal=True,
        )
        # byte offsets -> character offsets, precomputed outside the timed call
        char_at = [0] * (len(raw) + 1)
        c = 0
        for i, b in enumerate(raw):
            if b & 0xC0 != 0x80:
                c += 1
            char_at[i + 1] = c

        def run_hs() -> list[tuple[int, int]]:
            out: list[tuple[int, int]] = []

            def on_match(pid: int, _f: int, to: int, _fl: int, _ctx: object) -> None:
                out.append((to - lens[pid], to))

            db.scan(raw, match_event_handler=on_match)
            return [(char_at[s], char_at[e]) for s, e in out]

        peers["hyperscan (raw)"] = run_hs
    except ImportError:
        print("hyperscan not installed; skipped", file=sys.stderr)
    try:
        import daachorse

        pma = daachorse.CharwiseDoubleArrayAhoCorasick(terms)
        peers["daachorse (raw)"] = lambda: [(s, e) for s, e, _ in pma.find_overlapping(text)]
    except ImportError:
        print("daachorse not installed; skipped", file=sys.stderr)
    try:
        import ahocorasick_rs

        ac = ahocorasick_rs.AhoCorasick(terms)
        peers["ahocorasick-rs (raw)"] = lambda: [
            (s, e) for _, s, e in ac.find_matches_as_indexes(text, overlapping=True)
        ]
    except ImportError:
        print("ahocorasick-rs not installed; skipped", file=sys.stderr)
    try:
        import ahocorasick

        auto = ahocorasick.Automaton()
        for i, t in enumerate(terms):
            auto.add_word(t, (i, len(t)))
        auto.make_automaton()
        peers["pyahocorasick (raw)"] = lambda: [
            (end - n + 1, end + 1) for end, (_i, n) in auto.iter(text)
        ]
    except ImportError:
        print("pyahocorasick not installed; skipped", file=sys.stderr)
    return peers


def _stream_cost(scanner: Scanner, text: str, chunk: int = 20) -> dict[str, float]:
    sample = text[:200_000]
    chunks = [sample[i : i + chunk] for i in range(0, len(sample), chunk)]
    stream = scanner.stream()
    costs = []
    max_hold = 0
    for c in chunks:
        t0 = time.perf_counter()
        stream.feed(c)
        costs.append(time.perf_counter() - t0)
        max_hold = max(max_hold, stream.holdback)
        if stream.blocked:  # a planted term blocks; start a fresh stream as the gateway would
            stream = scanner.stream()
    costs.sort()
    return {
        "chunk_chars": chunk,
        "chunks": len(costs),
        "us_per_chunk_mean": 1e6 * statistics.fmean(costs),
        "us_per_chunk_p50": 1e6 * costs[len(costs) // 2],
        "us_per_chunk_p99": 1e6 * costs[int(len(costs) * 0.99)],
        "max_holdback_chars": max_hold,
    }


def _load() -> tuple[float, ...]:
    return tuple(round(x, 2) for x in os.getloadavg())


def corpus_text(megabytes: float, repeat: int) -> dict[str, object]:
    """MB per CPU second of the cn pack's lexicon and PII detectors on corpus documents."""
    sys.path.insert(0, str(Path(__file__).parent))
    from corpus import Generator  # bench/corpus.py
    from hegui.corpus import build_scanner
    from hegui.policy import load_policy

    gen = Generator()
    docs: list[str] = []
    size = 0
    while size < megabytes * 1e6:
        docs.append(gen.document())
        size += len(docs[-1].encode())
    mb = size / 1e6
    policy = load_policy("cn")
    result: dict[str, object] = {
        "megabytes": round(mb, 1),
        "documents": len(docs),
        "load_before": _load(),
    }
    for names in (("lexicon",), ("pii",), ("lexicon", "pii")):
        scanner = build_scanner(policy, names)
        for d in docs:  # the first pass pays for touching fresh memory
            scanner.scan(d)
        best = float("inf")
        for _ in range(repeat):
            t0 = time.process_time()
            for d in docs:
                scanner.scan(d)
            best = min(best, time.process_time() - t0)
        result["+".join(names)] = round(mb / best, 1)
    result["load_after"] = _load()
    return result


def _report_corpus_text(r: dict[str, object], out: Path) -> None:
    print(
        f"{r['megabytes']} MB in {r['documents']:,} corpus documents, MB per CPU second: "
        f"lexicon {r['lexicon']}, pii {r['pii']}, both {r['lexicon+pii']} "
        f"(load average {r['load_before']} before, {r['load_after']} after)"
    )
    out = out.with_name("detect_corpus_text.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=2))
    print(f"wrote {out}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terms", type=int, default=50_000)
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--out", default="bench/results/detect.json")
    ap.add_argument("--plant-rate", type=float, default=PLANT_RATE, help="share of sentences")
    ap.add_argument(
        "--corpus-text",
        type=float,
        metavar="MB",
        help="only MB per CPU second of the cn pack's lexicon and PII on corpus documents",
    )
    ap.add_argument("--repeat", type=int, default=5, help="runs of --corpus-text; the fastest")
    args = ap.parse_args()
    if args.corpus_text:
        _report_corpus_text(corpus_text(args.corpus_text, args.repeat), Path(args.out))
        return

    t0 = time.perf_counter()
    corpus = Corpus(args.terms, args.mb, plant_rate=args.plant_rate)
    mb = len(corpus.text.encode()) / 1e6
    print(
        f"generated {len(corpus.terms):,} terms and {mb:.1f} MB of text "
        f"({len(corpus.plants):,} planted keywords) in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )

    # The Chinese sentences alone, as a second speed column: the English half of the
    # generated text, with its short terms, is what slows every engine down.
    zh_text = "".join(re.findall(r"[\u4e00-\u9fff，。！？；]+", corpus.text))
    zh_mb = len(zh_text.encode()) / 1e6
    rows = []
    t0 = time.perf_counter()
    scanner, run = _hegui(corpus, corpus.text)
    build_s = time.perf_counter() - t0
    secs, spans = _time(run)
    zh_secs, _ = _time(_hegui(corpus, zh_text)[1])
    rows.append(
        {
            "engine": "hegui (fold + match + spans)",
            "mb_per_s": mb / secs,
            "zh_mb_per_s": zh_mb / zh_secs,
            "build_s": build_s,
            **_recall(corpus.plants, spans),
        }
    )
    zh_peers = _peers(corpus, zh_text)
    for name, fn in _peers(corpus, corpus.text).items():
        repeat = 1 if "pyahocorasick" in name else 3
        secs, spans = _time(fn, repeat=repeat)
        zh_secs, _ = _time(zh_peers[name], repeat=repeat)
        rows.append(
            {
                "engine": name,
                "mb_per_s": mb / secs,
                "zh_mb_per_s": zh_mb / zh_secs,
                **_recall(corpus.plants, spans),
            }
        )
    stream = _stream_cost(scanner, corpus.text)
    from hegui.detect import PiiDetector
    from hegui.policy import load_policy

    pii_kinds = load_policy("cn").detectors["pii"].options["kinds"]
    pii = PiiDetector({k: Action(v) for k, v in pii_kinds.items()}, "A.4.f")
    stream_pii = _stream_cost(Scanner([*scanner.detectors, pii]), corpus.text)

    cols = ["engine", "mb_per_s", "zh_mb_per_s", "all", "clean", *EVASIONS]
    print()
    print(" | ".join(f"{c:>14}" if c != "engine" else f"{c:<30}" for c in cols))
    print("-" * (31 + 17 * (len(cols) - 1)))
    for r in rows:
        cells = [f"{r['engine']:<30}", f"{r['mb_per_s']:>14.1f}", f"{r['zh_mb_per_s']:>14.1f}"]
        cells += [f"{100 * r.get(c, float('nan')):>13.1f}%" for c in cols[3:]]
        print(" | ".join(cells))
    print()
    print(
        f"stream, {stream['chunk_chars']}-char chunks: "
        f"mean {stream['us_per_chunk_mean']:.1f} us, p50 {stream['us_per_chunk_p50']:.1f} us, "
        f"p99 {stream['us_per_chunk_p99']:.1f} us per chunk; "
        f"largest holdback {stream['max_holdback_chars']} chars"
    )
    print(
        f"stream with PII recognizers too: mean {stream_pii['us_per_chunk_mean']:.1f} us, "
        f"p50 {stream_pii['us_per_chunk_p50']:.1f} us, p99 {stream_pii['us_per_chunk_p99']:.1f} us "
        f"per chunk; largest holdback {stream_pii['max_holdback_chars']} chars"
    )

    result = {
        "seed": SEED,
        "plant_rate": args.plant_rate,
        "terms": len(corpus.terms),
        "megabytes": mb,
        "plants": len(corpus.plants),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "engines": rows,
        "stream": stream,
        "stream_with_pii": stream_pii,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
