"""A toy language model for watermark tests: random logits, a word-level tokenizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hegui.trace import GreenList, WatermarkKey

VOCAB = 600


def sample_ids(
    key: WatermarkKey | None, n: int = 200, seed: int = 0, prompt: tuple[int, ...] = (1,)
) -> list[int]:
    """Sample ``n`` tokens from random logits, biased by ``key``'s green lists when given."""
    rng = np.random.default_rng(seed)
    green = GreenList(key) if key is not None else None
    ids = list(prompt)
    for _ in range(n):
        logits = rng.normal(0.0, 1.5, VOCAB)
        if green is not None and key is not None:
            context = np.asarray([ids[-green.width :]], dtype=np.int64)
            logits = logits + key.params.delta * green.vocab_masks(green.seeds(context), VOCAB)[0]
        probs = np.exp(logits - logits.max())
        ids.append(int(rng.choice(VOCAB, p=probs / probs.sum())))
    return ids[len(prompt) :]


def words(ids: list[int]) -> str:
    return " ".join(f"w{i}" for i in ids)


def write_word_tokenizer(path: Path) -> Path:
    """A tokenizer.json whose token ``wN`` has id N (built with the tokenizers library)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {f"w{i}": i for i in range(VOCAB)}
    vocab["[UNK]"] = VOCAB
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))
    return path
