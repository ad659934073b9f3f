"""Django-Q tasks of the operation log. Both are idempotent."""

from __future__ import annotations

from kairan.oplog.services import purge_access_log, purge_operation_log, verify_and_remember


def purge_expired_logs() -> dict[str, int]:
    """Delete log entries older than their retention period (nightly)."""
    return {"operation_log": purge_operation_log(), "access_log": purge_access_log()}


def verify_operation_log() -> bool:
    """Check the hash chain and keep the result for the report screen (nightly)."""
    return verify_and_remember().ok
