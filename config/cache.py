"""Django's Redis cache, made to degrade instead of failing requests while Redis is down.

Nothing we cache is the only copy: sessions are not cached at all (they live
in the database only, so no outage can revive a deleted one), dashboard
figures are recomputed, throttles and the push gate can open for a while. So
when Redis cannot be reached, the cache acts as Django's DummyCache (every
read a miss, every write forgotten, `add` succeeds, `incr` finds no key) and
logs a warning at most every WARN_EVERY seconds. Without this (when sessions
were cached_db), Django re-cached each session it read from the database and
the failed write turned every logged-in request into a 500: no payment could
be taken while Redis was down (found by tests/drills/test_redis_down.py).

Only unreachability is absorbed (connection refused, reset, timed out); any
other Redis error is a bug and still raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

WARN_EVERY = 10.0  # seconds between two warnings while Redis stays down
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
_last_warning = float("-inf")


def _degraded(operation: str, error: Exception, fallback: Callable[[], Any]) -> Any:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY:
        _last_warning = now
        logger.warning("cache unavailable, %s treated as a miss: %s", operation, error)
    return fallback()


def _no_key(*_args: Any, **_kwargs: Any) -> Any:
    raise ValueError("Key not found (the cache is unavailable)")


# What each operation answers while Redis is unreachable: an empty cache's answer.
_EMPTY_ANSWERS: dict[str, Callable[..., Any]] = {
    "add": lambda *args, **kwargs: True,
    "get": lambda key, default=None, version=None: default,
    "set": lambda *args, **kwargs: None,
    "touch": lambda *args, **kwargs: False,
    "delete": lambda *args, **kwargs: False,
    "get_many": lambda *args, **kwargs: {},
    "has_key": lambda *args, **kwargs: False,
    "incr": _no_key,
    "set_many": lambda *args, **kwargs: [],
    "delete_many": lambda *args, **kwargs: None,
    "clear": lambda *args, **kwargs: False,
}


def _absorbing(name: str, empty_answer: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(super(ResilientRedisCache, self), name)(*args, **kwargs)
        except _UNREACHABLE as error:
            return _degraded(name, error, lambda: empty_answer(*args, **kwargs))

    method.__name__ = name
    return method


class ResilientRedisCache(RedisCache):
    """RedisCache that answers like an empty cache while Redis is unreachable."""


for _name, _answer in _EMPTY_ANSWERS.items():
    setattr(ResilientRedisCache, _name, _absorbing(_name, _answer))
