"""External guard models as detectors: an OpenAI-compatible server, or a local HF model.

``guard_openai`` sends the text to a guard model (Llama Guard 3/4, Qwen3Guard) served
behind ``/v1/chat/completions`` (vLLM, TGI, llama.cpp, Ollama apply the model's own
chat template, which builds the guard prompt) and maps the category codes of its
verdict to the pack's risk ids with ``guard_mapping.yaml``. A timeout, HTTP error or
unreadable answer becomes a finding of kind ``unavailable``; ``on_unavailable: block``
(the default: fail closed) or ``flag`` decides its action. ``guard_hf`` runs a local
Hugging Face sequence-classification model (``pip install 'hegui[hf]'``).

A guard judges a whole message, so its stream holds everything back until the end.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from hegui.detect._registry import detector
from hegui.detect._types import Finding
from hegui.policy._actions import Action, Severity

if TYPE_CHECKING:
    from hegui.policy import DetectorSpec, Policy

_PACK_DIR = Path(__file__).resolve().parent.parent / "packs" / "cn" / "classifier"
GUARD_MAPPING = _PACK_DIR / "guard_mapping.yaml"
"""Shipped category -> risk id mapping of the guard models."""
Flavor = Literal["llama_guard", "qwen3guard"]
Transport = Callable[[str, bytes, Mapping[str, str], float], bytes]
"""``(url, body, headers, timeout) -> response body``; raise on any failure."""
_LLAMA_CODE = re.compile(r"\bS\d{1,2}\b")


class GuardError(RuntimeError):
    """The guard model could not give a verdict (timeout, HTTP error, bad answer)."""


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """What a guard model said: unsafe or not, and its category codes."""

    unsafe: bool
    categories: tuple[str, ...] = ()


def parse_llama_guard(answer: str) -> GuardVerdict:
    """Llama Guard 3/4: ``safe``, or ``unsafe`` then a line of codes (``S1,S10``)."""
    lines = [ln.strip() for ln in answer.strip().splitlines() if ln.strip()]
    if not lines or lines[0].lower() not in ("safe", "unsafe"):
        raise GuardError(f"not a Llama Guard verdict: {answer[:80]!r}")
    if lines[0].lower() == "safe":
        return GuardVerdict(False)
    return GuardVerdict(True, tuple(_LLAMA_CODE.findall(" ".join(lines[1:]))))


def parse_qwen3guard(answer: str) -> GuardVerdict:
    """Qwen3Guard: ``Safety: Safe|Unsafe|Controversial`` and ``Categories: a, b``.

    Controversial counts as unsafe: the gateway fails closed on doubt.
    """
    safety = re.search(r"Safety:\s*(Safe|Unsafe|Controversial)", answer, re.IGNORECASE)
    if safety is None:
        raise GuardError(f"not a Qwen3Guard verdict: {answer[:80]!r}")
    if safety.group(1).lower() == "safe":
        return GuardVerdict(False)
    cats = re.search(r"Categories:\s*(.+)", answer)
    names = [c.strip() for c in cats.group(1).split(",")] if cats else []
    return GuardVerdict(True, tuple(n for n in names if n and n.lower() != "none"))


PARSERS: dict[str, Callable[[str], GuardVerdict]] = {
    "llama_guard": parse_llama_guard,
    "qwen3guard": parse_qwen3guard,
}


def load_guard_mapping(path: str | Path, flavor: str) -> tuple[dict[str, str], str]:
    """Category -> risk id for ``flavor`` and the default risk, from a mapping YAML."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get(flavor), dict):
        raise ValueError(f"{path}: no mapping for guard flavour {flavor!r}")
    return {str(k): str(v) for k, v in raw[flavor].items()}, str(raw.get("default", "A.1.h"))


def urllib_transport(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> bytes:
    """POST with the standard library; any failure is a ``GuardError``."""
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            data: bytes = resp.read()
            return data
    except urllib.error.HTTPError as exc:
        raise GuardError(f"guard server answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise GuardError(f"guard server unreachable: {exc}") from None


class _GuardBase:
    """Shared by the guards: findings, the unavailable finding, whole-message streams."""

    name = "guard"

    def __init__(
        self,
        mapping: Mapping[str, str],
        default_risk: str,
        action: Action,
        severity: Severity,
        on_unavailable: Action,
    ) -> None:
        self.mapping = dict(mapping)
        self.default_risk = default_risk
        self.action = action
        self.severity = severity
        self.on_unavailable = on_unavailable

    def _findings(
        self, text: str, categories: Sequence[str], extra: Mapping[str, str]
    ) -> list[Finding]:
        return [
            Finding(
                detector=self.name,
                risk=self.mapping.get(cat, self.default_risk),
                start=0,
                end=len(text),
                matched=text,
                term=cat,
                action=self.action,
                severity=self.severity,
                kind="guard",
                details={"category": cat, **extra},
            )
            for cat in (categories or ("unsafe",))
        ]

    def _unavailable(self, text: str, error: str) -> list[Finding]:
        return [
            Finding(
                detector=self.name,
                risk="unavailable",
                start=0,
                end=len(text),
                matched=text,
                term="unavailable",
                action=self.on_unavailable,
                severity=Severity.HIGH,
                kind="unavailable",
                details={"error": error},
            )
        ]

    def judge(self, text: str) -> list[Finding]:
        """Findings for one whole message."""
        raise NotImplementedError

    def scan(self, text: str) -> list[Finding]:
        """The guard's verdict on the whole text (empty text is not sent)."""
        return self.judge(text) if text.strip() else []

    def stream(self) -> _WholeMessageStream:
        """Holds the whole stream back and judges it at the end."""
        return _WholeMessageStream(self)


class _WholeMessageStream:
    def __init__(self, guard: _GuardBase) -> None:
        self.guard = guard

    def scan(self, buf: str, start: int, offset: int, final: bool) -> tuple[list[Finding], int]:
        if not final:
            return [], start
        found = self.guard.scan(buf[start:])
        for f in found:
            f.start += offset + start
            f.end += offset + start
        return found, len(buf)


class OpenAIGuard(_GuardBase):
    """A guard model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    name = "guard_openai"

    def __init__(
        self,
        url: str,
        model: str,
        flavor: Flavor,
        mapping: Mapping[str, str],
        *,
        default_risk: str = "A.1.h",
        action: Action = Action.BLOCK,
        severity: Severity = Severity.HIGH,
        on_unavailable: Action = Action.BLOCK,
        timeout: float = 5.0,
        role: Literal["user", "assistant"] = "user",
        api_key: str | None = None,
        transport: Transport = urllib_transport,
    ) -> None:
        super().__init__(mapping, default_risk, action, severity, on_unavailable)
        if flavor not in PARSERS:
            raise ValueError(f"unknown guard flavour {flavor!r} (known: {', '.join(PARSERS)})")
        self.url = url.rstrip("/") + "/chat/completions" if url.rstrip("/").endswith("/v1") else url
        self.model, self.flavor, self.timeout, self.role = model, flavor, timeout, role
        self.api_key, self.transport = api_key, transport

    def _messages(self, text: str) -> list[dict[str, str]]:
        if self.role == "user":
            return [{"role": "user", "content": text}]
        return [{"role": "user", "content": ""}, {"role": "assistant", "content": text}]

    def judge(self, text: str) -> list[Finding]:
        """Ask the guard; a failure of any kind becomes an ``unavailable`` finding."""
        body = json.dumps(
            {"model": self.model, "messages": self._messages(text), "temperature": 0}
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            raw = self.transport(self.url, body, headers, self.timeout)
            answer = json.loads(raw)["choices"][0]["message"]["content"]
            verdict = PARSERS[self.flavor](str(answer))
        except GuardError as exc:
            return self._unavailable(text, str(exc))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return self._unavailable(text, f"unreadable guard answer: {exc!r}")
        if not verdict.unsafe:
            return []
        return self._findings(text, verdict.categories, {"model": self.model})


Pipeline = Callable[[str], Any]
"""A text-classification pipeline: ``text -> [{"label": str, "score": float}, ...]``."""


def _hf_pipeline(path: str) -> Pipeline:
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        raise RuntimeError(
            "the guard_hf detector needs transformers: pip install 'hegui[hf]'"
        ) from None
    pipe: Pipeline = transformers.pipeline("text-classification", model=path, top_k=None)
    return pipe


class HFGuard(_GuardBase):
    """A local Hugging Face sequence-classification model; labels map to risk ids."""

    name = "guard_hf"

    def __init__(
        self,
        path: str,
        mapping: Mapping[str, str],
        *,
        default_risk: str = "A.1.h",
        action: Action = Action.BLOCK,
        severity: Severity = Severity.HIGH,
        on_unavailable: Action = Action.BLOCK,
        threshold: float = 0.5,
        safe_labels: Sequence[str] = ("safe", "benign", "label_0", "negative", "ok"),
        pipeline: Pipeline | None = None,
    ) -> None:
        super().__init__(mapping, default_risk, action, severity, on_unavailable)
        self.threshold = threshold
        self.safe_labels = {s.lower() for s in safe_labels}
        self.pipeline = pipeline if pipeline is not None else _hf_pipeline(path)

    def labels(self, output: Any) -> list[tuple[str, float]]:
        """Unsafe labels at or over the threshold, from a pipeline's output."""
        rows = output[0] if output and isinstance(output[0], list) else output
        return [
            (str(r["label"]), float(r["score"]))
            for r in rows
            if str(r["label"]).lower() not in self.safe_labels
            and float(r["score"]) >= self.threshold
        ]

    def judge(self, text: str) -> list[Finding]:
        """Classify the text; an exception of the model becomes ``unavailable``."""
        try:
            hits = self.labels(self.pipeline(text))
        except Exception as exc:  # noqa: BLE001  a failing model must fail closed
            return self._unavailable(text, f"guard model failed: {exc!r}")
        found: list[Finding] = []
        for label, score in hits:
            found += self._findings(text, [label], {"score": f"{score:.2f}"})
        return found


def _common(spec: DetectorSpec, flavor: str) -> dict[str, Any]:
    opts = spec.options
    mapping, default = load_guard_mapping(opts.get("mapping") or GUARD_MAPPING, flavor)
    return {
        "mapping": mapping,
        "default_risk": str(opts.get("default_risk", default)),
        "action": spec.action,
        "severity": spec.severity,
        "on_unavailable": Action(str(opts.get("on_unavailable", "block"))),
    }


@detector("guard_openai")
def _build_openai_guard(spec: DetectorSpec, policy: Policy) -> OpenAIGuard:
    opts = spec.options
    flavor = str(opts.get("flavor", "llama_guard"))
    key_env = opts.get("api_key_env")
    return OpenAIGuard(
        url=str(opts["url"]),
        model=str(opts.get("model", "")),
        flavor=flavor,  # type: ignore[arg-type]
        timeout=float(opts.get("timeout", 5.0)),
        role=opts.get("role", "user"),
        api_key=os.environ.get(str(key_env)) if key_env else None,
        **_common(spec, flavor),
    )


@detector("guard_hf")
def _build_hf_guard(spec: DetectorSpec, policy: Policy) -> HFGuard:
    opts = spec.options
    flavor = str(opts.get("flavor", "qwen3guard"))
    return HFGuard(
        path=str(opts["path"]),
        threshold=float(opts.get("threshold", 0.5)),
        **_common(spec, flavor),
    )
