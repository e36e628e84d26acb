"""``hegui label`` and ``hegui watermark`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

from trace_media import write_audio, write_image
from trace_wm import sample_ids, words, write_word_tokenizer
from typer.testing import CliRunner

from hegui.audit import SigningKey, write_key
from hegui.cli import label as label_cli
from hegui.cli import watermark as watermark_cli
from hegui.trace import WatermarkKey

runner = CliRunner()


def test_add_check_propagate_batch(tmp_path: Path) -> None:
    key = SigningKey.generate()
    keys = tmp_path / "keys"
    write_key(key, keys)
    good = [write_image(tmp_path / "a.png"), write_audio(tmp_path / "b.mp3")]
    (tmp_path / "c.md").write_text("# Notes\n")
    good.append(tmp_path / "c.md")
    bad = tmp_path / "d.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0\x00")
    files = [str(p) for p in [*good, bad]]
    added = runner.invoke(
        label_cli.app, ["add", *files, "--producer", "ACME-01", "--key", str(keys)]
    )
    assert added.exit_code == 2, added.output
    assert "3 of 4 files labeled" in added.output and "d.jpg" in added.output
    checked = runner.invoke(label_cli.app, ["check", *files, "--key", str(keys)])
    assert checked.exit_code == 1 and "1 of 4 files failed" in checked.output
    only_good = [str(p) for p in good]
    ok = runner.invoke(label_cli.app, ["check", *only_good, "--key", str(keys), "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert [r["signature"]["producer"] for r in report] == ["valid"] * 3
    assert report[2]["explicit"] is True
    moved = runner.invoke(label_cli.app, ["propagate", str(good[0]), "--propagator", "SITE-7"])
    assert moved.exit_code == 0, moved.output
    again = runner.invoke(label_cli.app, ["check", str(good[0]), "--key", str(keys), "--json"])
    assert json.loads(again.output)[0]["label"]["ContentPropagator"] == "SITE-7"


def test_a_wrong_key_fails_the_check(tmp_path: Path) -> None:
    signer, other = SigningKey.generate(), SigningKey.generate()
    write_key(signer, tmp_path / "signer")
    write_key(other, tmp_path / "other")
    path = write_image(tmp_path / "a.webp")
    args = ["add", str(path), "--producer", "ACME", "--key", str(tmp_path / "signer")]
    assert runner.invoke(label_cli.app, args).exit_code == 0
    result = runner.invoke(label_cli.app, ["check", str(path), "--key", str(tmp_path / "other")])
    assert result.exit_code == 1 and "unknown-key" in result.output


def test_bad_options_exit_2(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.png")
    for args in (
        ["add", str(path), "--producer", "ACME", "--explicit", "maybe"],
        ["add", str(path), str(path), "--producer", "ACME", "--produce-id", "x"],
        ["add", str(path), "--producer", "ACME", "--key", str(tmp_path / "nokey.json")],
        ["check", str(path), "--key", str(tmp_path / "missing")],
    ):
        result = runner.invoke(label_cli.app, args)
        assert result.exit_code == 2, (args, result.output)


def test_watermark_keygen_and_detect(tmp_path: Path) -> None:
    key_file = tmp_path / "wm.json"
    made = runner.invoke(
        watermark_cli.app,
        ["keygen", "--out", str(key_file), "--gamma", "0.25", "--greedy-delta", "4.5"],
    )
    assert made.exit_code == 0, made.output
    assert runner.invoke(watermark_cli.app, ["keygen", "--out", str(key_file)]).exit_code == 2
    key = WatermarkKey.load(key_file)
    assert key.params.greedy_delta == 4.5
    tokenizer = str(write_word_tokenizer(tmp_path / "tokenizer.json"))
    common = ["--tokenizer", tokenizer, "--key-file", str(key_file), "--json"]
    marked = runner.invoke(watermark_cli.app, ["detect", words(sample_ids(key, 200, 2)), *common])
    assert marked.exit_code == 0, marked.output
    record = json.loads(marked.output)
    assert record["detected"] and record["key_id"] == key.key_id and record["gamma"] == 0.25
    assert record["greedy_delta"] == 4.5 and record["fpr"] == 1e-4
    assert record["p_value"] <= 1e-4
    # a stricter rate than this text's p-value: the same text is not claimed
    strict = runner.invoke(
        watermark_cli.app,
        ["detect", words(sample_ids(key, 200, 2)), *common, "--fpr", f"{record['p_value'] / 2}"],
    )
    assert strict.exit_code == 1 and json.loads(strict.output)["detected"] is False
    text_file = tmp_path / "plain.txt"
    text_file.write_text(words(sample_ids(None, 200, 2)))
    plain = runner.invoke(watermark_cli.app, ["detect", f"@{text_file}", *common[:-1]])
    assert plain.exit_code == 1 and "no watermark" in plain.output
