"""The document cache: each list's state, the catalogue's, and rendered documents.

A cache hit is one round trip (``get_many``): the listener's list state, the catalogue's
state and the rendered document of the request's variant (media type, language, base
URL, format). The document is kept with the ETag it was rendered under and served only
when that is the ETag of the cached states, so a document entry is never stale.

The states are written by the write path (:mod:`dch_favourites.services`): a list's while
its row is locked, just before commit, so writers of one list write it in the order they
commit; the catalogue's likewise, under the lock of the clock's row. A read that
finds no state reads it from the database and only ``add`` s it, never overwriting a
writer's. A change whose transaction rolls back after its state was written leaves a state
no document is kept under: the next GETs read the database until the list changes again.
State entries live :data:`STATE_TIMEOUT` seconds, which bounds how long a cache that
failed to take a change (and then came back) can show the list before it.

A cache that fails (Redis down) is skipped and logged: the request reads the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.core.cache import caches
from django.db import transaction

from dch_favourites.conf import app_settings

logger = logging.getLogger("dch_favourites")

PREFIX = "dch_favourites:"
CATALOGUE_KEY = f"{PREFIX}catalogue"
#: How long a list's or the catalogue's state is kept (seconds).
STATE_TIMEOUT = 60


def state_key(user_pk: object) -> str:
    """The cache key of a listener's list state."""
    return f"{PREFIX}state:{user_pk}"


def document_key(user_pk: object, variant: str) -> str:
    """The cache key of a listener's document in one variant."""
    return f"{PREFIX}document:{user_pk}:{variant}"


def _use(action: str, call: Callable[[Any], Any]) -> Any:
    """``call(cache)`` on the document cache; None when it is off or failing (logged)."""
    alias = app_settings.DOCUMENT_CACHE
    if alias is None:
        return None
    try:
        return call(caches[alias])
    except Exception as error:
        logger.warning("Cache %r unavailable (%s): %s.", alias, error, action)
        return None


def cached(*keys: str) -> dict[str, Any]:
    """The entries of ``keys`` that the cache holds."""
    return _use("reading the database", lambda cache: cache.get_many(keys)) or {}


def cached_document(found: dict[str, Any], key: str, etag: str) -> bytes | None:
    """The body under ``key`` in ``found`` if it was rendered under ``etag``."""
    entry = found.get(key)
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == etag:
        return entry[1] if isinstance(entry[1], bytes) else None
    return None


def store_document(key: str, etag: str, body: bytes, using: str) -> None:
    """Keep ``body`` under ``key`` once the transaction on ``using`` commits (now if none)."""
    timeout = app_settings.DOCUMENT_CACHE_TIMEOUT
    transaction.on_commit(
        lambda: _use("document not kept", lambda c: c.set(key, (etag, body), timeout)),
        using=using,
    )


def add_states(states: Mapping[str, tuple[int, ...]]) -> None:
    """Keep states read from the database unless a writer has kept newer ones."""
    _use("state not kept", lambda c: [c.add(k, v, STATE_TIMEOUT) for k, v in states.items()])


def set_states(states: Mapping[str, tuple[int, ...]]) -> None:
    """Keep states a writer made (or forget those the cache refuses: they would be old)."""
    failed = _use("state not kept", lambda c: c.set_many(states, STATE_TIMEOUT))
    if failed is None or failed:  # the cache failed, or set_many names the keys it did not set
        _use("state not forgotten", lambda c: c.delete_many(list(failed or states)))
