"""``PolicyError``: every way a pack can be wrong, named by file, field and reason."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class PolicyError(Exception):
    """A pack or crosswalk file that cannot be used, and why.

    ``field`` is a dotted path such as ``detectors.lexicon.action`` or
    ``taxonomy[3].parent`` (empty when the whole file is at fault); ``line`` is the
    1-based line in ``file`` when known. ``more`` holds further problems found in the
    same pass, so a user can fix them all at once.
    """

    def __init__(
        self,
        file: Path | str,
        field: str,
        reason: str,
        *,
        line: int | None = None,
        more: Sequence[PolicyError] = (),
    ) -> None:
        self.file = Path(file)
        self.field = field
        self.reason = reason
        self.line = line
        self.more = tuple(more)
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.field:
            return f"{self.file}: {self.reason}"
        return f"{self.file}: {self.field}: {self.reason}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.file, self.field, self.reason, self.line, self.more))

    @property
    def problems(self) -> tuple[PolicyError, ...]:
        """This problem followed by the others found with it."""
        return (self, *self.more)


def _rebuild(
    file: Path, field: str, reason: str, line: int | None, more: tuple[PolicyError, ...]
) -> PolicyError:
    return PolicyError(file, field, reason, line=line, more=more)


def format_loc(loc: Sequence[str | int]) -> str:
    """Render a location as ``a.b[2].c``; keys that are not plain words are quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out
