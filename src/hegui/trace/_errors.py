"""Errors of the trace module: a bad label value, and a file that cannot carry or give one."""

from __future__ import annotations


class TraceError(Exception):
    """Base of every error raised by ``hegui.trace``."""


class LabelError(TraceError, ValueError):
    """An implicit label is malformed or uses values the pack does not allow."""


class CarrierError(TraceError):
    """A file is corrupt, or its format cannot carry a label; the message names why."""


class UnsupportedFormat(CarrierError):
    """No carrier is registered for this file's format."""


class WatermarkError(TraceError, ValueError):
    """A watermark key, parameter or tokenizer is unusable."""
