"""The service's control plane: the control database, API keys and principals, abuse.

Incidents and the kill switch (``hegui.incidents``) and the gateway's live view of all
this (``hegui.gateway``) build on it. See ``docs/gateway.md``.
"""

from hegui.control._abuse import (
    REDIS_URL_ENV,
    AbuseTracker,
    MemoryAbuse,
    RedisAbuse,
    abuse_tracker,
)
from hegui.control._db import CHANNEL, CONTROL_DB_FILE, ControlDB, ControlError
from hegui.control._keys import KEY_PREFIX, KeyInfo, KeyStore, PrincipalInfo, hash_key

__all__ = [
    "CHANNEL",
    "CONTROL_DB_FILE",
    "KEY_PREFIX",
    "REDIS_URL_ENV",
    "AbuseTracker",
    "ControlDB",
    "ControlError",
    "KeyInfo",
    "KeyStore",
    "MemoryAbuse",
    "PrincipalInfo",
    "RedisAbuse",
    "abuse_tracker",
    "hash_key",
]
