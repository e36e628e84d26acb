"""Errors of the audit ledger."""

from __future__ import annotations


class AuditError(Exception):
    """Something in the audit ledger is wrong: bad input, a missing key, a broken store."""


class AuditWriteError(AuditError):
    """An append did not commit; nothing of its batch was stored. Never swallowed."""


class AuditKeyError(AuditError):
    """A signing or content key is missing, unreadable or of the wrong kind."""


class RetentionError(AuditError):
    """A retention request breaks the policy pack's minimum or a legal hold."""
