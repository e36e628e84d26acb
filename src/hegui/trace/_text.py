"""Text: the explicit notice (GB 45438 4.1) and the implicit label in Markdown or plain text.

A notice is a line carrying one wording of every element the pack requires (an "AI"
element and a "generated/synthesised" element). Markdown keeps the implicit label in
YAML front matter (``AIGC: '{...}'``); plain text in a trailer line ``AIGC={...}``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import yaml

from hegui.policy import ImplicitLabel, LabelSpec
from hegui.trace._carrier import Embedded, register_carrier
from hegui.trace._errors import CarrierError

_BOM = "\ufeff"
_FENCE = "---"
_FENCE_ENDS = ("---", "...")


@lru_cache(maxsize=256)
def _wording_pattern(wording: str) -> re.Pattern[str]:
    folded = re.escape(unicodedata.normalize("NFKC", wording).casefold())
    if wording.isascii():  # "AI" must not match inside "said"
        return re.compile(rf"(?<![a-z0-9]){folded}(?![a-z0-9])")
    return re.compile(folded)


def _line_has_notice(line: str, elements: dict[str, list[str]]) -> bool:
    folded = unicodedata.normalize("NFKC", line).casefold()
    return all(
        any(_wording_pattern(w).search(folded) for w in wordings) for wordings in elements.values()
    )


def find_text_label(text: str, spec: LabelSpec) -> int | None:
    """The 0-based line of the first explicit notice in ``text``, or ``None``."""
    elements = spec.explicit.text.required_elements
    for number, line in enumerate(text.splitlines()):
        if _line_has_notice(line, elements):
            return number
    return None


def has_text_label(text: str, spec: LabelSpec) -> bool:
    """Whether ``text`` carries an explicit notice with every required element."""
    return find_text_label(text, spec) is not None


def text_notice(spec: LabelSpec, language: str = "zh") -> str:
    """The pack's default notice in ``zh`` or ``en``."""
    wording = spec.explicit.text.text
    return wording.en if language == "en" else wording.zh


def add_text_label(
    text: str, spec: LabelSpec, language: str = "zh", position: str | None = None
) -> str:
    """``text`` with the pack's notice at the start or end, unless it already has one."""
    if has_text_label(text, spec):
        return text
    notice = text_notice(spec, language)
    if (position or spec.explicit.text.position) == "end":
        return text.rstrip("\n") + "\n\n" + notice + "\n"
    return notice + "\n\n" + text


# --- files -----------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CarrierError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if text.startswith(_BOM):
        return _BOM, text[1:]
    return "", text


def _front_matter(text: str) -> tuple[list[str], str] | None:
    """The front matter lines and the body, when ``text`` starts with a ``---`` block."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != _FENCE:
        return None
    for end in range(1, len(lines)):
        if lines[end].rstrip("\r\n") in _FENCE_ENDS:
            return lines[1:end], "".join(lines[end + 1 :])
    return None


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class _TextCarrier:
    """Shared notice handling of the text formats."""

    def sniff(self, head: bytes) -> bool:
        """Text has no magic number: the extension chooses the format."""
        return False

    def has_notice(self, data: bytes, spec: LabelSpec) -> bool:
        """Whether the text carries an explicit notice."""
        return has_text_label(_decode(data)[1], spec)

    def add_notice(self, data: bytes, spec: LabelSpec, language: str = "zh") -> bytes:
        """The file with the pack's notice added to its body (front matter kept first)."""
        bom, text = _decode(data)
        matter = _front_matter(text)
        if matter is None:
            return (bom + add_text_label(text, spec, language)).encode("utf-8")
        body = matter[1]
        head = text[: len(text) - len(body)]
        return (bom + head + add_text_label(body, spec, language)).encode("utf-8")


@register_carrier
class MarkdownCarrier(_TextCarrier):
    """Markdown: key ``AIGC`` in YAML front matter."""

    format = "markdown"
    media = "text"
    extensions = (".md", ".markdown")
    location = "YAML front matter key AIGC"

    def read(self, data: bytes, spec: ImplicitLabel) -> Embedded:
        """The ``AIGC`` key of the front matter."""
        _, text = _decode(data)
        matter = _front_matter(text)
        if matter is None:
            return Embedded(None)
        try:
            parsed = yaml.safe_load("".join(matter[0]))
        except yaml.YAMLError as exc:
            raise CarrierError(f"the front matter is not valid YAML ({exc})") from None
        value = parsed.get(spec.field_name) if isinstance(parsed, dict) else None
        return Embedded(value if isinstance(value, str) else None)

    def write(self, data: bytes, value: str, spec: ImplicitLabel) -> bytes:
        """Set the front matter key (adding front matter when there is none)."""
        bom, text = _decode(data)
        entry = f"{spec.field_name}: {_quoted(value)}\n"
        matter = _front_matter(text)
        if matter is None:
            return (bom + f"{_FENCE}\n{entry}{_FENCE}\n" + text).encode("utf-8")
        lines, body = matter
        prefix = f"{spec.field_name}:"
        kept = [line for line in lines if not line.startswith(prefix)]
        return (bom + _FENCE + "\n" + "".join(kept) + entry + _FENCE + "\n" + body).encode("utf-8")


@register_carrier
class PlainTextCarrier(_TextCarrier):
    """Plain text: a trailer line ``AIGC={...}`` at the end."""

    format = "text"
    media = "text"
    extensions = (".txt", ".text")
    location = "trailer line AIGC="

    def _split(self, text: str, spec: ImplicitLabel) -> tuple[str, str | None]:
        stripped = text.rstrip("\r\n")
        body, _, last = stripped.rpartition("\n")
        marker = f"{spec.field_name}="
        if last.startswith(marker):
            return body + "\n" if body else "", last[len(marker) :].strip()
        return text, None

    def add_notice(self, data: bytes, spec: LabelSpec, language: str = "zh") -> bytes:
        """The file with the notice added to its body; the trailer line stays last."""
        bom, text = _decode(data)
        body, value = self._split(text, spec.implicit)
        labeled = add_text_label(body, spec, language)
        if value is not None:
            labeled = labeled.rstrip("\n") + f"\n{spec.implicit.field_name}={value}\n"
        return (bom + labeled).encode("utf-8")

    def read(self, data: bytes, spec: ImplicitLabel) -> Embedded:
        """The value of the last line when it starts with ``AIGC=``."""
        return Embedded(self._split(_decode(data)[1], spec)[1])

    def write(self, data: bytes, value: str, spec: ImplicitLabel) -> bytes:
        """Replace or append the trailer line."""
        bom, text = _decode(data)
        body, _ = self._split(text, spec)
        if body and not body.endswith("\n"):
            body += "\n"
        return (bom + body + f"{spec.field_name}={value}\n").encode("utf-8")
