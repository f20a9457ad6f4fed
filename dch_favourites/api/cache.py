"""Rendered favourites documents in Django's cache, keyed by everything their bytes depend on.

A document is named by its ETag, which digests the listener, the list's version and
``updated``, the catalogue's version and ``updated``, the media type, the language, the
default language, the base URL and the document's format. A new version makes a new key,
so an entry is never stale and is never deleted: old ones simply expire. Entries are
written only from reads of committed data (a GET's one-statement read, a POST's read after
its change), after commit, so no version number ever names two bodies.

A cache that fails (Redis down) is skipped and logged: the document is read from the
database instead. Give a shared cache a short ``socket_timeout``, since a cache that
hangs costs that long on every request that asks it.
"""

from __future__ import annotations

import logging

from django.core.cache import caches
from django.db import transaction

from dch_favourites.conf import app_settings

logger = logging.getLogger("dch_favourites")

PREFIX = "dch_favourites:document:"


def document_key(user_pk: object, etag: str) -> str:
    """The cache key of the document a listener's ETag names."""
    return f"{PREFIX}{user_pk}:{etag.strip(chr(34))}"


def cached_document(key: str) -> bytes | None:
    """The rendered document under ``key``, or None (not cached, cache off or failing)."""
    alias = app_settings.DOCUMENT_CACHE
    if alias is None:
        return None
    try:
        body = caches[alias].get(key)
    except Exception as error:
        logger.warning("Cache %r unavailable (%s): reading the database.", alias, error)
        return None
    return body if isinstance(body, bytes) else None


def store_document(key: str, body: bytes, using: str) -> None:
    """Keep ``body`` under ``key`` once the transaction on ``using`` commits (now if none)."""
    alias = app_settings.DOCUMENT_CACHE
    if alias is not None:
        transaction.on_commit(lambda: _keep(alias, key, body), using=using)


def _keep(alias: str, key: str, body: bytes) -> None:
    try:
        caches[alias].set(key, body, timeout=app_settings.DOCUMENT_CACHE_TIMEOUT)
    except Exception as error:
        logger.warning("Cache %r unavailable (%s): document not kept.", alias, error)
