"""The Annex E label: building, the allowed characters, JSON form, signatures, propagation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hegui.audit import SigningKey
from hegui.gateway import Labeler, verify_label
from hegui.policy import LabelSpec
from hegui.trace import (
    STANDARD_KEYS,
    AIGCLabel,
    LabelError,
    LabelRules,
    sign_as_producer,
    sign_as_propagator,
)
from hegui.trace import (
    verify_label as trace_verify,
)

ALLOWED = st.text(
    alphabet=st.sampled_from([chr(c) for c in range(0x21, 0x7F) if c not in (0x22, 0x5C)]),
    min_size=1,
    max_size=40,
)


def test_first_write_copies_producer_into_propagator(rules: LabelRules) -> None:
    label = rules.create("ACME-01", "item-1")
    assert label.label == "1"
    assert (label.propagator, label.propagate_id) == ("ACME-01", "item-1")
    assert not label.propagated and rules.problems(label) == []


def test_encoding_is_the_annex_e_object_in_pack_order(rules: LabelRules) -> None:
    value = rules.encode(rules.create("ACME-01", "item-1"))
    data = json.loads(value)
    assert list(data) == ["AIGC"]
    assert list(data["AIGC"]) == list(rules.keys) == list(STANDARD_KEYS)
    assert " " not in value and value.isascii()


@settings(max_examples=60, deadline=None)
@given(producer=ALLOWED, produce_id=ALLOWED)
def test_round_trip_for_any_allowed_value(
    rules: LabelRules, producer: str, produce_id: str
) -> None:
    label = rules.create(producer, produce_id)
    assert rules.decode(rules.encode(label)) == label


@pytest.mark.parametrize("bad", ['has"quote', "back\\slash", "with space", "中文", "tab\there"])
def test_values_outside_the_allowed_characters_are_refused(rules: LabelRules, bad: str) -> None:
    with pytest.raises(LabelError, match="characters"):
        rules.create(bad)
    with pytest.raises(LabelError):
        rules.create("ACME", bad)


def test_label_value_must_be_one_of_the_pack(rules: LabelRules) -> None:
    assert rules.create("ACME", value="3").label == "3"
    with pytest.raises(LabelError, match="Label '4'"):
        rules.create("ACME", value="4")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"AIGC": {"Label": 1}}', "must be strings"),
        ('{"AIGC": {"Label": "1", "Extra": "x"}}', "unknown keys: Extra"),
    ],
)
def test_decode_names_what_is_wrong(rules: LabelRules, text: str, message: str) -> None:
    with pytest.raises(LabelError, match=message):
        rules.decode(text)


def test_decode_accepts_the_bare_object_and_reports_missing_fields(rules: LabelRules) -> None:
    label = rules.decode('{"Label": "1", "ContentProducer": "ACME"}')
    assert label.producer == "ACME"
    problems = rules.problems(label)
    assert "ProduceID is empty" in problems and "PropagateID is empty" in problems


@pytest.mark.parametrize("scheme", ["ed25519", "sm2-sm3"])
def test_producer_signature_verifies_and_detects_tampering(
    rules: LabelRules, scheme: str, ed_key: SigningKey, sm2_key: SigningKey
) -> None:
    key = ed_key if scheme == "ed25519" else sm2_key
    signed = sign_as_producer(rules.create("ACME", "item-1"), rules, key)
    assert signed.reserved2 == key.key_id and rules.allows(signed.reserved1)
    check = trace_verify(signed, rules, [key.public_key])
    assert check.producer == "valid" and check.producer_key == key.key_id and check.ok
    for field, value in (("ProduceID", "item-2"), ("Label", "2"), ("ContentProducer", "EVIL")):
        tampered = signed.with_value(field, value)
        if field == "ProduceID":
            tampered = tampered.with_value("PropagateID", value)
        if field == "ContentProducer":
            tampered = tampered.with_value("ContentPropagator", value)
        assert trace_verify(tampered, rules, [key.public_key]).producer == "invalid"


def test_a_key_that_did_not_sign_is_named_unknown(rules: LabelRules, ed_key: SigningKey) -> None:
    signed = sign_as_producer(rules.create("ACME"), rules, ed_key)
    other = SigningKey.generate()
    assert trace_verify(signed, rules, [other.public_key]).producer == "unknown-key"
    assert trace_verify(signed, rules, []).producer == "not-checked"
    unsigned = sign_as_producer(rules.create("ACME"), rules, None)
    assert trace_verify(unsigned, rules, [ed_key.public_key]).producer == "unsigned"


def test_propagation_keeps_producer_and_its_signature(
    rules: LabelRules, ed_key: SigningKey, sm2_key: SigningKey
) -> None:
    signed = sign_as_producer(rules.create("ACME", "item-1"), rules, ed_key)
    passed = sign_as_propagator(rules.propagate(signed, "PLATFORM", "post-9"), rules, sm2_key)
    assert (passed.producer, passed.produce_id, passed.reserved1) == (
        "ACME",
        "item-1",
        signed.reserved1,
    )
    assert (passed.propagator, passed.propagate_id) == ("PLATFORM", "post-9")
    check = trace_verify(passed, rules, [ed_key.public_key, sm2_key.public_key])
    assert (check.producer, check.propagator) == ("valid", "valid")
    assert check.propagator_key == sm2_key.key_id
    only_producer = trace_verify(passed, rules, [ed_key.public_key])
    assert only_producer.propagator == "unknown-key" and only_producer.ok
    forged = passed.with_value("PropagateID", "post-10")
    assert (
        trace_verify(forged, rules, [ed_key.public_key, sm2_key.public_key]).propagator != "valid"
    )


def test_a_pack_that_allows_only_ed25519_refuses_sm2(spec: LabelSpec, sm2_key: SigningKey) -> None:
    signature = spec.implicit.signature.model_copy(update={"allowed": ["ed25519"]})
    implicit = spec.implicit.model_copy(update={"signature": signature})
    rules = LabelRules(spec.model_copy(update={"implicit": implicit}))
    with pytest.raises(LabelError, match="not sm2-sm3"):
        sign_as_producer(rules.create("ACME"), rules, sm2_key)


def test_gateway_labels_are_trace_labels(spec: LabelSpec, rules: LabelRules) -> None:
    key = SigningKey.generate("sm2-sm3")
    fields = Labeler(spec, "ACME", key).implicit("chatcmpl-1")
    label = AIGCLabel.from_fields(fields)
    assert trace_verify(label, rules, [key.public_key]).producer == "valid"
    assert verify_label(fields, key.public_key.public)
    assert not verify_label({**fields, "ProduceID": "chatcmpl-2"}, key.public_key.public)
