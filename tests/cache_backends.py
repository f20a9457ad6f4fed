"""The cache backends the cache and throttle tests run on: per-process memory and Redis."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

import pytest
import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

#: Every key the suite writes to Redis through its caches starts with this; the suite
#: removes them when it ends.
KEY_PREFIX = "dch-favourites-tests"

#: The cache backends of the cache and throttle tests; "redis" is the test Redis below.
CACHE_BACKENDS = ("locmem", "redis")


def cache_settings(backend: str) -> dict[str, Any]:
    """The ``CACHES`` entry of one of ``CACHE_BACKENDS``."""
    if backend == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url(),
        "KEY_PREFIX": KEY_PREFIX,
    }


@functools.cache
def redis_url() -> str:
    """The Redis the tests run on, and may empty: never one that someone else uses.

    ``DCH_TEST_REDIS_URL`` names a database for the suite (it empties that database: give
    it one nobody else uses). Without it the suite starts a ``redis-server`` of its own on
    a free loopback port, without persistence, and stops it when the run ends; with no
    ``redis-server`` on PATH it answers "" and the Redis tests skip (fail under CI).
    """
    named = os.environ.get("DCH_TEST_REDIS_URL")
    if named:
        atexit.register(remove_test_keys, named)
        return named
    binary = shutil.which("redis-server")
    if binary is None:
        return ""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    folder = tempfile.mkdtemp(prefix="dch-favourites-test-redis-")
    server = subprocess.Popen(  # noqa: S603 (Debian's redis-server, our own arguments)
        [
            *(binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""),
            *("--appendonly", "no", "--dir", folder, "--logfile", f"{folder}/redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(stop_server, server, folder)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return url
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                return ""
            time.sleep(0.05)
        finally:
            client.close()


def stop_server(server: subprocess.Popen[bytes], folder: str) -> None:
    server.terminate()
    server.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


def remove_test_keys(url: str) -> None:
    """Delete the keys the suite's caches wrote to a Redis it was given."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        keys = list(client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()


def require_redis() -> str:
    """The test Redis's URL; skip unless it answers, under CI (CI=true) fail instead."""
    url = redis_url()
    try:
        if not url:
            raise redis.ConnectionError("no redis-server on PATH to start one")
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        reason = f"needs Redis: DCH_TEST_REDIS_URL, or redis-server on PATH: {error}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


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

    def get_many(self, keys: list[str], version: object = None) -> dict[str, object]:
        self._operation()
        return {key: self.stored[key] for key in keys if key in self.stored}

    def set_many(self, data: dict[str, object], timeout: object = None) -> list[str]:
        self._operation()
        self.stored.update(data)
        return []

    def delete_many(self, keys: list[str], version: object = None) -> None:
        self._operation()
        for key in keys:
            self.stored.pop(key, None)

    def incr(self, key: str, delta: int = 1, version: object = None) -> int:
        self._operation()
        value = int(self.stored[key]) + delta  # type: ignore[call-overload]
        self.stored[key] = value
        return value

    def close(self, **kwargs: object) -> None:
        return None


class RefusingCache(LocMemCache):
    """Per-process memory whose ``set_many`` keeps nothing and names every key it refused,
    as memcached does for values it cannot take."""

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return list(data)
