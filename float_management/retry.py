"""Retry a whole transaction when the database says it could not serialise it."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

# 40P01 deadlock_detected, 40001 serialization_failure
_RETRYABLE_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 4


def _is_retryable(error: OperationalError) -> bool:
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(error)


def retry_on_conflict(func: Callable[P, T]) -> Callable[P, T]:
    """Re-run `func` (one whole transaction) a bounded number of times on deadlock.

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
            except OperationalError as error:
                if attempt == ATTEMPTS or not _is_retryable(error):
                    raise
                logger.warning("retrying %s after %s (attempt %d)", func.__name__, error, attempt)
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    return wrapper
