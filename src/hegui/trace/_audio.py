"""Audio and video carriers: WAV ``AIGC`` chunk; MP3, FLAC, OGG and MP4 tags via mutagen.

mutagen rewrites only the tag blocks (ID3v2 header, FLAC metadata blocks, the Ogg
comment packet's pages, the MP4 ``moov`` box with chunk offsets fixed up); the audio
frames are copied unchanged.
"""

from __future__ import annotations

import io
from typing import Any

import mutagen
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TXXX, Encoding, ID3NoHeaderError
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis

from hegui.policy import ImplicitLabel
from hegui.trace._carrier import Embedded, Media, register_carrier
from hegui.trace._errors import CarrierError
from hegui.trace._riff import Riff, is_riff, parse_riff

_ID3_V23 = 3


@register_carrier
class WavCarrier:
    """WAV: a RIFF chunk named after the field (``AIGC``) holding the label as ASCII."""

    format = "wav"
    media = "audio"
    extensions = (".wav", ".wave")
    location = "chunk AIGC"

    def sniff(self, head: bytes) -> bool:
        """RIFF with form type WAVE."""
        return is_riff(head, b"WAVE")

    def _riff(self, data: bytes, spec: ImplicitLabel) -> tuple[Riff, bytes]:
        riff = parse_riff(data, b"WAVE")
        if riff.find(b"fmt ") is None or riff.find(b"data") is None:
            raise CarrierError("corrupt WAV: no fmt or data chunk")
        chunk_id = spec.field_name.encode("ascii")[:4].ljust(4)
        return riff, chunk_id

    def read(self, data: bytes, spec: ImplicitLabel) -> Embedded:
        """The text of the ``AIGC`` chunk."""
        riff, chunk_id = self._riff(data, spec)
        body = riff.find(chunk_id)
        if body is None:
            return Embedded(None)
        return Embedded(body.rstrip(b"\x00").decode("utf-8", errors="replace"))

    def write(self, data: bytes, value: str, spec: ImplicitLabel) -> bytes:
        """Replace the ``AIGC`` chunk, appended after the audio data."""
        riff, chunk_id = self._riff(data, spec)
        chunks = [*riff.without(chunk_id), (chunk_id, value.encode("utf-8"))]
        return Riff(riff.form, chunks, riff.trailing).render()


class _MutagenCarrier:
    """Shared read and write through a mutagen file object on an in-memory copy."""

    format: str
    media: Media
    magic = b""
    """The bytes the format starts with (``sniff`` is overridden where that is not enough)."""

    def sniff(self, head: bytes) -> bool:
        """Whether ``head`` starts with the format's magic bytes."""
        return bool(self.magic) and head.startswith(self.magic)

    def _open(self, buffer: io.BytesIO) -> Any:
        raise NotImplementedError

    def _get(self, handle: Any, key: str) -> str | None:
        tags = handle.tags
        values = tags.get(key) if tags is not None else None
        return str(values[0]) if values else None

    def _set(self, handle: Any, key: str, value: str) -> None:
        if handle.tags is None:
            handle.add_tags()
        handle.tags[key] = [value]

    def _save(self, handle: Any, buffer: io.BytesIO) -> None:
        buffer.seek(0)
        handle.save(buffer)

    def _load(self, buffer: io.BytesIO) -> Any:
        try:
            return self._open(buffer)
        except CarrierError:
            raise
        except (mutagen.MutagenError, ValueError, EOFError, IndexError) as exc:
            name = self.format.upper()
            raise CarrierError(f"corrupt or not a {name} file ({exc})") from None

    def read(self, data: bytes, spec: ImplicitLabel) -> Embedded:
        """The label value in the file's tags."""
        return Embedded(self._get(self._load(io.BytesIO(data)), spec.field_name))

    def write(self, data: bytes, value: str, spec: ImplicitLabel) -> bytes:
        """``data`` with the tag set; the audio frames are not touched."""
        buffer = io.BytesIO(data)
        handle = self._load(buffer)
        self._set(handle, spec.field_name, value)
        try:
            self._save(handle, buffer)
        except (mutagen.MutagenError, ValueError) as exc:
            raise CarrierError(f"cannot write the {self.format.upper()} tags ({exc})") from None
        return buffer.getvalue()


@register_carrier
class Mp3Carrier(_MutagenCarrier):
    """MP3: an ID3v2 ``TXXX`` frame whose description is the field name (``AIGC``)."""

    format = "mp3"
    media = "audio"
    extensions = (".mp3",)
    location = "ID3v2 TXXX frame with description AIGC"

    def sniff(self, head: bytes) -> bool:
        """An ID3v2 header, or an MPEG audio frame sync (not AAC's layer 0)."""
        if head.startswith(b"ID3"):
            return True
        return len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0

    def _open(self, buffer: io.BytesIO) -> Any:
        MP3(buffer)  # checks there are MPEG audio frames
        buffer.seek(0)
        try:
            return ID3(buffer)
        except ID3NoHeaderError:
            return ID3()

    def _get(self, handle: Any, key: str) -> str | None:
        frames = handle.getall(f"TXXX:{key}")
        return str(frames[0].text[0]) if frames and frames[0].text else None

    def _set(self, handle: Any, key: str, value: str) -> None:
        handle.delall(f"TXXX:{key}")
        handle.add(TXXX(encoding=Encoding.UTF8, desc=key, text=[value]))

    def _save(self, handle: Any, buffer: io.BytesIO) -> None:
        buffer.seek(0)
        version = _ID3_V23 if handle.version[:2] == (2, _ID3_V23) else 4
        handle.save(buffer, v2_version=version)


@register_carrier
class FlacCarrier(_MutagenCarrier):
    """FLAC: a Vorbis comment ``AIGC=...`` in the metadata blocks."""

    format = "flac"
    media = "audio"
    extensions = (".flac",)
    location = "comment AIGC="
    magic = b"fLaC"

    def _open(self, buffer: io.BytesIO) -> Any:
        return FLAC(buffer)


@register_carrier
class OggCarrier(_MutagenCarrier):
    """Ogg (Vorbis, Opus, FLAC, Speex): a comment ``AIGC=...`` in the comment header."""

    format = "ogg"
    media = "audio"
    extensions = (".ogg", ".oga", ".opus", ".spx")
    location = "comment AIGC="
    magic = b"OggS"

    def _open(self, buffer: io.BytesIO) -> Any:
        for kind in (OggVorbis, OggOpus, OggFLAC, OggSpeex):
            buffer.seek(0)
            try:
                return kind(buffer)
            except (mutagen.MutagenError, ValueError, EOFError, IndexError):
                continue
        raise CarrierError("corrupt Ogg, or a codec without comments (not Vorbis/Opus/FLAC/Speex)")


@register_carrier
class Mp4Carrier(_MutagenCarrier):
    """MP4: an item ``AIGC`` in ``moov/udta/meta/ilst`` (text data)."""

    format = "mp4"
    media = "video"
    extensions = (".mp4", ".m4a", ".m4v", ".mov")
    location = "moov/udta/meta key AIGC"

    def sniff(self, head: bytes) -> bool:
        """An ISO base media ``ftyp`` box first."""
        return head[4:8] == b"ftyp"

    def _open(self, buffer: io.BytesIO) -> Any:
        return MP4(buffer)
