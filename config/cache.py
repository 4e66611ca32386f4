"""Django's Redis cache, made to degrade instead of failing requests while Redis is down.

Nothing we cache is the only copy: sessions are in the database (cached_db),
dashboard figures are recomputed, throttles and the push gate can open for a
while. So when Redis cannot be reached, the cache acts as Django's DummyCache
(every read a miss, every write forgotten, `add` succeeds, `incr` finds no
key) and logs a warning at most every WARN_EVERY seconds. Without this, Django's
cached_db sessions re-cache each session they read from the database and the
failed write turns every logged-in request into a 500: no payment could be
taken while Redis was down (found by tests/drills/test_redis_down.py).

Only unreachability is absorbed (connection refused, reset, timed out); any
other Redis error is a bug and still raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
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


def _no_key() -> Any:
    raise ValueError("Key not found (the cache is unavailable)")


class ResilientRedisCache(RedisCache):
    """RedisCache that answers like an empty cache while Redis is unreachable."""

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except _UNREACHABLE as error:
            return _degraded("add", error, lambda: True)

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except _UNREACHABLE as error:
            return _degraded("get", error, lambda: default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set(key, value, timeout, version)
        except _UNREACHABLE as error:
            return _degraded("set", error, lambda: None)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except _UNREACHABLE as error:
            return _degraded("touch", error, lambda: False)

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except _UNREACHABLE as error:
            return _degraded("delete", error, lambda: False)

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except _UNREACHABLE as error:
            return _degraded("get_many", error, dict)

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except _UNREACHABLE as error:
            return _degraded("has_key", error, lambda: False)

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except _UNREACHABLE as error:
            return _degraded("incr", error, _no_key)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except _UNREACHABLE as error:
            return _degraded("set_many", error, list)

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except _UNREACHABLE as error:
            return _degraded("delete_many", error, lambda: None)

    def clear(self):
        try:
            return super().clear()
        except _UNREACHABLE as error:
            return _degraded("clear", error, lambda: False)
