"""The write throttle: an exact count per listener, shared by every worker through the cache."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import caches
from rest_framework import throttling
from rest_framework.request import Request

from dch_favourites.conf import app_settings

logger = logging.getLogger(__name__)


class WriteRateThrottle(throttling.UserRateThrottle):
    """Limits a listener's POSTs to ``WRITE_THROTTLE_RATE`` (off when None), counted in
    fixed windows with the atomic ``add`` and ``incr`` of the ``THROTTLE_CACHE`` alias.

    DRF's own reads a history list and writes it back, so concurrent workers let more than
    the rate through; with a cache they share (Redis), exactly the rate gets through. A
    failing cache lets the request through (logged): the throttle must not take the
    service down.
    """

    scope = "dch_favourites_write"
    cache_format = "dch_favourites:throttle:%(scope)s:%(ident)s"
    # Set by DRF's __init__ from the rate; None only when the rate is, and then unread.
    num_requests: int
    duration: int

    def get_rate(self) -> str | None:
        return app_settings.WRITE_THROTTLE_RATE

    def allow_request(self, request: Request, view: Any) -> bool:
        # Every request asked about counts: the view asks only about changes (get_throttles),
        # the sign-in about failed client authentications, whatever their method.
        if self.rate is None:
            return True
        self.cache = caches[app_settings.THROTTLE_CACHE]
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.key = f"{self.get_cache_key(request, view)}:{window}"
        try:
            # The key lives to its window's end, whenever in the window it is made.
            self.cache.add(self.key, 0, timeout=self.duration + 1)
            count = self.cache.incr(self.key)
        except Exception as error:  # a cache server down, or the key evicted meanwhile
            logger.warning(
                "Cache %r unavailable (%s); the write throttle lets the request through.",
                app_settings.THROTTLE_CACHE,
                type(error).__name__,
            )
            return True
        return count <= self.num_requests

    def wait(self) -> float:
        """Seconds until the window ends."""
        return self.duration - self.now % self.duration
