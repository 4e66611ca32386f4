"""Retry a whole transaction when the database says it could not serialise it."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import IntegrityError, OperationalError, connection

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

# 40P01 deadlock_detected, 40001 serialization_failure
_RETRYABLE_SQLSTATES = {"40P01", "40001"}
_UNIQUE_VIOLATION = "23505"
ATTEMPTS = 4


# Unique constraints whose violation means "another transaction took the head first; run
# again on the new head" (PostgreSQL constraint name -> what SQLite's message says instead).
# An app registers its own in AppConfig.ready(): core knows no app.
_RETRYABLE_CONSTRAINTS: dict[str, str] = {}


def retry_on_unique(constraint: str, *, sqlite_message: str) -> None:
    """Treat a violation of `constraint` as a lost race worth running the transaction again."""
    _RETRYABLE_CONSTRAINTS[constraint] = sqlite_message


def _lost_a_race_for_a_head(error: IntegrityError) -> bool:
    """Another transaction appended to the same chain first: run again on the new head."""
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) == _UNIQUE_VIOLATION:
        diag = getattr(cause, "diag", None)
        return getattr(diag, "constraint_name", None) in _RETRYABLE_CONSTRAINTS
    return any(message in str(error) for message in _RETRYABLE_CONSTRAINTS.values())


def _is_retryable(error: OperationalError | IntegrityError) -> bool:
    if isinstance(error, IntegrityError):
        return _lost_a_race_for_a_head(error)
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(error)


def retry_on_conflict(func: Callable[P, T]) -> Callable[P, T]:
    """Re-run `func` (one whole transaction) a bounded number of times on deadlock,
    serialization failure, or a lost race for the head of a registered chain (the
    audit streams register theirs).

    Only the outermost call retries: inside someone else's transaction the
    error propagates so that transaction rolls back whole.
    """

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except (OperationalError, IntegrityError) as error:
                if attempt == ATTEMPTS or not _is_retryable(error):
                    raise
                logger.warning("retrying %s after %s (attempt %d)", func.__name__, error, attempt)
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    return wrapper
