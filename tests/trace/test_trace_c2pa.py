"""Optional C2PA manifests (the ``c2pa`` extra): skipped when c2pa-python is not installed."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trace_media import decode_image, write_audio, write_image

from hegui.policy import LabelSpec
from hegui.trace import (
    TRAINED_ALGORITHMIC_MEDIA,
    C2paSigner,
    FileLabeler,
    TraceError,
    read_c2pa_manifest,
)


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hegui tests"),
        ]
    )


def _certificate(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.now(UTC)
    usage = dict.fromkeys(
        (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, **usage),
            critical=True,
        )
    )
    if not ca:  # c2pa wants an end-entity certificate with a usage and key identifiers
        eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
        builder = builder.add_extension(eku, critical=False)
        builder = builder.add_extension(ski, critical=False).add_extension(aki, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def credential(tmp_path_factory: pytest.TempPathFactory) -> C2paSigner:
    pytest.importorskip("c2pa", reason="the c2pa extra is not installed")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder = tmp_path_factory.mktemp("c2pa")
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    leaf = _certificate("test signer", leaf_key, "test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (folder / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (folder / "key.pem").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return C2paSigner(folder / "chain.pem", folder / "key.pem", "es256")


@pytest.mark.parametrize("name", ["a.jpg", "a.png", "a.wav"])
def test_manifest_says_created_by_a_trained_model(
    spec: LabelSpec, credential: C2paSigner, tmp_path: Path, name: str
) -> None:
    path = write_audio(tmp_path / name) if name.endswith(".wav") else write_image(tmp_path / name)
    before = decode_image(path) if name != "a.wav" else None
    labeler = FileLabeler(spec)
    done = labeler.add(path, "ACME-01", c2pa=credential)
    assert labeler.check(path).ok
    if before is not None:
        assert np.array_equal(decode_image(path), before)
    fmt = labeler.check(path).format or ""
    summary = read_c2pa_manifest(path.read_bytes(), fmt)
    assert summary is not None and summary.problems == ()
    assert summary.actions == ("c2pa.created",)
    assert summary.source_types == (TRAINED_ALGORITHMIC_MEDIA,)
    assert summary.label is not None
    assert summary.label["AIGC"]["ProduceID"] == done.label.produce_id


def test_missing_extra_gives_the_install_hint(
    spec: LabelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_c2pa(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "c2pa":
            raise ImportError("No module named 'c2pa'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_c2pa)
    path = write_image(tmp_path / "a.png")
    signer = C2paSigner(tmp_path / "chain.pem", tmp_path / "key.pem")
    with pytest.raises(TraceError, match=r"pip install 'hegui\[c2pa\]'"):
        FileLabeler(spec).add(path, "ACME-01", c2pa=signer)
    assert b"AIGC" not in path.read_bytes()
