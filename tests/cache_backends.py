"""The cache backends the cache and throttle tests run on: per-process memory and Redis."""

from __future__ import annotations

import os

import pytest
import redis

#: The Redis that the cache and throttle tests also run on (CI starts it: .ci/run). The
#: tests flush this database: give each parallel run its own number.
TEST_REDIS_URL = os.environ.get("DCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")

CACHE_BACKENDS = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": TEST_REDIS_URL},
}


def require_redis() -> None:
    """Skip unless the test Redis answers; under CI (CI=true) fail instead."""
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        reason = f"needs Redis at {TEST_REDIS_URL} (DCH_TEST_REDIS_URL): {error}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


class FailingCache:
    """A cache backend whose every operation fails, as a Redis that is down; it counts them.

    ``CACHES = {"broken": {"BACKEND": "cache_backends.FailingCache"}}``; set ``failing`` to
    False to bring it back (it then answers as an empty cache).
    """

    calls = 0
    failing = True

    def __init__(self, location: str, params: dict[str, object]) -> None:
        self.stored: dict[str, object] = {}

    def _operation(self) -> None:
        type(self).calls += 1
        if type(self).failing:
            raise ConnectionError("cache down")

    def get(self, key: str, default: object = None, version: object = None) -> object:
        self._operation()
        return self.stored.get(key, default)

    def set(self, key: str, value: object, timeout: object = None, version: object = None) -> None:
        self._operation()
        self.stored[key] = value

    def add(self, key: str, value: object, timeout: object = None, version: object = None) -> bool:
        self._operation()
        return self.stored.setdefault(key, value) is value

    def incr(self, key: str, delta: int = 1, version: object = None) -> int:
        self._operation()
        value = int(self.stored[key]) + delta  # type: ignore[call-overload]
        self.stored[key] = value
        return value

    def close(self, **kwargs: object) -> None:
        return None
