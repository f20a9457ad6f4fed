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
#: The production profile: Redis shared by the workers, and each worker's own memory in
#: front of it for documents (DOCUMENT_NEAR_CACHE).
NEAR_CACHE = "redis+near"


def require_redis() -> None:
    """Skip unless the test Redis answers; under CI (CI=true) fail instead."""
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        reason = f"needs Redis at {TEST_REDIS_URL} (DCH_TEST_REDIS_URL): {error}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
