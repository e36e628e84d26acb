"""The watermark in model servers: transformers and vLLM logits processors.

torch and transformers (the ``hf`` extra) are imported here only; ``hegui.trace`` loads
this module on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor

from hegui.trace._watermark import GreenList, WatermarkKey


class GreenListLogitsProcessor(LogitsProcessor):
    """Adds ``delta`` to the logits of the green tokens of every row in the batch.

    Pass it to ``model.generate(..., logits_processor=LogitsProcessorList([it]))``. The
    processor cannot see how the next token is chosen, so the caller says: ``greedy=True``
    for ``do_sample=False`` uses the key's ``greedy_delta``, otherwise ``delta``.
    """

    def __init__(self, key: WatermarkKey, *, greedy: bool = False) -> None:
        self.green = GreenList(key)
        self.delta = key.params.greedy_delta if greedy else key.params.delta

    def bias(self, contexts: np.ndarray[Any, Any], vocab_size: int) -> torch.Tensor:
        """The additive bias (shape ``(rows, vocab_size)``) for rows of context ids."""
        masks = self.green.vocab_masks(self.green.seeds(contexts), vocab_size)
        return torch.from_numpy(masks.astype(np.float32) * np.float32(self.delta))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Bias ``scores`` (batch, vocab) by the green lists seeded by ``input_ids``."""
        width = self.green.width
        if input_ids.shape[-1] < width:
            return scores
        contexts = input_ids[:, -width:].detach().cpu().numpy()
        bias = self.bias(contexts, scores.shape[-1]).to(scores.device, scores.dtype)
        return scores + bias


class VllmWatermark:
    """vLLM's per-request logits processor: ``SamplingParams(logits_processors=[...])``.

    vLLM calls it with the prompt ids, the ids generated so far and the 1-D logits of one
    sequence (the three-argument form of the V0 engine's hook).
    """

    def __init__(self, key: WatermarkKey, *, greedy: bool = False) -> None:
        self._processor = GreenListLogitsProcessor(key, greedy=greedy)

    def __call__(
        self, prompt_ids: list[int], output_ids: list[int], logits: torch.Tensor
    ) -> torch.Tensor:
        """Bias one sequence's logits."""
        width = self._processor.green.width
        history = [*prompt_ids, *output_ids][-width:]
        if len(history) < width:
            return logits
        contexts = np.asarray([history], dtype=np.int64)
        bias = self._processor.bias(contexts, logits.shape[-1])[0]
        return logits + bias.to(logits.device, logits.dtype)
