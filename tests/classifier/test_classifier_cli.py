from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from hegui.cli.classifier import app
from hegui.detect._classifier_model import ClassifierModel
from hegui.detect._classifier_rows import LabelledText

Rows = Callable[..., list[LabelledText]]
Writer = Callable[[list[LabelledText]], Path]


def test_train_eval_score_end_to_end(tmp_path: Path, make_rows: Rows, jsonl_file: Writer) -> None:
    data = jsonl_file(make_rows(400, seed=3))
    (tmp_path / "map.yaml").write_text("x/A.1.h: A.1.h\nx/A.2.e: A.2.e\nsafe: safe\n")
    out = tmp_path / "model"
    runner = CliRunner()
    args = [
        "--text-col",
        "content",
        "--label-col",
        "kind",
        "--label-map",
        str(tmp_path / "map.yaml"),
    ]
    res = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--bits",
            "14",
            "--min-examples",
            "10",
            *args,
        ],
    )
    assert res.exit_code == 0, res.output
    model = ClassifierModel.load(out)
    assert model.classes == ("A.1.h", "A.2.e") and model.weights.shape == (2**14, 2)
    res = runner.invoke(app, ["eval", "--data", str(data), "--model", str(out), *args])
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output
    assert runner.invoke(app, ["score", "女人都是蠢货", "--model", str(out)]).exit_code == 1
    assert runner.invoke(app, ["score", "明天下雨吗", "--model", str(out)]).exit_code == 0


def test_unmapped_label_is_an_error_naming_the_row(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("text,label\nhello,safe\nbad thing,weird\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert res.exit_code == 2
    assert "d.csv:3" in res.output and "weird" in res.output


def test_trained_model_records_its_command(
    tmp_path: Path, make_rows: Rows, jsonl_file: Writer
) -> None:
    data = jsonl_file(make_rows(200, seed=4))
    (tmp_path / "map.yaml").write_text("x/A.1.h: A.1.h\nx/A.2.e: A.2.e\nsafe: safe\n")
    out = tmp_path / "model"
    args = ["train", "--data", str(data), "--out", str(out), "--text-col", "content"]
    args += ["--label-col", "kind", "--label-map", str(tmp_path / "map.yaml")]
    res = CliRunner().invoke(app, [*args, "--bits", "12", "--min-examples", "10"])
    assert res.exit_code == 0, res.output
    assert "out-of-fold" in res.output
    info = ClassifierModel.load(out).info
    assert info["command"].startswith(f"hegui classifier train --data {data} --out {out}")
    assert "--bits 12" in info["command"] and info["trained_with"]["folds"] == 5


def test_recipe_errors_name_the_problem(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["train", "--recipe", "xx", "--data", ".", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown recipe" in res.output
    empty = tmp_path / "nodata"
    empty.mkdir()
    res = runner.invoke(app, ["train", "--recipe", "cn", "--data", str(empty), "--out", "m"])
    assert res.exit_code == 2 and "cold/train.csv" in res.output
