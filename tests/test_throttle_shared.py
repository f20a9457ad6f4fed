"""The write throttle is exact across gunicorn workers when they share Redis.

gunicorn with two sync workers serves the test database (committed data); four concurrent
clients fire 60 POSTs of one listener against a 20/min limit. With Redis as the cache
exactly 20 are applied; with the per-process cache each worker counts on its own and more
get through, which is what check W001 warns of.
"""

from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import requests
from cache_backends import KEY_PREFIX, require_redis
from django.db import connection
from endpoints import URL
from gunicorn_server import gunicorn, site_environment

from dch_favourites.models import Favourite
from factories import AccessTokenFactory, CatalogueItemFactory, UserFactory

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
]

RATE, WINDOW = 20, 60
POSTS, CLIENTS, WORKERS = 60, 4, 2
THROTTLED = re.compile(r"Request was throttled\. Expected available in (\d+) seconds?\.")


def server_environment(cache: str) -> dict[str, str]:
    """The test settings on the test database, as production runs them (DEBUG off, pool)."""
    database = urlsplit(os.environ["DATABASE_URL"])._replace(
        path="/" + connection.settings_dict["NAME"]
    )
    env = site_environment(
        DJANGO_SETTINGS_MODULE="settings",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database.geturl(),
        DCH_TEST_THROTTLE_RATE=f"{RATE}/min",
    )
    if cache == "redis":
        env["DCH_TEST_SERVER_REDIS_URL"] = require_redis()
        env["DCH_TEST_SERVER_REDIS_PREFIX"] = KEY_PREFIX
    return env


def burst(url: str, token: str, ids: list[str]) -> list[tuple[str, requests.Response]]:
    """POST ``action=add`` of each id from CLIENTS concurrent clients, all in one window."""
    left = WINDOW - time.time() % WINDOW
    if left < 30:  # the throttle counts in fixed windows: keep the burst inside one
        time.sleep(left + 0.2)
    window = int(time.time() // WINDOW)
    sessions = [requests.Session() for _ in range(CLIENTS)]

    def post(index: int) -> tuple[str, requests.Response]:
        item_id = ids[index]
        response = sessions[index % CLIENTS].post(
            url + URL,
            data={"action": "add", "id": item_id},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        return item_id, response

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(post, range(len(ids))))
    assert int(time.time() // WINDOW) == window, "the burst outlasted its throttle window"
    return answers


def assert_throttled(response: requests.Response) -> None:
    """A 429 in the API's error envelope, whose Retry-After says the same as its message."""
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "application/hal+json; charset=utf-8"
    (message,) = json.loads(response.content)["error"].values()
    match = THROTTLED.fullmatch(message)
    assert match, message
    assert response.headers["Retry-After"] == match.group(1)
    assert 1 <= int(match.group(1)) <= WINDOW


def fire(tmp_path: Path, cache: str) -> tuple[Any, list[tuple[str, requests.Response]], str]:
    listener = UserFactory(username="busy")
    token = AccessTokenFactory(user=listener).token
    ids = [CatalogueItemFactory(id=str(7000 + n)).id for n in range(POSTS)]
    with gunicorn(tmp_path, server_environment(cache), WORKERS, "--preload") as server:
        answers = burst(server.url, token, ids)
    return listener, answers, server.logs()


def test_redis_lets_exactly_the_rate_through_two_workers(tmp_path: Path) -> None:
    # The suite's own Redis (or the one DCH_TEST_REDIS_URL gave it): empty, so every
    # throttle key below is this run's.
    shared = redis.Redis.from_url(require_redis())
    shared.flushdb()

    listener, answers, logs = fire(tmp_path, "redis")

    assert shared.keys(f"{KEY_PREFIX}:*dch_favourites:throttle:*")  # the workers counted there

    statuses = [response.status_code for _id, response in answers]
    assert (statuses.count(200), statuses.count(429)) == (RATE, POSTS - RATE), logs
    for _id, response in answers:
        if response.status_code == 429:
            assert_throttled(response)
    applied = {item_id for item_id, response in answers if response.status_code == 200}
    assert set(Favourite.objects.filter(user=listener).values_list("item_id", flat=True)) == (
        applied
    )
    assert logs.count(f'"POST {URL} HTTP/1.1" 200 ') == RATE
    assert logs.count(f'"POST {URL} HTTP/1.1" 429 ') == POSTS - RATE


def test_the_per_process_cache_lets_more_through(tmp_path: Path) -> None:
    listener, answers, logs = fire(tmp_path, "locmem")

    statuses = [response.status_code for _id, response in answers]
    assert set(statuses) == {200, 429}, logs
    # Each worker counts its own 20: the problem check W001 warns of, and Redis solves.
    assert RATE < statuses.count(200) <= WORKERS * RATE
    for _id, response in answers:
        if response.status_code == 429:
            assert_throttled(response)
    assert Favourite.objects.filter(user=listener).count() == statuses.count(200)
