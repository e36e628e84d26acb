"""Arrow arrays to and from numpy and Python lists, without pyarrow's pandas probe.

``pa.array``, ``pa.table`` over lists and ``Array.to_numpy`` first ask pyarrow's pandas
shim whether their input is a pandas object, and the shim imports pandas to answer,
where pandas is installed: about a third of a CPU second in every process of a run
(and in the fork server, which preloaded it for that reason), for nothing. These
helpers build the same arrays from buffers and builders, which never ask; the files
written from them are byte for byte the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

_OFFSET_MAX = (1 << 31) - 1
"""Largest offset of a ``string`` or ``list`` array (32-bit offsets)."""


def numeric(values: Any, dtype: npt.DTypeLike, type_: Any) -> Any:
    """An Arrow array of ``type_`` over ``values`` as a contiguous numpy array of ``dtype``."""
    arr = np.ascontiguousarray(values, dtype=dtype)
    return pa.Array.from_buffers(type_, len(arr), [None, pa.py_buffer(arr)])


def mask(values: npt.NDArray[np.bool_]) -> Any:
    """A boolean Arrow array (no nulls) from a numpy one."""
    bits = np.packbits(np.ascontiguousarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def strings(values: Sequence[str | None]) -> Any:
    """A ``string`` array (``None`` is null)."""
    builder = pa.lib.StringBuilder()
    builder.append_values(values)
    return builder.finish()


def inferred_strings(values: Sequence[str | None]) -> Any:
    """What ``pa.array(values)`` gives for a list of strings.

    A ``string`` array, or a ``null`` one when every value is ``None`` (or there is none).
    """
    if any(v is not None for v in values):
        return strings(values)
    return pa.nulls(len(values))


def _offsets(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int32] | None:
    """32-bit offsets for items of these lengths; ``None`` when they do not fit."""
    ends = np.cumsum(lengths, dtype=np.int64)
    if len(ends) and ends[-1] > _OFFSET_MAX:
        return None
    out = np.zeros(len(lengths) + 1, dtype=np.int32)
    out[1:] = ends
    return out


def utf8(encoded: list[bytes]) -> Any:
    """A ``string`` array of already UTF-8-encoded texts (``str.encode`` output)."""
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    offsets = _offsets(lengths)
    if offsets is None:  # over 2 GiB of text in one array: let pyarrow chunk it
        return pa.array(encoded, type=pa.binary()).view(pa.string())
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), data])


def lists(rows: Sequence[Sequence[Any]], values: Any, type_: Any) -> Any:
    """A list array of ``type_``: row ``i`` holds the next ``len(rows[i])`` of ``values``."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    offsets = _offsets(lengths)
    if offsets is None:
        return pa.array(rows, type=type_)
    return pa.ListArray.from_arrays(numeric(offsets, np.int32, pa.int32()), values, type=type_)


def string_lists(rows: Sequence[Sequence[str]]) -> Any:
    """A ``list<string>`` array."""
    return lists(rows, strings([v for row in rows for v in row]), pa.list_(pa.string()))


def struct_lists(rows: Sequence[Sequence[dict[str, Any]]], type_: Any) -> Any:
    """A ``list<struct>`` array of ``type_`` from rows of dicts, one key per field.

    Fields are ``string`` or ``int64``; a key missing from a dict is null.
    """
    struct = type_.value_type
    flat = [item for row in rows for item in row]
    children = []
    for field in struct:
        column = [item.get(field.name) for item in flat]
        if pa.types.is_string(field.type):
            children.append(strings(column))
        elif pa.types.is_int64(field.type) and None not in column:
            children.append(numeric(column, np.int64, pa.int64()))
        else:
            children.append(pa.array(column, type=field.type))
    values = pa.StructArray.from_arrays(children, fields=list(struct))
    return lists(rows, values, type_)


def to_numpy(column: Any, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """A fixed-width column (``Array`` or ``ChunkedArray``, no nulls) as a new numpy array."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if any(c.null_count for c in chunks):
        return np.asarray(column.to_pylist(), dtype=dtype)
    width = np.dtype(dtype).itemsize
    parts = [
        np.frombuffer(c.buffers()[1], dtype=dtype, count=len(c), offset=c.offset * width)
        for c in chunks
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
