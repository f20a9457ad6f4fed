"""The write throttle: an exact count per listener, shared by every worker through the cache.

DRF's ``SimpleRateThrottle`` keeps a history list that it reads, changes and writes back,
so concurrent requests on several workers let a few extra through. This throttle counts
with the cache's atomic ``add`` and ``incr`` in fixed windows of the rate's duration, so
with a cache shared by all workers (Redis) exactly the configured number of POSTs per
window get through. A per-process cache counts per process: a system check warns of it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.cache import caches
from rest_framework import permissions, throttling
from rest_framework.request import Request

from dch_favourites.conf import app_settings

logger = logging.getLogger("dch_favourites")


class WriteRateThrottle(throttling.SimpleRateThrottle):
    """Limits a listener's POSTs to ``WRITE_THROTTLE_RATE`` (off when None).

    Counted in ``THROTTLE_CACHE``. When that cache is unreachable the request is let
    through (and logged): the throttle protects the service, it must not take it down.
    """

    scope = "dch_favourites_write"

    def get_rate(self) -> str | None:
        return app_settings.WRITE_THROTTLE_RATE

    #: The window's length in seconds and when the request came, set by allow_request().
    window: int = 60
    now: float = 0.0

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        ident = str(user.pk) if user and user.is_authenticated else self.get_ident(request)
        window = int(self.now // self.window)
        return f"dch_favourites:throttle:{self.scope}:{ident}:{window}"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        rate = self.get_rate()
        if rate is None:
            return True
        limit, duration = self.parse_rate(rate)
        if limit is None or duration is None:
            return True
        self.window = duration
        self.now = self.timer()
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        alias = app_settings.THROTTLE_CACHE
        cache = caches[alias]
        timeout = duration + 1
        try:
            cache.add(key, 0, timeout=timeout)
            try:
                count = cache.incr(key)
            except ValueError:  # the window's key expired between add and incr
                cache.add(key, 1, timeout=timeout)
                count = 1
        except Exception as error:
            logger.warning(
                "Cache %r unavailable (%s): the write throttle lets requests through.", alias, error
            )
            return True
        return count <= limit

    def wait(self) -> float | None:
        return max(1.0, math.ceil(self.window - self.now % self.window))
