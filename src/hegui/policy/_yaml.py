"""Strict YAML reading: duplicate keys are errors, and locations map back to lines."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from hegui.policy._errors import PolicyError

if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # the C parser when libyaml is present: about five times faster
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoader):
    """A safe loader that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: MappingNode) -> dict[Any, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable):
            if key in seen:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, turning read and syntax errors into ``PolicyError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(path, "", f"cannot read the file: {exc}") from exc
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "invalid YAML"
        reason = f"YAML syntax error: {problem}"
        if exc.context:
            reason += f" ({exc.context})"
        raise PolicyError(path, f"line {line}" if line else "", reason, line=line) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(path, "", f"YAML error: {exc}") from exc


def _compose(path: Path) -> Node | None:
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _walk(node: Node | None, loc: Sequence[str | int]) -> tuple[int, Node | None]:
    """Follow ``loc`` into ``node``; return how many parts matched and the last node."""
    depth = 0
    for part in loc:
        child: Node | None = None
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    child = value_node
                    break
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        depth += 1
    return depth, node


def blame(files: Sequence[Path], loc: Sequence[str | int]) -> tuple[Path, int | None]:
    """Find which of ``files`` (most derived first) wrote ``loc``, and on which line.

    The file whose YAML reaches deepest along ``loc`` wins; a tie goes to the more
    derived file. The line is that of the deepest node reached.
    """
    best: tuple[int, Path, int | None] = (-1, files[0], None)
    for path in files:
        depth, node = _walk(_compose(path), loc)
        if depth > best[0]:
            line = node.start_mark.line + 1 if node is not None and depth else None
            best = (depth, path, line)
    return best[1], best[2]
