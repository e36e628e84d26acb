"""Audio and video carriers: samples decode identically, the MP4 payload is found again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import ID3, TIT2
from trace_media import MP4_PAYLOAD, decode_audio, mp4_chunk, write_audio, write_mp4

from hegui.audit import SigningKey
from hegui.policy import LabelSpec
from hegui.trace import CarrierError, FileLabeler


@pytest.mark.parametrize("name", ["a.wav", "a.flac", "a.ogg", "a.mp3"])
def test_samples_unchanged_and_label_signed(
    spec: LabelSpec, sm2_key: SigningKey, tmp_path: Path, name: str
) -> None:
    labeler = FileLabeler(spec, signer=sm2_key, keys=[sm2_key.public_key])
    path = write_audio(tmp_path / name)
    before = decode_audio(path)
    labeler.add(path, "ACME-01")
    labeler.add(path, "ACME-02", replace=True)
    after = decode_audio(path)
    assert after.shape == before.shape and np.array_equal(after, before)
    check = labeler.check(path)
    assert check.ok and check.label is not None and check.label.producer == "ACME-02"
    assert path.read_bytes().count(b'"ContentProducer"') == 1


def test_wav_chunk_is_appended_and_riff_size_fixed(labeler: FileLabeler, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav")
    labeler.add(path, "ACME-01")
    data = path.read_bytes()
    at = data.index(b'{"AIGC":') - 8
    assert data[at : at + 4] == b"AIGC" and at > data.index(b"data")
    assert int.from_bytes(data[4:8], "little") == len(data) - 8


def test_mp3_label_survives_a_retag(labeler: FileLabeler, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.mp3")
    labeler.add(path, "ACME-01")
    tags = ID3(path)
    tags.add(TIT2(encoding=3, text=["a new title"]))
    tags.save(path)
    assert labeler.check(path).ok
    assert ID3(path).getall("TXXX:AIGC")[0].text[0].startswith('{"AIGC":')


def test_mp4_payload_and_chunk_offsets_survive(labeler: FileLabeler, tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "a.m4a")
    labeler.add(path, "ACME-01")
    data = path.read_bytes()
    assert b"udta" in data and b"ilst" in data
    assert mp4_chunk(data) == MP4_PAYLOAD
    labeler.add(path, "ACME-02", replace=True)
    assert mp4_chunk(path.read_bytes()) == MP4_PAYLOAD
    check = labeler.check(path)
    assert check.ok and check.format == "mp4"


@pytest.mark.parametrize("name", ["a.flac", "a.ogg", "a.mp3", "a.m4a"])
def test_truncated_audio_is_refused_and_left_alone(
    labeler: FileLabeler, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    if name.endswith(".m4a"):
        write_mp4(path)
    else:
        write_audio(path)
    broken = path.read_bytes()[:60]
    path.write_bytes(broken)
    with pytest.raises(CarrierError, match=name):
        labeler.add(path, "ACME-01")
    assert path.read_bytes() == broken
    assert not labeler.check(path).ok
