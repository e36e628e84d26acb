"""Small media files made in the test process: images by Pillow, audio by soundfile, MP4 by hand."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

RATE = 8000
AUDIO_FORMATS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}
IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


def pixels(width: int = 96, height: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((height, width, 3)) * 255).astype("uint8")


def write_image(path: Path, width: int = 96, height: int = 64, **params: object) -> Path:
    fmt = IMAGE_FORMATS[path.suffix.lstrip(".")]
    Image.fromarray(pixels(width, height)).save(path, format=fmt, **params)
    return path


def decode_image(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))


def tone(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32")


def write_audio(path: Path, seconds: float = 0.5) -> Path:
    fmt, subtype = AUDIO_FORMATS[path.suffix.lstrip(".")]
    sf.write(path, tone(seconds), RATE, format=fmt, subtype=subtype)
    return path


def decode_audio(path: Path) -> np.ndarray:
    samples, _ = sf.read(path, dtype="int16")
    return np.asarray(samples)


def _box(kind: bytes, *children: bytes) -> bytes:
    body = b"".join(children)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full(kind: bytes, payload: bytes) -> bytes:
    return _box(kind, b"\x00\x00\x00\x00" + payload)


MP4_PAYLOAD = bytes(range(256)) * 8
"""The sample bytes of the hand-built MP4: they must be found again after tagging."""


def _sound_sample_entry() -> bytes:
    entry = b"\x00" * 6 + struct.pack(">H", 1)  # reserved, data reference index
    entry += b"\x00" * 8 + struct.pack(">HHHH", 1, 16, 0, 0) + struct.pack(">I", RATE << 16)
    return _box(b"lpcm", entry, _box(b"btrt", b"\x00" * 12))  # layout only; nobody decodes it


def _track(chunk_offset: int) -> bytes:
    mdhd = _full(b"mdhd", struct.pack(">IIIIHH", 0, 0, RATE, len(MP4_PAYLOAD) // 2, 0, 0))
    hdlr = _full(b"hdlr", b"\x00" * 4 + b"soun" + b"\x00" * 12 + b"sound\x00")
    stsd = _full(b"stsd", struct.pack(">I", 1) + _sound_sample_entry())
    stts = _full(b"stts", struct.pack(">III", 1, 1, len(MP4_PAYLOAD) // 2))
    stsc = _full(b"stsc", struct.pack(">IIII", 1, 1, 1, 1))
    stsz = _full(b"stsz", struct.pack(">III", 0, 1, len(MP4_PAYLOAD)))
    stco = _full(b"stco", struct.pack(">II", 1, chunk_offset))
    stbl = _box(b"stbl", stsd, stts, stsc, stsz, stco)
    dinf = _box(
        b"dinf",
        _full(b"dref", struct.pack(">I", 1) + _full(b"url ", b"")[:-4] + b"\x00\x00\x00\x01"),
    )
    minf = _box(b"minf", _full(b"smhd", b"\x00" * 4), dinf, stbl)
    tkhd = _full(b"tkhd", b"\x00" * 80)
    return _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))


def build_mp4() -> bytes:
    """ftyp, moov (one sound track whose chunk offset points into mdat), mdat."""
    ftyp = _box(b"ftyp", b"M4A ", struct.pack(">I", 0), b"M4A isom")
    mvhd = _full(b"mvhd", struct.pack(">IIII", 0, 0, RATE, len(MP4_PAYLOAD) // 2) + b"\x00" * 80)
    probe = _box(b"moov", mvhd, _track(0))
    offset = len(ftyp) + len(probe) + 8
    moov = _box(b"moov", mvhd, _track(offset))
    return ftyp + moov + _box(b"mdat", MP4_PAYLOAD)


def mp4_chunk(data: bytes) -> bytes:
    """The bytes the stco chunk offset points at (the sample payload, if nothing broke)."""
    at = data.index(b"stco") + 4 + 4 + 4
    offset = struct.unpack(">I", data[at : at + 4])[0]
    return data[offset : offset + len(MP4_PAYLOAD)]


def write_mp4(path: Path) -> Path:
    path.write_bytes(build_mp4())
    return path


def image_bytes(fmt: str = "PNG", width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels(width, height)).save(buffer, format=fmt)
    return buffer.getvalue()
