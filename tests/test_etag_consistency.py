"""One ETag, one body: under interleaved GETs and POSTs no two different bodies share an
ETag or a top-level ``updated``, and a conditional GET never keeps a client on a wrong list.

GETs read the state and the rows in one statement (one snapshot) and POSTs answer with the
list read in their own transaction, so whatever interleaving the server threads produce,
each version of the document has exactly one rendering.
"""

from __future__ import annotations

import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from endpoints import URL
from threaded_server import server_database, serving, thread_connection

from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, CatalogueItemFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

ITEMS = [str(401 + n) for n in range(6)]
REQUESTS = 240


def test_each_etag_and_each_updated_names_one_body(tmp_path: Path) -> None:
    with server_database(tmp_path) as factory:
        for item_id in ITEMS:
            CatalogueItemFactory(id=item_id)
        token = AccessTokenFactory()
        add_favourites(token.user, ITEMS[:3])
        auth = {"Authorization": f"Bearer {token.token}"}
        rng = random.Random(20261201)
        plan = [
            ("GET", None)
            if rng.random() < 0.5
            else ("POST", (rng.choice(["add", "delete"]), rng.choice(ITEMS)))
            for _ in range(REQUESTS)
        ]
        with serving(factory) as base:

            def call(step: tuple[str, Any]) -> tuple[int, str, bytes]:
                method, change = step
                with thread_connection(None), requests.Session() as session:
                    if method == "GET":
                        response = session.get(base + URL, headers=auth, timeout=30)
                    else:
                        action, item_id = change
                        response = session.post(
                            base + URL,
                            data={"action": action, "id": item_id},
                            headers=auth,
                            timeout=30,
                        )
                    return response.status_code, response.headers.get("ETag", ""), response.content

            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(pool.map(call, plan))

    assert {status for status, _etag, _body in answers} == {200}
    bodies_by_etag: dict[str, set[bytes]] = defaultdict(set)
    bodies_by_updated: dict[bytes, set[bytes]] = defaultdict(set)
    for _status, etag, body in answers:
        bodies_by_etag[etag].add(body)
        bodies_by_updated[body.split(b",", 1)[0]].add(body)
    shared = {etag: bodies for etag, bodies in bodies_by_etag.items() if len(bodies) > 1}
    assert shared == {}
    assert {key: b for key, b in bodies_by_updated.items() if len(b) > 1} == {}
    assert len(bodies_by_etag) > 10  # the list really changed while it was read
