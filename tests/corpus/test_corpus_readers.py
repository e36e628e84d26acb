from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from corpus_support import write_csv, write_jsonl, write_parquet

from hegui.corpus import Piece, Problem, read_piece
from hegui.corpus._plan import InputFile, _pieces, hash_file


def _read(path: Path, fmt: str, field: str = "text", id_field: str | None = None, **kw: int):
    problems: list[Problem] = []
    piece = Piece(str(path), path.name, **kw)
    docs = list(read_piece(piece, fmt, field, id_field, problems))
    return docs, problems


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz", "a.jsonl.zst"])
def test_jsonl_plain_and_compressed(tmp_path: Path, name: str) -> None:
    path = write_jsonl(tmp_path / name, ["一", "two", "三"])
    docs, problems = _read(path, "jsonl")
    assert docs == [(1, "一", None), (2, "two", None), (3, "三", None)]
    assert problems == []


def test_bad_jsonl_lines_are_reported_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'{"text": "ok"}\n'
        b"{nope\n"
        b'{"text": "bad \xff byte"}\n'
        b"\n"
        b'{"body": "no text field"}\n'
        b'{"text": 5}\n'
        b"[1, 2]\n"
        b'{"text": "last", "meta": {"id": 7}}\n'
    )
    docs, problems = _read(path, "jsonl", id_field="meta.id")
    assert docs == [(1, "ok", None), (8, "last", "7")]
    assert [(p.line, p.kind) for p in problems] == [
        (2, "malformed"),
        (3, "encoding"),
        (5, "no-text"),
        (6, "no-text"),
        (7, "no-text"),
    ]
    assert all(p.file == "a.jsonl" for p in problems)
    assert "int, not a string" in problems[3].message


def test_dotted_text_field(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"doc": {"body": "深处的文本"}}, ensure_ascii=False) + "\n", "utf-8")
    docs, problems = _read(path, "jsonl", field="doc.body")
    assert docs == [(1, "深处的文本", None)] and problems == []


def test_truncated_gzip_is_reported_after_what_could_be_read(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl.gz", [f"line {i} " * 50 for i in range(200)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    docs, problems = _read(path, "jsonl")
    assert 0 < len(docs) < 200
    assert [p.kind for p in problems][-1] == "unreadable"


def test_csv_records_span_lines_and_bad_rows_are_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["first\nsecond line", "plain"])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("c9,too,many\n")
        fh.write("c10,after\n")
    docs, problems = _read(path, "csv", id_field="id")
    assert docs == [(2, "first\nsecond line", "c0"), (4, "plain", "c1"), (6, "after", "c10")]
    assert [(p.line, p.kind) for p in problems] == [(5, "malformed")]


def test_csv_without_the_text_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["x"])
    docs, problems = _read(path, "csv", field="body")
    assert (
        docs == []
        and problems[0].kind == "unreadable"
        and "columns: id, text" in problems[0].message
    )


def test_parquet_row_groups_and_nulls(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "a.parquet", ["a", None, "c", "d", "e"], row_group_size=2)
    docs, problems = _read(path, "parquet")
    assert docs == [(1, "a", None), (3, "c", None), (4, "d", None), (5, "e", None)]
    assert [(p.line, p.kind) for p in problems] == [(2, "no-text")]
    docs, _ = _read(path, "parquet", start=1, stop=2, first_line=3)
    assert docs == [(3, "c", None), (4, "d", None)]


def test_unreadable_parquet_and_text_encoding(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    docs, problems = _read(bad, "parquet")
    assert docs == [] and problems[0].kind == "unreadable"
    txt = tmp_path / "t.txt"
    txt.write_bytes("第一行\n".encode() + b"\xfe\xfe")
    docs, problems = _read(txt, "text")
    assert docs == [] and (problems[0].line, problems[0].kind) == (2, "encoding")


def test_text_file_is_one_document(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("\ufeff一段\n两行", encoding="utf-8")
    assert _read(path, "text") == ([(1, "一段\n两行", None)], [])


@pytest.mark.parametrize("seed", range(6))
def test_cut_jsonl_pieces_read_every_line_exactly_once(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    texts = [
        "x" * rng.randint(0, 300) + "中" * rng.randint(0, 50) for _ in range(rng.randint(1, 80))
    ]
    path = write_jsonl(tmp_path / "a.jsonl", texts)
    cut = rng.choice([1, 7, 100, 1000, 5000])
    sha, size, cuts = hash_file(str(path), cut)
    assert size == path.stat().st_size
    data = path.read_bytes()
    assert all(data[c - 1 : c] == b"\n" for c, _ in cuts)
    assert all(data[:c].count(b"\n") + 1 == line for c, line in cuts)
    f = InputFile("s", str(path), "a.jsonl", "jsonl", size, sha, cuts)
    seen = []
    for piece, _ in _pieces(f, cut):
        docs, problems = _read(
            path, "jsonl", start=piece.start, stop=piece.stop, first_line=piece.first_line
        )
        assert problems == [] or all(t == "" for t in texts)
        seen += docs
    assert [(line, text) for line, text, _ in seen] == [(i + 1, t) for i, t in enumerate(texts)]


def _outcome(loads: Callable[[bytes], Any], raw: bytes) -> str:
    try:
        return repr(loads(raw))
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"


def test_fast_json_lines_parse_and_fail_as_json_loads_does() -> None:
    from hegui.corpus._readers import _loads, _parse

    lines = [
        b'{"text": "\xe4\xb8\x80"}\n',
        b'{"text": "a"} \t\r\n',
        b'{"text": "a"} x\n',
        b'{"a": 1}{"b": 2}\n',
        b'{"a": 1}\x0c\n',
        b'{"t": "\xed\xa0\x80"}',  # an encoded surrogate: json.loads passes it
        b'{"t": "\xff"}\n',
        b"{\x00}",
        b'\xef\xbb\xbf{"a": 1}',
        b'  {"a": 1}\n',
        b'{"a": NaN, "b": 1e999}',
        b'{"a": 1,}',
        b"{",
        b"[1, 2]\n",
        b"\n",
        b'{"a": 1, "a": 2}',
        b'{"a": 123456789012345678901234567890, "b": -9223372036854775809}',
        b'{"a": 1.5e308, "b": -0.0, "c": 1E2, "d": 5e-324}',
        b'{"t": "\\ud800\\udc00 \\ud83d"}',
        b'"just a string"',
        b"{}\r\n",
    ]
    rng = random.Random(5)
    alphabet = b'{}[]":,\\ a0.-e\t\n\xe4\xb8\x80\xff\x00tfnul'
    lines += [b"{" + bytes(rng.choices(alphabet, k=rng.randint(0, 10))) for _ in range(20000)]
    for raw in lines:
        assert _outcome(_loads, raw) == _outcome(json.loads, raw), raw
        # orjson first: the same value or error, but for integers beyond 64 bits
        assert _outcome(lambda r: _floats(_parse(r)[0]), raw) == _outcome(
            lambda r: _floats(json.loads(r)), raw
        ), raw


def _floats(value: Any) -> Any:
    """``value`` with every integer beyond 64 bits as the float orjson makes of it."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if type(value) is int and not -(1 << 63) <= value < 1 << 64:
        return float(value)
    return value


def test_an_id_beyond_64_bits_is_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"text": "one", "id": 123456789012345678901234567890}\n{"text": "two", "id": 2.5}\n'
    )
    problems: list[Problem] = []
    docs = list(read_piece(Piece(str(path), "a.jsonl"), "jsonl", "text", "id", problems))
    assert docs == [(1, "one", "123456789012345678901234567890"), (2, "two", "2.5")]
