"""Turn pydantic errors and cross-field problems into ``PolicyError`` with file and line."""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hegui.policy._errors import PolicyError, format_loc
from hegui.policy._yaml import blame

Loc = tuple[str | int, ...]


def from_validation(
    exc: ValidationError, files: Sequence[Path], model: type[BaseModel]
) -> PolicyError:
    """Convert every error of a failed ``model`` validation into one ``PolicyError``."""
    problems = [(tuple(error["loc"]), _reason(error, model)) for error in exc.errors()]
    return from_problems(problems, files)


def from_problems(problems: Sequence[tuple[Loc, str]], files: Sequence[Path]) -> PolicyError:
    """Build one ``PolicyError`` (with the rest in ``more``) from located problems."""
    errors = []
    for loc, reason in problems:
        file, line = blame(files, loc)
        suffix = f" (line {line})" if line is not None else ""
        errors.append(PolicyError(file, format_loc(loc), reason + suffix, line=line))
    first = errors[0]
    return PolicyError(first.file, first.field, first.reason, line=first.line, more=errors[1:])


def _reason(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]), _fields_at(model, loc[:-1]))
    if kind == "missing":
        return "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if kind != "value_error" and (value is None or isinstance(value, str | int | float | bool)):
        message += f" (got {_short(value)})"
    return message


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_field(key: str, allowed: list[str] | None) -> str:
    if not allowed:
        return f"unknown field {key!r}"
    hint = difflib.get_close_matches(key, allowed, n=1)
    maybe = f"did you mean {hint[0]!r}? " if hint else ""
    return f"unknown field {key!r}; {maybe}allowed: {', '.join(allowed)}"


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """Return the field names of the model found at ``loc`` under ``model``, if any."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (list, tuple) and isinstance(part, int):
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the one real type, when there is one."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation
