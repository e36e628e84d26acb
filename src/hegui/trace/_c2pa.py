"""Optional C2PA manifest: a ``c2pa.created`` action with the IPTC source type, signed.

Needs the ``c2pa`` extra (c2pa-python), imported on first use. The manifest binds to
the file's bytes, so it is added last, after the GB 45438 label; the GB label also goes
into the manifest as a custom assertion.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hegui import __version__
from hegui.trace._errors import CarrierError, TraceError
from hegui.trace._xmp import TRAINED_ALGORITHMIC_MEDIA

C2PA_HINT = "C2PA manifests need the 'c2pa' extra: pip install 'hegui[c2pa]'"
LABEL_ASSERTION = "cn.gb45438.aigc"
"""Label of the custom assertion that repeats the GB 45438 implicit label."""
MIME_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
}
"""Formats the C2PA SDK can embed a manifest in (among those hegui labels)."""
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")


@dataclass(frozen=True)
class C2paSigner:
    """A C2PA signing credential: certificate chain and private key (PEM files)."""

    cert_chain: Path
    """PEM certificates, the signing certificate first, then its issuers."""
    private_key: Path
    """PEM private key of the signing certificate."""
    algorithm: str = "es256"
    """One of ``ALGORITHMS``; must match the key."""
    timestamp_url: str | None = None
    """RFC 3161 time-stamp authority, if any."""


def _sdk() -> Any:
    try:
        import c2pa
    except ImportError as exc:
        raise TraceError(f"{C2PA_HINT} ({exc})") from None
    return c2pa


def _manifest(title: str, label_json: str | None) -> dict[str, Any]:
    action = {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions", "data": {"actions": [action]}}]
    if label_json is not None:
        assertions.append({"label": LABEL_ASSERTION, "data": json.loads(label_json)})
    return {
        "claim_generator_info": [{"name": "hegui", "version": __version__}],
        "title": title,
        "assertions": assertions,
    }


def add_c2pa_manifest(
    data: bytes, fmt: str, signer: C2paSigner, *, title: str, label_json: str | None = None
) -> bytes:
    """``data`` with a signed C2PA manifest embedded (``fmt`` is a carrier format name)."""
    mime = MIME_TYPES.get(fmt)
    if mime is None:
        raise CarrierError(f"C2PA manifests are not supported for {fmt}")
    if signer.algorithm not in ALGORITHMS:
        raise TraceError(f"C2PA algorithm must be one of {', '.join(ALGORITHMS)}")
    sdk = _sdk()
    try:
        info = sdk.C2paSignerInfo(
            signer.algorithm,
            signer.cert_chain.read_bytes(),
            signer.private_key.read_bytes(),
            signer.timestamp_url,
        )
        target = io.BytesIO()
        with (
            sdk.Signer.from_info(info) as c2pa_signer,
            sdk.Builder(_manifest(title, label_json)) as builder,
        ):
            builder.sign(c2pa_signer, mime, io.BytesIO(data), target)
    except OSError as exc:
        raise TraceError(f"cannot read the C2PA credential: {exc}") from None
    except sdk.C2paError as exc:
        raise TraceError(f"C2PA signing failed: {exc}") from None
    return target.getvalue()


@dataclass(frozen=True)
class C2paSummary:
    """What the active C2PA manifest of a file says."""

    actions: tuple[str, ...]
    source_types: tuple[str, ...]
    label: dict[str, Any] | None
    """The GB 45438 label assertion, when hegui wrote one."""
    problems: tuple[str, ...]
    """Validation failures other than an untrusted certificate."""


def read_c2pa_manifest(data: bytes, fmt: str) -> C2paSummary | None:
    """The active manifest of ``data``, or ``None`` when the file has none."""
    mime = MIME_TYPES.get(fmt)
    if mime is None:
        return None
    sdk = _sdk()
    try:
        with sdk.Reader(mime, io.BytesIO(data)) as reader:
            store = json.loads(reader.json())
    except sdk.C2paError:
        return None
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    actions: list[str] = []
    sources: list[str] = []
    label = None
    for assertion in active.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                actions.append(str(action.get("action")))
                if action.get("digitalSourceType"):
                    sources.append(str(action["digitalSourceType"]))
        elif assertion.get("label") == LABEL_ASSERTION:
            label = assertion.get("data")
    problems = tuple(
        str(status.get("code"))
        for status in store.get("validation_status", [])
        if status.get("code") != "signingCredential.untrusted"
    )
    return C2paSummary(tuple(actions), tuple(sources), label, problems)
