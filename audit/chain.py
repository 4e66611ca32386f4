"""The hash chain itself: canonical content and the hash of one entry.

Pure Python (no models), so `audit.apps` can register the chain's
constraint without importing the audit app's models.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

# The first entry of every stream links to this.
ZERO_HASH = "0" * 64
# UNIQUE(stream, seq): two appends that read the same head cannot both commit.
CHAIN_CONSTRAINT = "audit_one_entry_per_seq"
# How SQLite names the same violation (it does not report constraint names).
CHAIN_CONSTRAINT_SQLITE = "audit_auditentry.stream, audit_auditentry.seq"


def canonical(value: Any) -> str:
    """One spelling for one content: sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def content_of(
    *,
    stream: str,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_username: str,
    action: str,
    object_type: str,
    object_id: str,
    branch_id: int | None,
    data: Any,
) -> dict[str, Any]:
    return {
        "stream": stream,
        "seq": seq,
        "at": iso(at),
        "actor": actor_id,
        "actor_username": actor_username,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "branch": branch_id,
        "data": data,
    }


def entry_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """sha256 of the previous hash followed by the canonical JSON of the content."""
    return hashlib.sha256((prev_hash + canonical(content)).encode("ascii")).hexdigest()
