from __future__ import annotations

from pathlib import Path

import pytest
from corpus_support import source, write_jsonl, write_manifest
from typer.testing import CliRunner

from hegui.cli import app
from hegui.corpus import TEMPLATE, ManifestError, load_manifest, plan_corpus
from hegui.corpus._plan import discover


def test_template_is_a_valid_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    manifest = load_manifest(path)
    assert [s.id for s in manifest.sources] == ["web-zh", "books-en", "qa-pairs"]
    assert manifest.source("qa-pairs").text_field == "answer"
    assert manifest.source("books-en").collected == "2025"  # a YAML integer, kept as text
    assert manifest.card.biases


def test_init_writes_the_template_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "corpus.yaml"
    res = CliRunner().invoke(app, ["corpus", "init", str(path)])
    assert res.exit_code == 0, res.output
    assert path.read_text(encoding="utf-8") == TEMPLATE
    res = CliRunner().invoke(app, ["corpus", "init", str(path)])
    assert res.exit_code == 2 and "--force" in res.stderr


def _bad(tmp_path: Path, text: str) -> ManifestError:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    return info.value


GOOD_SOURCE = """\
  - id: web
    path: web.jsonl
    origin: https://example.com
    license: MIT
    legal_basis: licence
    collected: 2026-01
    language: zh
    owner: me
"""


def test_unknown_field_is_named_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    err = _bad(
        tmp_path, "name: c\nversion: 1\nowner: me\nsources:\n" + GOOD_SOURCE + "    licens: x\n"
    )
    assert err.field == "sources[0].licens"
    assert err.line == 13
    assert "did you mean 'license'" in err.reason
    assert str(err).startswith(str(tmp_path / "m.yaml"))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "name: c\nversion: 1\nowner: me\nsources:\n" + GOOD_SOURCE.replace(
        "licence", "stolen"
    ).replace("2026-01", "last spring")
    err = _bad(tmp_path, text)
    fields = {p.field for p in err.problems}
    assert fields == {"sources[0].legal_basis", "sources[0].collected"}
    by_field = {p.field: p for p in err.problems}
    assert by_field["sources[0].legal_basis"].line == 9
    assert "YYYY" in by_field["sources[0].collected"].reason


def test_duplicate_source_ids_and_missing_fields(tmp_path: Path) -> None:
    err = _bad(tmp_path, "name: c\nversion: 1\nowner: me\nsources:\n" + GOOD_SOURCE * 2)
    assert err.field == "sources[1].id" and "duplicate" in err.reason and err.line == 13
    err = _bad(tmp_path, "name: c\nversion: 1\nsources: []\n")
    assert {p.field for p in err.problems} == {"owner", "sources"}


def test_yaml_syntax_and_duplicate_keys_are_errors(tmp_path: Path) -> None:
    err = _bad(tmp_path, "name: c\nname: d\n")
    assert "duplicate key" in err.reason and err.line == 2
    err = _bad(tmp_path, "- just\n- a list\n")
    assert "mapping" in err.reason


def test_a_path_that_matches_nothing_names_the_source_and_line(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", ["x"])
    path = write_manifest(tmp_path, [source("a", "a.jsonl"), source("b", "missing/*.jsonl")])
    manifest = load_manifest(path)
    with pytest.raises(ManifestError) as info:
        discover(manifest, path)
    assert info.value.field == "sources[1].path" and "no file" in info.value.reason
    assert info.value.line is not None


def test_format_from_extension_and_an_unknown_one(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "d" / "a.jsonl.gz", ["x"])
    (tmp_path / "d" / "b.weird").write_text("x", encoding="utf-8")
    path = write_manifest(tmp_path, [source("a", "d/a.jsonl.gz")])
    found = discover(load_manifest(path), path)
    assert [(f[2], f[3]) for f in found] == [("d/a.jsonl.gz", "jsonl")]
    path = write_manifest(tmp_path, [source("a", "d")])
    with pytest.raises(ManifestError, match="cannot tell the format of b.weird"):
        discover(load_manifest(path), path)


def test_validate_command(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", ["hello"])
    path = write_manifest(tmp_path, [source("a", "a.jsonl")])
    res = CliRunner().invoke(app, ["corpus", "validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output and "CC-BY-4.0" in res.output
    path.write_text(path.read_text(encoding="utf-8") + "extra: 1\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["corpus", "validate", str(path)])
    assert res.exit_code == 2 and "extra" in res.stderr


def test_plan_hashes_every_input_file(tmp_path: Path) -> None:
    import hashlib

    a = write_jsonl(tmp_path / "a.jsonl", ["one", "two"])
    path = write_manifest(tmp_path, [source("a", "a.jsonl")])
    plan = plan_corpus(load_manifest(path), path, 1 << 20)
    assert [(f.rel, f.sha256) for f in plan.files] == [
        ("a.jsonl", hashlib.sha256(a.read_bytes()).hexdigest())
    ]
    assert len(plan.shards) == 1 and plan.total_bytes == a.stat().st_size
