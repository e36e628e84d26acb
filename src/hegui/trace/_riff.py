"""RIFF containers (WAV, WebP): parse into chunks, rebuild with metadata chunks changed.

Chunk payloads are copied byte for byte; only the chunk list and the RIFF size change.
"""

from __future__ import annotations

from dataclasses import dataclass

from hegui.trace._errors import CarrierError

_HEADER = 12
_CHUNK_HEADER = 8


@dataclass
class Riff:
    """A parsed RIFF file: its form type, chunks in order, and any bytes after it."""

    form: bytes
    chunks: list[tuple[bytes, bytes]]
    trailing: bytes = b""

    def find(self, chunk_id: bytes) -> bytes | None:
        """The payload of the first chunk with this id."""
        return next((body for cid, body in self.chunks if cid == chunk_id), None)

    def without(self, chunk_id: bytes) -> list[tuple[bytes, bytes]]:
        """The chunks other than those with this id."""
        return [(cid, body) for cid, body in self.chunks if cid != chunk_id]

    def render(self) -> bytes:
        """The file's bytes (chunks padded to even length, RIFF size recomputed)."""
        parts = [self.form]
        for chunk_id, body in self.chunks:
            parts += [chunk_id, len(body).to_bytes(4, "little"), body]
            if len(body) % 2:
                parts.append(b"\x00")
        payload = b"".join(parts)
        return b"RIFF" + len(payload).to_bytes(4, "little") + payload + self.trailing


def is_riff(head: bytes, form: bytes) -> bool:
    """Whether ``head`` starts a RIFF file of this form type (``WAVE``, ``WEBP``)."""
    return len(head) >= _HEADER and head[:4] == b"RIFF" and head[8:12] == form


def parse_riff(data: bytes, form: bytes) -> Riff:
    """Split a RIFF file into chunks; ``CarrierError`` when it is truncated or malformed."""
    if not is_riff(data, form):
        raise CarrierError(f"not a RIFF {form.decode('ascii').strip()} file")
    end = _CHUNK_HEADER + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise CarrierError(f"truncated: the RIFF header says {end} bytes, the file has {len(data)}")
    chunks: list[tuple[bytes, bytes]] = []
    pos = _HEADER
    while pos < end:
        if pos + _CHUNK_HEADER > end:
            raise CarrierError(f"truncated chunk header at byte {pos}")
        chunk_id = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        start = pos + _CHUNK_HEADER
        if start + size > end:
            raise CarrierError(f"chunk {chunk_id!r} at byte {pos} runs past the end of the file")
        chunks.append((chunk_id, data[start : start + size]))
        pos = start + size + (size % 2)
    return Riff(form, chunks, data[max(pos, end) :])  # a pad byte left out of the size
