"""In-process mode: the app, the floor and plain DRF, interleaved round by round."""

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.data import Listener
from bench.harness import LIMIT, VARIANTS, Answer, Client, Timings, interleaved, rotation

UPDATED_PREFIX = re.compile(rb'\A\{"updated":\d+,')
WARMUP = 20
#: Not a variant: a miss's lookup and store in a shared document cache, timed alone.
CACHE_WORK = "cache work"


def expect(answer: Answer, status: int) -> Answer:
    if answer.status != status:
        raise AssertionError(f"expected {status}, got {answer.status}: {answer.body[:300]!r}")
    return answer


@dataclass
class SizeResult:
    size: int
    body_bytes: int
    timings: dict[str, Timings]
    queries: dict[str, list[int]]
    #: Queries of the limit's GET once its document is cached.
    limit_queries: int


def check_bodies(client: Client, listener: Listener) -> int:
    """Assert the three variants answer the same bytes (GET, and POST up to ``updated``)."""
    token = listener.token
    bodies = {expect(client.request("GET", path, token), 200).body for path in VARIANTS.values()}
    assert len(bodies) == 1, f"GET bodies differ at {listener.size} favourites"
    posted = set()
    for path in VARIANTS.values():
        added = expect(client.request("POST", path, token, add_body(listener)), 200).body
        removed = expect(client.request("POST", path, token, delete_body(listener)), 200).body
        # `updated` moves on with every change; the rest must be the same bytes.
        posted.add((UPDATED_PREFIX.sub(b"", added), UPDATED_PREFIX.sub(b"", removed)))
    assert len(posted) == 1, f"POST bodies differ at {listener.size} favourites"
    return len(bodies.pop())


def document_cache() -> Any:
    """The cache the app keeps documents in (``DOCUMENT_CACHE``), or None when it is off."""
    from django.core.cache import caches

    from dch_favourites.conf import app_settings

    alias = app_settings.DOCUMENT_CACHE
    return None if alias is None else caches[alias]


def empty_document_cache() -> None:
    """Empty the cache the app looks documents up in, keeping the lists' and catalogue's states.

    A miss is a GET whose document is not cached; the states are kept by every change, so
    a GET after one finds them (a cold cache, without them, costs one more query).
    """
    from dch_favourites.api.cache import CATALOGUE_KEY, STATE_TIMEOUT

    cache = document_cache()
    if cache is not None:
        keep = cache.get_many([CATALOGUE_KEY, *(STATE_KEYS)])
        cache.clear()
        cache.set_many(keep, STATE_TIMEOUT)


#: The state keys of the listeners benchmarked (filled by :func:`measure`).
STATE_KEYS: set[str] = set()


def shared_document_cache() -> bool:
    """Whether the app keeps documents in a cache shared by workers (not this process's)."""
    from django.core.cache.backends.locmem import LocMemCache

    cache = document_cache()
    return cache is not None and not isinstance(cache, LocMemCache)


def cache_work(client: Client, listener: Listener) -> Callable[[], object]:
    """What a miss does in the document cache, alone: a lookup that misses, then the store.

    The app's own functions, on a key no round has used, with the listener's document: the
    part of a miss's time that no render or query of the app could save.
    """
    from dch_favourites.api.cache import (
        CATALOGUE_KEY,
        cached,
        cached_document,
        state_key,
        store_document,
    )

    answer = expect(client.request("GET", VARIANTS["app"], listener.token), 200)
    body, etag = answer.body, answer.headers["ETag"]
    keys = (f"dch_favourites:bench:{listener.user_id}:{n}" for n in itertools.count())

    def lookup_and_store() -> None:
        key = next(keys)
        found = cached(state_key(listener.user_id), CATALOGUE_KEY, key)
        assert cached_document(found, key, etag) is None
        store_document(key, etag, body, "default")

    return lookup_and_store


def add_body(listener: Listener) -> dict[str, str]:
    return {"action": "add", "id": listener.spare_item}


def delete_body(listener: Listener) -> dict[str, str]:
    return {"action": "delete", "id": listener.spare_item}


def current_etag(client: Client, path: str, token: str) -> str:
    return expect(client.request("GET", path, token), 200).headers["ETag"]


def count_queries(client: Client, listener: Listener) -> dict[str, list[int]]:
    """Queries per request of each variant: GET (miss), GET (hit), 304, POST add, delete."""
    token = listener.token
    counts: dict[str, list[int]] = {}
    for name, path in VARIANTS.items():
        requests = [
            ("GET", None, {}),
            ("GET", None, {}),
            ("GET", None, {"If_None_Match": current_etag(client, path, token)}),
            ("POST", add_body(listener), {}),
            ("POST", delete_body(listener), {}),
        ]
        counts[name] = []
        empty_document_cache()
        for method, body, headers in requests:
            with CaptureQueriesContext(connection) as captured:
                client.request(method, path, token, body, **headers)
            counts[name].append(len(captured))
    return counts


def measure(client: Client, listener: Listener, rounds: int) -> SizeResult:
    """GET, 304, POST add and POST delete of one listener, for each variant."""
    from dch_favourites.api.cache import state_key

    STATE_KEYS.add(state_key(listener.user_id))
    token = listener.token
    body_bytes = check_bodies(client, listener)
    queries = count_queries(client, listener)

    def get(path: str) -> Answer:
        return expect(client.request("GET", path, token), 200)

    gets = {name: (lambda p=path: get(p)) for name, path in VARIANTS.items()}
    # The limit stores the list as it is now (after the POSTs above), on its first GET.
    app_body = expect(client.request("GET", VARIANTS["app"], token), 200).body
    assert get(LIMIT).body == app_body, f"the limit's body differs at {listener.size} favourites"
    with CaptureQueriesContext(connection) as captured:
        get(LIMIT)
    # Counted now: the next request's request_started signal empties the query log.
    limit_queries = len(captured)
    # Cache hit: the app's document stays in the cache between rounds; the limit's too.
    hit_timings = interleaved(rounds, {**gets, "limit": lambda: get(LIMIT)}, WARMUP)
    # Cache miss: the app's cache is emptied (untimed) before each of its GETs. With a
    # shared cache, a miss's cache work alone is timed in the same rounds.
    misses: dict[str, Callable[[], object]] = dict(gets)
    if shared_document_cache():
        misses[CACHE_WORK] = cache_work(client, listener)
    miss_timings = interleaved(rounds, misses, WARMUP, before={"app": empty_document_cache})

    etags = {name: current_etag(client, path, token) for name, path in VARIANTS.items()}

    def not_modified(path: str, etag: str) -> object:
        return expect(client.request("GET", path, token, If_None_Match=etag), 304)

    not_modified_timings = interleaved(
        rounds,
        {
            name: (lambda p=path, e=etags[name]: not_modified(p, e))
            for name, path in VARIANTS.items()
        },
        WARMUP,
    )

    # Add then delete the same item, so the list is back to its length after each pair.
    add, delete = Timings(), Timings()
    for round_number in range(rounds + WARMUP):
        for name in rotation(list(VARIANTS), round_number):
            path = VARIANTS[name]
            started = time.perf_counter_ns()
            expect(client.request("POST", path, token, add_body(listener)), 200)
            middle = time.perf_counter_ns()
            expect(client.request("POST", path, token, delete_body(listener)), 200)
            ended = time.perf_counter_ns()
            if round_number >= WARMUP:
                add.add(name, (middle - started) / 1000)
                delete.add(name, (ended - middle) / 1000)
    return SizeResult(
        listener.size,
        body_bytes,
        {
            "GET, cache hit": hit_timings,
            "GET, cache miss": miss_timings,
            "304": not_modified_timings,
            "POST add": add,
            "POST delete": delete,
        },
        queries,
        limit_queries,
    )
