"""Rendered favourites documents in Django's cache, keyed by everything their bytes depend on.

A document is named by its ETag, which digests the listener, the list's version and
``updated``, the catalogue's version and ``updated``, the media type, the language, the
default language and the base URL. A new version makes a new key, so an entry is never
stale and is never deleted: old ones simply expire. Entries are written only from reads
of committed data (a GET's one-statement read, a POST's read after its change), after
commit, so no version number ever names two bodies.

A cache that is down is skipped: the document is read from the database instead. After a
failure the process leaves that cache alone for ``CACHE_RETRY_AFTER`` seconds
(:func:`cache_available`), so a Redis that hangs costs one timeout per worker and period,
not one per request; the outage is logged once, and so is the recovery.

``DOCUMENT_CACHE_COMPRESSION`` compresses the shared cache's copy (lz4 makes a list of
1,000, 370 kB, about 33 kB in some 80 microseconds): less to pickle, send and keep in
Redis. The near copy stays as it is, ready to send. The codec is part of the key, so
workers on different settings never read each other's values.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from functools import cache, partial
from importlib import import_module
from typing import Any, NamedTuple

from django.core.cache import caches
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver

from dch_favourites.conf import SETTINGS_NAME, app_settings

logger = logging.getLogger("dch_favourites")

PREFIX = "dch_favourites:document:"

#: Cache alias -> the monotonic time until which this process leaves it alone.
_failed_until: dict[str, float] = {}

#: ``DOCUMENT_CACHE_COMPRESSION`` values whose codec this process could not load.
_unloadable: set[str] = set()


def cache_available(alias: str) -> bool:
    """Whether to use the cache ``alias`` now: not within its retry delay after a failure."""
    until = _failed_until.get(alias)
    return until is None or time.monotonic() >= until


def cache_failed(alias: str, consequence: str) -> None:
    """Note that an operation on ``alias`` failed; leave it alone for ``CACHE_RETRY_AFTER``."""
    if alias not in _failed_until:
        logger.warning("Cache %r unavailable; %s.", alias, consequence)
    _failed_until[alias] = time.monotonic() + app_settings.CACHE_RETRY_AFTER


def cache_succeeded(alias: str) -> None:
    """Note that ``alias`` answered again after a failure."""
    if _failed_until.pop(alias, None) is not None:
        logger.info("Cache %r available again.", alias)


@receiver(setting_changed)
def _forget_failures(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CACHES", SETTINGS_NAME):
        _failed_until.clear()
        _unloadable.clear()


class Codec(NamedTuple):
    """How documents are compressed in the shared cache."""

    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes], bytes]


def _lz4() -> Codec:
    block = import_module("lz4.block")
    return Codec(block.compress, block.decompress)


def _zlib() -> Codec:
    return Codec(partial(zlib.compress, level=1), zlib.decompress)


#: The values of ``DOCUMENT_CACHE_COMPRESSION``, and how to make their codec.
CODECS: dict[str, Callable[[], Codec]] = {"lz4": _lz4, "zlib": _zlib}


@cache
def codec(name: str) -> Codec:
    """The codec called ``name`` (lz4's module is imported on first use)."""
    return CODECS[name]()


def _codec_of(alias: str) -> Codec | None:
    """How documents are compressed in ``alias``: the shared cache's codec; the near copy none.

    Only for the aliases :func:`document_caches` gives, whose codec has loaded.
    """
    compression = app_settings.DOCUMENT_CACHE_COMPRESSION
    if compression is None or alias != app_settings.DOCUMENT_CACHE:
        return None
    return codec(compression)


def _codec_loads() -> bool:
    """Whether the shared cache's codec (if any) can be loaded; logged once if not.

    Not a cache failure: the cache stays in use for everything else (the throttle), and
    the documents keep to the near copy. The system check ``E021`` reports it too, where
    checks run.
    """
    compression = app_settings.DOCUMENT_CACHE_COMPRESSION
    if compression is None:
        return True
    if compression in _unloadable:
        return False
    try:
        codec(compression)
    except ImportError as error:
        _unloadable.add(compression)
        logger.error(
            "Compression %r unavailable (%s): documents are not kept in cache %r.",
            compression,
            error,
            app_settings.DOCUMENT_CACHE,
        )
        return False
    return True


def document_key(user_pk: object, etag: str) -> str:
    """The cache key of the document a listener's ETag names (and of its compression)."""
    compression = app_settings.DOCUMENT_CACHE_COMPRESSION
    scheme = f"{compression}:" if compression else ""
    return f"{PREFIX}{scheme}{user_pk}:{etag.strip(chr(34))}"


def document_caches() -> tuple[str, ...]:
    """The aliases a document is looked up in, nearest first (none when the cache is off).

    ``DOCUMENT_NEAR_CACHE`` (a worker's own memory) before ``DOCUMENT_CACHE`` (shared by
    the workers, Redis). A key names one body for good, so a near copy needs no
    invalidation: it is exactly what the shared cache holds, or held, under that key.
    The shared cache is left out while its compression codec cannot be loaded.
    """
    shared = app_settings.DOCUMENT_CACHE
    if shared is None:
        return ()
    near = app_settings.DOCUMENT_NEAR_CACHE
    if near == shared:
        near = None
    if not _codec_loads():
        return (near,) if near else ()
    return (near, shared) if near else (shared,)


def cached_document(key: str) -> bytes | None:
    """The rendered document under ``key``, or None (not cached, cache off or down).

    A document found only in the shared cache is kept in the near one too.
    """
    aliases = document_caches()
    for position, alias in enumerate(aliases):
        if not cache_available(alias):
            continue
        coder = _codec_of(alias)
        try:
            body = caches[alias].get(key)
        except Exception:
            cache_failed(alias, "documents are read from the database")
            continue
        cache_succeeded(alias)
        if not isinstance(body, bytes):
            continue
        if coder is not None:
            try:
                body = coder.decompress(body)
            except Exception:
                # Not a document this release wrote: read it again, and overwrite it.
                logger.warning("Cache %r holds an unreadable document under %r.", alias, key)
                return None
        if position:
            _keep(aliases[:position], key, body)
        return body
    return None


def store_document(key: str, body: bytes, using: str) -> None:
    """Keep ``body`` under ``key`` once the transaction on ``using`` commits (now if none)."""
    aliases = document_caches()
    if aliases:
        transaction.on_commit(lambda: _keep(aliases, key, body), using=using)


def _keep(aliases: tuple[str, ...], key: str, body: bytes) -> None:
    timeout = app_settings.DOCUMENT_CACHE_TIMEOUT
    for alias in aliases:
        if not cache_available(alias):
            continue
        coder = _codec_of(alias)
        try:
            value = body if coder is None else coder.compress(body)
            caches[alias].set(key, value, timeout=timeout)
        except Exception:
            cache_failed(alias, "documents are read from the database")
            continue
        cache_succeeded(alias)
