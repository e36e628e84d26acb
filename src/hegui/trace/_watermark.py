"""A keyed green-list text watermark (Kirchenbauer et al., ICML 2023) and its detector.

At each step the previous ``context_width`` token ids and the secret key seed a keyed
hash; a token is *green* when the hash of (seed, token id) falls below ``gamma`` of the
hash range, so about ``gamma`` of the vocabulary is green at every step. Generation adds
``delta`` to the logits of green tokens (``greedy_delta`` when decoding greedily, which
leaves the bias less entropy to work with). Detection counts green tokens in a text and
returns the one-sided z-score ``(g - gamma T) / sqrt(T gamma (1 - gamma))`` and the exact
binomial p-value; a text written without the key is green at rate ``gamma`` whatever its
source, so the p-value is exact and the detector's false-positive rate is its ``fpr``.

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
GREEDY_DELTA = 3.0
"""Default greedy bias, chosen with ``bench/trace.py --tune`` on held-apart prompts."""
DEFAULT_FPR = 1e-4
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
    """Logit bias added to green tokens when sampling."""
    context_width: int = 4
    """How many previous tokens seed the green list.

    Four, not one: texts of one corpus share their frequent token pairs, so under a width
    of one a key's green luck on those pairs shifts every text's score together (on
    Chinese public text, one key's rate at z >= 2 ranged 0.005-0.077 against 0.025); at
    four the shared units are rare (0.021-0.030). Greedy answers also loop less.
    """
    greedy_delta: float = GREEDY_DELTA
    """Logit bias when decoding greedily (``logits_processor(key, greedy=True)``)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise WatermarkError(f"gamma must be between 0 and 1, not {self.gamma}")
        for name, value in (("delta", self.delta), ("greedy delta", self.greedy_delta)):
            if not 0.0 <= value <= 100.0:
                raise WatermarkError(f"{name} must be between 0 and 100, not {value}")
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
            delta = float(data["delta"])
            params = WatermarkParams(
                float(data["gamma"]),
                delta,
                int(data["context_width"]),
                # key files written before greedy_delta existed used delta for both
                float(data.get("greedy_delta", delta)),
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
    """One-sided z-score of the green count (for reading; the decision uses ``p_value``)."""
    p_value: float
    """Exact chance (binomial tail) of at least ``green`` in text written without the key."""
    detected: bool
    """Whether ``p_value`` is at most ``fpr``."""
    tokens: int
    """Tokens in the text."""
    scored: int
    """Distinct (context, token) pairs scored."""
    green: int
    """Green pairs among them."""
    fpr: float
    """The false-positive rate the detector was set to: its p-value threshold."""
    gamma: float
    delta: float
    greedy_delta: float
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
    """Upper tail of the standard normal at ``z`` (the z-score's approximate p-value)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def binomial_p_values(
    green: NDArray[Any] | int, scored: NDArray[Any] | int, gamma: float
) -> NDArray[np.float64]:
    """Exact ``P(X >= green)`` for ``X ~ Binomial(scored, gamma)``, elementwise.

    The normal tail of the z-score understates it: at 200 tokens and gamma 0.25,
    z >= 3.719 has probability 1.7e-4, not 1e-4, because the binomial is skewed.
    """
    from scipy.special import bdtrc  # P(X > k); scipy is loaded only when scoring

    g = np.asarray(green, dtype=np.int64)
    n = np.asarray(scored, dtype=np.int64)
    tail = np.asarray(bdtrc(np.maximum(g - 1, 0), n, gamma), dtype=np.float64)
    return np.where(g <= 0, 1.0, tail)


class WatermarkDetector:
    """Scores texts for the watermark of one key; needs only the tokenizer.

    A text counts as watermarked when its exact p-value is at most ``fpr``, so ``fpr`` is
    the false-positive rate on text written without the key.
    """

    def __init__(
        self, key: WatermarkKey, encode: TokenEncoder | None = None, *, fpr: float = DEFAULT_FPR
    ) -> None:
        if not 0.0 < fpr < 1.0:
            raise WatermarkError(f"fpr must be between 0 and 1, not {fpr}")
        self.green = GreenList(key)
        self.params = key.params
        self.encode = encode
        self.fpr = fpr

    def green_flags(self, ids: NDArray[Any]) -> tuple[U64, NDArray[np.bool_]]:
        """Pair hashes and green flags of every scorable position of ``ids``."""
        width = self.green.width
        tokens = np.asarray(ids).astype(np.uint64, copy=False)
        if tokens.shape[0] <= width:
            return np.empty(0, np.uint64), np.empty(0, np.bool_)
        contexts = np.lib.stride_tricks.sliding_window_view(tokens[:-1], width)
        hashes = self.green.pair_hashes(self.green.seeds(contexts), tokens[width:])
        return hashes, hashes < self.green.threshold

    def green_counts(self, rows: NDArray[Any]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Distinct pairs scored and green ones in each row of ``rows`` (shape ``(n, length)``).

        Vectorised over rows: the benchmark and the calibration tests score many texts of one
        length at once this way; ``score_ids`` is the same computation on one row.
        """
        tokens = np.asarray(rows)
        if tokens.ndim != 2:
            raise WatermarkError("green_counts takes a 2-D array of token ids")
        if tokens.size and int(tokens.min()) < 0:
            raise WatermarkError("token ids are non-negative")
        width = self.green.width
        positions = tokens.shape[1] - width
        if positions <= 0:
            zeros = np.zeros(tokens.shape[0], dtype=np.int64)
            return zeros, zeros.copy()
        ids = tokens.astype(np.uint64, copy=False)
        contexts = np.lib.stride_tricks.sliding_window_view(ids[:, :-1], width, axis=1)
        seeds = self.green.seeds(contexts.reshape(-1, width))
        hashes = self.green.pair_hashes(seeds, ids[:, width:].reshape(-1))
        ordered = np.sort(hashes.reshape(tokens.shape[0], positions), axis=1)
        distinct = np.empty(ordered.shape, dtype=np.bool_)
        distinct[:, 0] = True
        np.not_equal(ordered[:, 1:], ordered[:, :-1], out=distinct[:, 1:])
        scored = np.count_nonzero(distinct, axis=1).astype(np.int64)
        green = np.count_nonzero(distinct & (ordered < self.green.threshold), axis=1)
        return scored, green.astype(np.int64)

    def score_ids(self, ids: Sequence[int] | NDArray[Any]) -> WatermarkResult:
        """Score token ids (the first ``context_width`` tokens have no context and are skipped)."""
        array = np.asarray(ids, dtype=np.int64).reshape(-1)
        scored_rows, green_rows = self.green_counts(array[None, :])
        scored, green = int(scored_rows[0]), int(green_rows[0])
        z = z_score(green, scored, self.params.gamma)
        p = float(binomial_p_values(green, scored, self.params.gamma))
        return WatermarkResult(
            z=z,
            p_value=p,
            detected=scored > 0 and p <= self.fpr,
            tokens=int(array.shape[0]),
            scored=scored,
            green=green,
            fpr=self.fpr,
            gamma=self.params.gamma,
            delta=self.params.delta,
            greedy_delta=self.params.greedy_delta,
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


def logits_processor(key: WatermarkKey, *, greedy: bool = False) -> Any:
    """A transformers ``LogitsProcessor`` that applies the watermark of ``key``.

    ``greedy=True`` (for ``do_sample=False``) biases by the key's ``greedy_delta``.
    """
    return _hf().GreenListLogitsProcessor(key, greedy=greedy)


def vllm_logits_processor(key: WatermarkKey, *, greedy: bool = False) -> Any:
    """A vLLM per-request logits processor; ``greedy=True`` for requests at temperature 0."""
    return _hf().VllmWatermark(key, greedy=greedy)


def load_tokenizer(spec: str) -> TokenEncoder:
    """Text -> token ids for ``local:smollm2``, a ``.gguf``, a ``tokenizer.json`` or a folder."""
    from hegui.trace._tokenizers import load_tokenizer as load

    return load(spec)
