"""Fixtures: the cn label spec, its rules, signing keys; media helpers on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hegui.audit import SigningKey  # noqa: E402
from hegui.policy import LabelSpec, load_policy  # noqa: E402
from hegui.trace import FileLabeler, LabelRules  # noqa: E402


@pytest.fixture(scope="session")
def spec() -> LabelSpec:
    labels = load_policy("cn").labels
    assert labels is not None
    return labels


@pytest.fixture(scope="session")
def rules(spec: LabelSpec) -> LabelRules:
    return LabelRules(spec)


@pytest.fixture(scope="session")
def ed_key() -> SigningKey:
    return SigningKey.generate("ed25519")


@pytest.fixture(scope="session")
def sm2_key() -> SigningKey:
    return SigningKey.generate("sm2-sm3")


@pytest.fixture
def labeler(spec: LabelSpec, ed_key: SigningKey) -> FileLabeler:
    return FileLabeler(spec, signer=ed_key, keys=[ed_key.public_key])
