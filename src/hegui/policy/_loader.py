"""Find packs, read them, merge ``extends`` chains, and validate the result."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hegui.policy._base import LocalizedText
from hegui.policy._checks import PATH_OPTIONS, check_pack
from hegui.policy._crosswalk import Crosswalk, check_crosswalk
from hegui.policy._diagnose import from_problems, from_validation
from hegui.policy._errors import PolicyError
from hegui.policy._policy import Policy
from hegui.policy._spec import PackSpec
from hegui.policy._yaml import read_yaml

PACKS_DIR = Path(__file__).resolve().parent.parent / "packs"
"""Folder of the packs shipped with hegui, one sub-folder per pack."""

PACK_FILE = "pack.yaml"
"""File name of a pack inside its folder."""

MAPPINGS_DIR = PACKS_DIR / "mappings"
"""Folder of the shipped crosswalk files."""

_SHIPPED_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class PackInfo:
    """What ``list_packs`` tells about one shipped pack."""

    id: str
    version: str
    name: LocalizedText
    path: Path


@dataclass(frozen=True, slots=True)
class _Layer:
    path: Path
    data: dict[str, Any]


def load_policy(name_or_path: str | Path) -> Policy:
    """Load a shipped pack by name (``cn``, ``eu``, ``us``) or a pack file or folder.

    A bare name that matches a shipped pack always means that pack; write ``./cn`` for
    a local folder of the same name. ``extends`` chains are merged (mappings key by
    key; lists and scalars replace) and the result is validated as a whole.

    Raises:
        PolicyError: the pack cannot be found, read, parsed or validated.
    """
    path = _locate(name_or_path, relative_to=None, declared_in=None)
    layers = _read_chain(path)
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        merged = deep_merge(merged, layer.data)
    files = [layer.path for layer in layers]
    try:
        spec = PackSpec.model_validate(merged)
    except ValidationError as exc:
        raise from_validation(exc, files, PackSpec) from None
    problems = check_pack(spec)
    if problems:
        raise from_problems(problems, files)
    lineage = tuple(str(layer.data["id"]) for layer in layers)
    return Policy(
        spec, source=path, files=tuple(files), lineage=lineage, crosswalks=_shipped_crosswalks
    )


def list_packs() -> list[PackInfo]:
    """Return the shipped packs, sorted by id (each one is fully validated)."""
    infos = []
    for folder in sorted(PACKS_DIR.iterdir()):
        if (folder / PACK_FILE).is_file() and _SHIPPED_NAME.match(folder.name):
            policy = load_policy(folder.name)
            infos.append(PackInfo(policy.id, policy.version, policy.name, policy.source))
    return infos


def load_crosswalks(directory: str | Path | None = None) -> list[Crosswalk]:
    """Load and check every ``*.yaml`` crosswalk in ``directory`` (default: shipped ones).

    Each crosswalk names a ``source`` and a ``target`` shipped pack; every mapped id
    must exist in its pack.

    Raises:
        PolicyError: a file is broken or maps an id its pack does not define.
    """
    folder = Path(directory) if directory is not None else MAPPINGS_DIR
    packs: dict[str, Policy] = {}
    return [_load_crosswalk(path, packs) for path in sorted(folder.glob("*.yaml"))]


@functools.cache
def _shipped_crosswalks() -> tuple[Crosswalk, ...]:
    return tuple(load_crosswalks())


def _load_crosswalk(path: Path, packs: dict[str, Policy]) -> Crosswalk:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise PolicyError(path, "", "a crosswalk must be a mapping with source, target, mapping")
    try:
        crosswalk = Crosswalk.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc, [path], Crosswalk) from None
    if crosswalk.source == crosswalk.target:
        raise PolicyError(path, "target", "must differ from source")
    for side, pack_id in (("source", crosswalk.source), ("target", crosswalk.target)):
        if pack_id not in packs:
            if _shipped(pack_id) is None:
                raise PolicyError(path, side, f"{pack_id!r} is not a shipped pack")
            packs[pack_id] = load_policy(pack_id)
    source, target = packs[crosswalk.source], packs[crosswalk.target]
    problems = list(check_crosswalk(crosswalk, source.risks, target.risks))
    if problems:
        raise from_problems(problems, [path])
    return crosswalk


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` laid over it, without changing either.

    Mappings merge key by key; anything else in ``override`` (lists, scalars, null)
    replaces the value in ``base``.
    """
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def _shipped(name: str) -> Path | None:
    if not _SHIPPED_NAME.match(name):
        return None
    candidate = PACKS_DIR / name / PACK_FILE
    return candidate if candidate.is_file() else None


def _locate(
    name_or_path: str | Path, *, relative_to: Path | None, declared_in: Path | None
) -> Path:
    if isinstance(name_or_path, str):
        shipped = _shipped(name_or_path)
        if shipped is not None:
            return shipped
    path = Path(name_or_path).expanduser()
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    if path.is_dir():
        path = path / PACK_FILE
    if path.is_file():
        return path.resolve()
    names = ", ".join(sorted(p.parent.name for p in PACKS_DIR.glob(f"*/{PACK_FILE}")))
    if declared_in is not None:
        reason = f"{str(name_or_path)!r} is neither a shipped pack ({names}) nor a pack at {path}"
        raise PolicyError(declared_in, "extends", reason)
    raise PolicyError(path, "", f"no pack file or folder here, and not a shipped pack ({names})")


def _read_chain(path: Path) -> list[_Layer]:
    """Read ``path`` and every pack it extends, most derived first."""
    layers: list[_Layer] = []
    current = path
    while True:
        if any(layer.path == current for layer in layers):
            chain = " -> ".join(str(layer.path) for layer in [*layers, _Layer(current, {})])
            raise PolicyError(layers[-1].path, "extends", f"extends cycle: {chain}")
        layer = _read_layer(current)
        _check_own_id(layer, layers)
        layers.append(layer)
        parent = layer.data.get("extends")
        if parent is None:
            return layers
        if not isinstance(parent, str) or not parent.strip():
            raise PolicyError(current, "extends", "must be a shipped pack name or a path")
        current = _locate(parent, relative_to=current.parent, declared_in=current)


def _read_layer(path: Path) -> _Layer:
    data = read_yaml(path)
    if data is None:
        raise PolicyError(path, "", "the file is empty; a pack needs at least id and version")
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise PolicyError(path, "", f"a pack must be a mapping of fields, not a {kind}")
    return _Layer(path, _resolve_paths(data, path.parent))


def _check_own_id(layer: _Layer, derived: list[_Layer]) -> None:
    for key in ("id", "version"):
        if not isinstance(layer.data.get(key), str):
            reason = f"every pack file must set its own {key} (a string)"
            raise PolicyError(layer.path, key, reason)
    for other in derived:
        if other.data["id"] == layer.data["id"]:
            reason = f"id {layer.data['id']!r} is already used by the pack it extends"
            raise PolicyError(other.path, "id", reason)


def _resolve_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Make detector file options absolute against ``folder``, the declaring pack's."""
    detectors = data.get("detectors")
    if not isinstance(detectors, dict):
        return data
    resolved: dict[str, Any] = {}
    for name, spec in detectors.items():
        options = spec.get("options") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and isinstance(options, dict):
            options = {
                key: _absolute(value, folder) if key in PATH_OPTIONS else value
                for key, value in options.items()
            }
            resolved[name] = {**spec, "options": options}
        else:
            resolved[name] = spec
    return {**data, "detectors": resolved}


def _absolute(value: Any, folder: Path) -> Any:
    if isinstance(value, str) and value:
        return str((folder / Path(value).expanduser()).resolve())
    if isinstance(value, list):
        return [_absolute(item, folder) if isinstance(item, str) else item for item in value]
    return value
