"""A keyed green-list text watermark (Kirchenbauer et al., ICML 2023) and its detector.

At each step the previous ``context_width`` token ids and the secret key seed a keyed
hash; a token is *green* when the hash of (seed, token id) falls below ``gamma`` of the
hash range, so about ``gamma`` of the vocabulary is green at every step. Generation adds
``delta`` to the logits of green tokens. Detection counts green tokens in a text and
returns the one-sided z-score ``(g - gamma T) / sqrt(T gamma (1 - gamma))`` and its
p-value; a text written without the key is green at rate ``gamma`` whatever its source.

The hash: HMAC-SHA256 of the secret derives three 64-bit subkeys; the seed chains a
64-bit mixing function (the SplitMix64 finaliser) over the subkeys and context ids, and
the token test mixes the seed with the keyed token id. Everything is numpy, vectorised
over positions (detection) or over the vocabulary (generation). Repeated (context,
token) pairs are scored once, as Kirchenbauer et al. (2024, "On the reliability of
watermarks") advise, so repeated phrases cannot inflate the score.
"""

from __future__ import annotations

import hmac
import json
import math
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hegui.trace._errors import WatermarkError

KEY_KIND = "hegui-watermark-key"
_SUBKEY_INFO = b"hegui/watermark/v1/subkeys"
_KEY_ID_INFO = b"hegui/watermark/v1/key-id"
_M1 = np.uint64(0xBF58476D1CE4E5B9)  # SplitMix64 finaliser constants
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_MAX_WIDTH = 8
U64 = NDArray[np.uint64]
TokenEncoder = Callable[[str], Sequence[int]]
"""Text -> token ids, without special tokens (what the model generated)."""


def _mix(z: U64) -> U64:
    z = z ^ (z >> _S30)
    z = z * _M1
    z = z ^ (z >> _S27)
    z = z * _M2
    return z ^ (z >> _S31)


@dataclass(frozen=True)
class WatermarkParams:
    """Green-list parameters; the detector must use the generator's gamma and width."""

    gamma: float = 0.25
    """Share of the vocabulary that is green at each step."""
    delta: float = 2.0
    """Logit bias added to green tokens when generating."""
    context_width: int = 1
    """How many previous tokens seed the green list."""

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise WatermarkError(f"gamma must be between 0 and 1, not {self.gamma}")
        if not 0.0 <= self.delta <= 100.0:
            raise WatermarkError(f"delta must be between 0 and 100, not {self.delta}")
        if not 1 <= self.context_width <= _MAX_WIDTH:
            raise WatermarkError(f"context width must be 1 to {_MAX_WIDTH}")


@dataclass(frozen=True)
class WatermarkKey:
    """The secret and the parameters it was issued with."""

    secret: bytes = field(repr=False)
    params: WatermarkParams = WatermarkParams()

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise WatermarkError("a watermark secret has at least 16 bytes")

    @property
    def key_id(self) -> str:
        """Public id of the key: 16 hex digits of a keyed hash (reveals nothing of it)."""
        return hmac.digest(self.secret, _KEY_ID_INFO, "sha256")[:8].hex()

    @classmethod
    def generate(cls, params: WatermarkParams | None = None) -> WatermarkKey:
        """A new random 32-byte secret."""
        return cls(secrets.token_bytes(32), params or WatermarkParams())

    def to_json(self) -> dict[str, Any]:
        """The key file's content."""
        return {
            "kind": KEY_KIND,
            "key_id": self.key_id,
            "secret": self.secret.hex(),
            **asdict(self.params),
            "created": datetime.now(UTC).isoformat(),
        }

    def write(self, path: Path) -> Path:
        """Write the key file (mode 0600); refuses to overwrite."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=2)
        return path

    @classmethod
    def load(cls, path: Path) -> WatermarkKey:
        """Read a key file written by ``write`` (``hegui watermark keygen``)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WatermarkError(f"{path}: cannot read the watermark key: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != KEY_KIND:
            raise WatermarkError(f"{path}: not a hegui watermark key file")
        try:
            params = WatermarkParams(
                float(data["gamma"]), float(data["delta"]), int(data["context_width"])
            )
            key = cls(bytes.fromhex(data["secret"]), params)
        except (KeyError, TypeError, ValueError) as exc:
            raise WatermarkError(f"{path}: bad watermark key field: {exc}") from None
        if data.get("key_id", key.key_id) != key.key_id:
            raise WatermarkError(f"{path}: the key id does not match the secret")
        return key


class GreenList:
    """The keyed green-list function of one key and parameter set."""

    def __init__(self, key: WatermarkKey) -> None:
        digest = hmac.digest(key.secret, _SUBKEY_INFO, "sha256")
        words = np.frombuffer(digest, dtype="<u8").astype(np.uint64)
        self._k0, self._k1, self._k2 = words[0:1], words[1:2], words[2:3]
        self.params = key.params
        self.key_id = key.key_id
        self.width = key.params.context_width
        self.threshold = np.uint64(min(int(key.params.gamma * 2.0**64), 2**64 - 1))
        self._vocab: U64 = np.empty(0, dtype=np.uint64)

    def seeds(self, contexts: NDArray[Any]) -> U64:
        """One seed per row of ``contexts`` (shape ``(n, width)``, oldest token first)."""
        ctx = np.asarray(contexts).astype(np.uint64, copy=False)
        seeds = np.repeat(self._k0, ctx.shape[0])
        for column in range(ctx.shape[1]):
            seeds = _mix(seeds ^ (ctx[:, column] + self._k1))
        return seeds

    def _token_hash(self, tokens: U64) -> U64:
        return _mix(tokens ^ self._k2)

    def pair_hashes(self, seeds: U64, tokens: NDArray[Any]) -> U64:
        """The hash of each (seed, token) pair; green when below ``threshold``."""
        return _mix(seeds ^ self._token_hash(np.asarray(tokens).astype(np.uint64, copy=False)))

    def vocab_masks(self, seeds: U64, vocab_size: int) -> NDArray[np.bool_]:
        """Green masks over the vocabulary, one row per seed (shape ``(n, vocab_size)``)."""
        if self._vocab.shape[0] != vocab_size:
            self._vocab = self._token_hash(np.arange(vocab_size, dtype=np.uint64))
        return _mix(seeds[:, None] ^ self._vocab[None, :]) < self.threshold


@dataclass(frozen=True)
class WatermarkResult:
    """One detection, with the parameters it used."""

    z: float
    """One-sided z-score of the green count."""
    p_value: float
    """Chance of at least this score in text written without the key."""
    detected: bool
    """Whether ``z`` reached ``z_threshold``."""
    tokens: int
    """Tokens in the text."""
    scored: int
    """Distinct (context, token) pairs scored."""
    green: int
    """Green pairs among them."""
    z_threshold: float
    gamma: float
    delta: float
    context_width: int
    key_id: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record of the detection and its parameters."""
        return asdict(self)


def z_score(green: int, scored: int, gamma: float) -> float:
    """The one-sided z-score of ``green`` successes in ``scored`` trials at rate ``gamma``."""
    if scored == 0:
        return 0.0
    return (green - gamma * scored) / math.sqrt(scored * gamma * (1.0 - gamma))


def p_value(z: float) -> float:
    """Upper tail of the standard normal at ``z``."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _distinct(values: U64) -> U64:
    """The distinct values (sort and compare neighbours: faster than ``np.unique`` here)."""
    ordered = np.sort(values)
    if ordered.shape[0] < 2:
        return ordered
    keep = np.empty(ordered.shape[0], dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


class WatermarkDetector:
    """Scores texts for the watermark of one key; needs only the tokenizer."""

    def __init__(
        self, key: WatermarkKey, encode: TokenEncoder | None = None, *, z_threshold: float = 4.0
    ) -> None:
        self.green = GreenList(key)
        self.params = key.params
        self.encode = encode
        self.z_threshold = z_threshold

    def green_flags(self, ids: NDArray[Any]) -> tuple[U64, NDArray[np.bool_]]:
        """Pair hashes and green flags of every scorable position of ``ids``."""
        width = self.green.width
        tokens = np.asarray(ids).astype(np.uint64, copy=False)
        if tokens.shape[0] <= width:
            return np.empty(0, np.uint64), np.empty(0, np.bool_)
        contexts = np.lib.stride_tricks.sliding_window_view(tokens[:-1], width)
        hashes = self.green.pair_hashes(self.green.seeds(contexts), tokens[width:])
        return hashes, hashes < self.green.threshold

    def score_ids(self, ids: Sequence[int] | NDArray[Any]) -> WatermarkResult:
        """Score token ids (the first ``context_width`` tokens have no context and are skipped)."""
        array = np.asarray(ids, dtype=np.int64)
        if array.size and int(array.min()) < 0:
            raise WatermarkError("token ids are non-negative")
        hashes, _ = self.green_flags(array)
        distinct = _distinct(hashes)
        scored = int(distinct.shape[0])
        green = int(np.count_nonzero(distinct < self.green.threshold))
        z = z_score(green, scored, self.params.gamma)
        return WatermarkResult(
            z=z,
            p_value=p_value(z),
            detected=z >= self.z_threshold,
            tokens=int(array.shape[0]),
            scored=scored,
            green=green,
            z_threshold=self.z_threshold,
            gamma=self.params.gamma,
            delta=self.params.delta,
            context_width=self.params.context_width,
            key_id=self.green.key_id,
        )

    def detect(self, text: str) -> WatermarkResult:
        """Tokenize ``text`` and score it."""
        if self.encode is None:
            raise WatermarkError("detecting text needs a tokenizer (encode=...)")
        return self.score_ids(list(self.encode(text)))


HF_HINT = "the watermark in transformers needs the 'hf' extra: pip install 'hegui[hf]'"


def _hf() -> ModuleType:
    try:
        from hegui.trace import _watermark_hf
    except ImportError as exc:
        raise WatermarkError(f"{HF_HINT} ({exc})") from None
    return _watermark_hf


def logits_processor(key: WatermarkKey) -> Any:
    """A transformers ``LogitsProcessor`` that applies the watermark of ``key``."""
    return _hf().GreenListLogitsProcessor(key)


def vllm_logits_processor(key: WatermarkKey) -> Any:
    """A vLLM per-request logits processor (``SamplingParams(logits_processors=[...])``)."""
    return _hf().VllmWatermark(key)


def load_tokenizer(spec: str) -> TokenEncoder:
    """Text -> token ids for ``local:smollm2``, a ``.gguf``, a ``tokenizer.json`` or a folder."""
    from hegui.trace._tokenizers import load_tokenizer as load

    return load(spec)
