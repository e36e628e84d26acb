"""Files end to end: add, check, propagate; tampering and broken files are caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trace_media import write_audio, write_image

from hegui.audit import SigningKey
from hegui.policy import LabelSpec
from hegui.trace import CarrierError, FileLabeler, LabelError, carriers


def test_every_written_file_reads_back_with_a_valid_signature(
    labeler: FileLabeler, tmp_path: Path
) -> None:
    paths = [write_image(tmp_path / f"i.{e}") for e in ("png", "jpg", "webp")]
    paths += [write_audio(tmp_path / f"a.{e}") for e in ("wav", "mp3", "flac", "ogg")]
    (tmp_path / "t.md").write_text("# t\n")
    paths.append(tmp_path / "t.md")
    for path in paths:
        labeler.add(path, "ACME-01")
    checks = [labeler.check(path) for path in paths]
    assert all(c.ok and c.signature and c.signature.producer == "valid" for c in checks), checks


def _rewrite_label(path: Path, spec: LabelSpec, **changes: str) -> None:
    carrier = carriers()[{"png": "png"}[path.suffix[1:]]]
    data = path.read_bytes()
    value = json.loads(carrier.read(data, spec.implicit).value or "")
    value["AIGC"].update(changes)
    new = json.dumps(value, separators=(",", ":"))
    path.write_bytes(carrier.write(data, new, spec.implicit))


def test_a_forged_label_fails_the_check(
    spec: LabelSpec, ed_key: SigningKey, tmp_path: Path
) -> None:
    labeler = FileLabeler(spec, signer=ed_key, keys=[ed_key.public_key])
    path = write_image(tmp_path / "a.png")
    labeler.add(path, "ACME-01")
    _rewrite_label(path, spec, ContentProducer="OTHER", ContentPropagator="OTHER")
    check = labeler.check(path)
    assert check.signature is not None and check.signature.producer == "invalid"
    assert not check.ok
    _rewrite_label(path, spec, Label="9")
    assert any("Label '9'" in p for p in labeler.check(path).problems)


def test_unsigned_labels_fail_only_when_keys_are_given(
    spec: LabelSpec, ed_key: SigningKey, tmp_path: Path
) -> None:
    path = write_image(tmp_path / "a.png")
    FileLabeler(spec).add(path, "ACME-01")
    assert FileLabeler(spec).check(path).ok
    strict = FileLabeler(spec, keys=[ed_key.public_key]).check(path)
    assert strict.signature is not None and strict.signature.producer == "unsigned"
    assert not strict.ok


def test_propagate_keeps_the_producer_signature(
    spec: LabelSpec, ed_key: SigningKey, sm2_key: SigningKey, tmp_path: Path
) -> None:
    path = write_audio(tmp_path / "a.flac")
    FileLabeler(spec, signer=ed_key).add(path, "ACME-01", produce_id="song-1")
    FileLabeler(spec, signer=sm2_key).propagate(path, "PLATFORM-9", propagate_id="post-2")
    check = FileLabeler(spec, keys=[ed_key.public_key, sm2_key.public_key]).check(path)
    assert check.ok and check.label is not None and check.signature is not None
    assert (check.label.producer, check.label.produce_id) == ("ACME-01", "song-1")
    assert (check.label.propagator, check.label.propagate_id) == ("PLATFORM-9", "post-2")
    assert (check.signature.producer, check.signature.propagator) == ("valid", "valid")


def test_errors_name_the_file_and_leave_it_untouched(labeler: FileLabeler, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    with pytest.raises(CarrierError, match=r"broken\.png"):
        labeler.add(bad, "ACME-01")
    assert bad.read_bytes() == b"\x89PNG\r\n\x1a\n" + b"\x00" * 10
    unlabeled = write_image(tmp_path / "plain.png")
    with pytest.raises(CarrierError, match="no label to propagate"):
        labeler.propagate(unlabeled, "PLATFORM")
    with pytest.raises(LabelError, match=r"plain\.png"):
        labeler.add(unlabeled, "bad producer")
    missing = labeler.check(tmp_path / "absent.png")
    assert missing.error is not None and "absent.png" in missing.error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.png", "plain.png"]


def test_audio_takes_no_drawn_notice(labeler: FileLabeler, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav")
    with pytest.raises(CarrierError, match="no visible label for audio"):
        labeler.add(path, "ACME-01", explicit="yes")


def test_another_producers_label_is_not_overwritten(labeler: FileLabeler, tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.png")
    labeler.add(path, "ACME-01")
    labeler.add(path, "ACME-01")  # the same producer may write again
    before = path.read_bytes()
    with pytest.raises(LabelError, match="already labeled by ACME-01"):
        labeler.add(path, "OTHER-02")
    assert path.read_bytes() == before
    assert labeler.add(path, "OTHER-02", replace=True).label.producer == "OTHER-02"
