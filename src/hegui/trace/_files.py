"""Label files: add, propagate and check the implicit (and explicit) label of a file.

Writes are atomic: the new bytes are built in memory, read back and checked, written to
a temporary file beside the original and moved over it. A corrupt or unsupported file
raises a ``TraceError`` naming the file and leaves it untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from hegui.audit import PublicKey, SigningKey
from hegui.policy import LabelSpec
from hegui.trace._c2pa import C2paSigner, add_c2pa_manifest
from hegui.trace._carrier import Carrier, Embedded, NoticeCarrier, carrier_for
from hegui.trace._errors import CarrierError, LabelError, TraceError
from hegui.trace._label import AIGCLabel, LabelRules
from hegui.trace._signature import (
    SignatureCheck,
    sign_as_producer,
    sign_as_propagator,
    verify_label,
)
from hegui.trace._visible import DrawnLabel, draw_image_label

Explicit = Literal["auto", "yes", "no"]
"""Whether ``add`` also adds the visible label: ``auto`` does for text only."""
_HEAD = 64
_LOW_LEVEL = (ValueError, IndexError, KeyError, EOFError, struct.error, UnicodeError)
T = TypeVar("T")


@dataclass(frozen=True)
class LabeledFile:
    """The outcome of writing a label into one file."""

    path: Path
    format: str
    label: AIGCLabel
    explicit_added: bool = False
    """Whether a visible notice was added (text line or drawn on the image)."""
    drawn: DrawnLabel | None = None
    """Where the notice was drawn, for images."""


@dataclass(frozen=True)
class FileCheck:
    """What one file carries and whether it passes."""

    path: Path
    format: str | None = None
    label: AIGCLabel | None = None
    problems: tuple[str, ...] = ()
    """What is wrong with the label's fields."""
    signature: SignatureCheck | None = None
    explicit: bool | None = None
    """Whether a visible notice is present; ``None`` where it cannot be checked."""
    source_type: str | None = None
    """IPTC digital source type (XMP formats)."""
    error: str | None = None
    """Why the file could not be read (corrupt, unsupported)."""

    @property
    def ok(self) -> bool:
        """A readable, valid label; signatures good where checked; a notice where checkable."""
        if self.error is not None or self.label is None or self.problems:
            return False
        signature = self.signature
        checked = signature is not None and signature.producer != "not-checked"
        if checked and signature is not None and not signature.ok:
            return False
        return self.explicit is not False


def _guard(path: Path, fmt: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except TraceError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    except _LOW_LEVEL as exc:
        raise CarrierError(f"{path}: corrupt {fmt} file ({type(exc).__name__}: {exc})") from None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(path, temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


class FileLabeler:
    """Adds, propagates and checks labels in files under one pack's rules."""

    def __init__(
        self,
        spec: LabelSpec,
        *,
        signer: SigningKey | None = None,
        keys: Iterable[PublicKey] = (),
        font: Path | None = None,
    ) -> None:
        self.spec = spec
        self.rules = LabelRules(spec)
        self.signer = signer
        self.keys = list(keys)
        self.font = font

    def _open(self, path: Path) -> tuple[Carrier, bytes]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CarrierError(f"{path}: cannot read ({exc.strerror or exc})") from None
        try:
            return carrier_for(path, data[:_HEAD]), data
        except CarrierError as exc:
            raise type(exc)(f"{path}: {exc}") from None

    def _read(self, path: Path, carrier: Carrier, data: bytes) -> Embedded:
        return _guard(path, carrier.format, lambda: carrier.read(data, self.spec.implicit))

    def _commit(
        self,
        path: Path,
        carrier: Carrier,
        data: bytes,
        label: AIGCLabel,
        c2pa: C2paSigner | None = None,
    ) -> None:
        value = self.rules.encode(label)
        new = _guard(path, carrier.format, lambda: carrier.write(data, value, self.spec.implicit))
        if c2pa is not None:  # last: the manifest binds to the final bytes
            new = add_c2pa_manifest(new, carrier.format, c2pa, title=path.name, label_json=value)
        if self._read(path, carrier, new).value != value:
            raise CarrierError(f"{path}: the label did not read back after writing; not saved")
        _atomic_write(path, new)

    def _explicit(
        self, path: Path, carrier: Carrier, data: bytes, mode: Explicit, language: str
    ) -> tuple[bytes, bool, DrawnLabel | None]:
        if mode == "no" or (mode == "auto" and carrier.media != "text"):
            return data, False, None
        if isinstance(carrier, NoticeCarrier):
            if carrier.has_notice(data, self.spec):
                return data, False, None
            return carrier.add_notice(data, self.spec, language), True, None
        if carrier.media != "image":
            raise CarrierError(f"{path}: no visible label for {carrier.media}; use --explicit no")
        spec, font = self.spec, self.font
        new, drawn = _guard(
            path, carrier.format, lambda: draw_image_label(data, spec, language=language, font=font)
        )
        return new, True, drawn

    def add(
        self,
        path: Path,
        producer: str,
        *,
        produce_id: str | None = None,
        value: str | None = None,
        explicit: Explicit = "auto",
        language: str = "zh",
        c2pa: C2paSigner | None = None,
        replace: bool = False,
    ) -> LabeledFile:
        """Write a first-write label (signed when a signer is set) over any earlier one.

        A label of another producer is not overwritten unless ``replace`` (removing or
        forging a label is prohibited; a platform that passes content on propagates it).
        ``c2pa`` also embeds a signed C2PA manifest (``created`` by a trained model).
        """
        carrier, data = self._open(path)
        if not replace:
            existing = self._label_of(path, carrier, data)
            if existing is not None and existing.producer != producer:
                raise LabelError(
                    f"{path}: already labeled by {existing.producer}; propagate it instead "
                    "(or replace the label deliberately)"
                )
        try:
            label = self.rules.create(producer, produce_id, value=value)
        except LabelError as exc:
            raise LabelError(f"{path}: {exc}") from None
        label = sign_as_producer(label, self.rules, self.signer)
        data, added, drawn = self._explicit(path, carrier, data, explicit, language)
        self._commit(path, carrier, data, label, c2pa)
        return LabeledFile(path, carrier.format, label, added, drawn)

    def _label_of(self, path: Path, carrier: Carrier, data: bytes) -> AIGCLabel | None:
        embedded = self._read(path, carrier, data)
        if embedded.value is None:
            return None
        return _guard(path, carrier.format, lambda: self.rules.decode(embedded.value or ""))

    def propagate(
        self, path: Path, propagator: str, *, propagate_id: str | None = None
    ) -> LabeledFile:
        """Add this platform as propagator, keeping the producer's fields and signature."""
        carrier, data = self._open(path)
        label = self._label_of(path, carrier, data)
        if label is None:
            raise CarrierError(f"{path}: no label to propagate; the producer must add one first")
        try:
            changed = self.rules.propagate(label, propagator, propagate_id)
        except LabelError as exc:
            raise LabelError(f"{path}: {exc}") from None
        changed = sign_as_propagator(changed, self.rules, self.signer)
        self._commit(path, carrier, data, changed)
        return LabeledFile(path, carrier.format, changed)

    def check(self, path: Path) -> FileCheck:
        """Read and judge one file; problems are reported, never raised."""
        try:
            carrier, data = self._open(path)
        except TraceError as exc:
            return FileCheck(path, error=str(exc))
        explicit: bool | None = None
        try:
            if isinstance(carrier, NoticeCarrier):
                explicit = _guard(path, carrier.format, lambda: carrier.has_notice(data, self.spec))
            embedded = self._read(path, carrier, data)
            label = self._label_of(path, carrier, data)
        except TraceError as exc:
            return FileCheck(path, carrier.format, explicit=explicit, error=str(exc))
        if label is None:
            return FileCheck(
                path, carrier.format, None, ("no label",), None, explicit, embedded.source_type
            )
        signature = verify_label(label, self.rules, self.keys)
        problems = tuple(self.rules.problems(label))
        return FileCheck(
            path, carrier.format, label, problems, signature, explicit, embedded.source_type
        )
