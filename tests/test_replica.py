"""Behind the package's replica router, the write path reads only the primary.

The replica here is a second alias on a connection of its own to the same database (not
Django's test mirror, which shares the primary's connection and would hide the bug): it
sees committed data only, as a real replica does at best. A POST must answer with the list
it just changed, and neither a POST nor an import may read the replica at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from endpoints import URL
from gunicorn_server import free_port
from threaded_server import connection_factory, server_database

from dch_favourites.catalogue_import import import_catalogue
from dch_favourites.models import CatalogueItem
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, CatalogueItemFactory, ConcertFactory, WorkFactory

pytestmark = pytest.mark.django_db(transaction=True)

REPLICA = "replica"


@pytest.fixture
def replica(tmp_path: Path, settings: Any) -> Iterator[Any]:
    """The router installed and the replica alias on its own connection; yields it."""
    with server_database(tmp_path) as factory:
        make = factory or connection_factory()
        own = make()
        settings_dict = {**own.settings_dict}
        wrapper = type(own)(settings_dict, REPLICA)
        connections[REPLICA] = wrapper
        settings.DATABASE_ROUTERS = ["dch_favourites.routers.ReplicaRouter"]
        try:
            yield wrapper
        finally:
            settings.DATABASE_ROUTERS = []
            wrapper.close()
            own.close()
            del connections[REPLICA]


def test_a_post_answers_with_the_list_it_changed_and_never_reads_the_replica(
    replica: Any,
) -> None:
    for item_id in ("301", "302", "303"):
        CatalogueItemFactory(id=item_id)
    token = AccessTokenFactory()
    add_favourites(token.user, ["301", "302"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token.token}"}
    client = Client()

    with CaptureQueriesContext(replica) as on_replica:
        posted = client.post(URL, "action=add&id=303", "application/x-www-form-urlencoded", **auth)

    assert posted.status_code == 200
    assert [e["id"] for e in json.loads(posted.content)["_links"]["favourites"]] == [
        "303",
        "302",
        "301",
    ]
    # The token (django-oauth-toolkit's), the change and the answer: all on the primary.
    assert len(on_replica) == 0
    # A GET reads the rows (not cached in German yet) on the replica, which has them.
    with CaptureQueriesContext(replica) as on_replica:
        german = client.get(URL, HTTP_ACCEPT_LANGUAGE="de", **auth)
    assert german.status_code == 200
    assert [e["id"] for e in json.loads(german.content)["_links"]["favourites"]] == [
        "303",
        "302",
        "301",
    ]
    assert any('"dch_favourites_favourite"' in query["sql"] for query in on_replica)
    again = client.get(URL, **auth)
    assert again["ETag"] == posted["ETag"]
    assert again.content == posted.content
    assert client.get(URL, HTTP_IF_NONE_MATCH=posted["ETag"], **auth).status_code == 304


def test_an_import_reads_and_writes_the_primary_only(replica: Any) -> None:
    ConcertFactory(id="700")
    WorkFactory(id="700-1", title="Old")
    record = {
        "id": "700-1",
        "type": "work",
        "title": "New",
        "date": {"published": 1472720400, "begin": 1472229000},
        "translations": {"de": {"title": "Neu"}},
    }

    with CaptureQueriesContext(replica) as on_replica:
        result = import_catalogue([record])

    assert (result.created, result.updated) == (0, 1)
    assert len(on_replica) == 0
    assert CatalogueItem.objects.using(DEFAULT_DB_ALIAS).get(pk="700-1").title == "New"


def test_admin_and_python_writes_read_the_primary_only(replica: Any) -> None:
    for item_id in ("301", "302"):
        CatalogueItemFactory(id=item_id)
    token = AccessTokenFactory()

    with CaptureQueriesContext(replica) as on_replica:
        add_favourites(token.user, ["301"])
        token.user.favourite_items.add("302")
        item = CatalogueItem.objects.using(DEFAULT_DB_ALIAS).get(pk="301")
        item.title = "Renamed"
        item.save()
        CatalogueItem.objects.using(DEFAULT_DB_ALIAS).get(pk="302").delete()

    assert len(on_replica) == 0


def test_a_replica_that_is_down_gets_no_reads_and_costs_no_error(
    replica: Any, caplog: pytest.LogCaptureFixture
) -> None:
    if replica.vendor == "postgresql":
        replica.settings_dict["PORT"] = str(free_port())
    else:
        replica.settings_dict["NAME"] = str(
            Path(replica.settings_dict["NAME"]).parent / "no" / "db"
        )
    CatalogueItemFactory(id="301", title="Film")
    token = AccessTokenFactory()
    add_favourites(token.user, ["301"])
    client = Client()

    listed = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token.token}", HTTP_ACCEPT_LANGUAGE="de")
    item = client.get("/v2/film/301")

    assert [e["id"] for e in json.loads(listed.content)["_links"]["favourites"]] == ["301"]
    assert (item.status_code, json.loads(item.content)["title"]) == (200, "Film")
    assert "Replica 'replica' unavailable" in caplog.text


def test_the_router_without_a_replica_alias_reads_the_primary(settings: Any) -> None:
    settings.DATABASE_ROUTERS = ["dch_favourites.routers.ReplicaRouter"]
    CatalogueItemFactory(id="301", title="Film")
    token = AccessTokenFactory()
    add_favourites(token.user, ["301"])

    listed = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token.token}")

    assert listed.status_code == 200
    assert [entry["id"] for entry in json.loads(listed.content)["_links"]["favourites"]] == ["301"]
    assert Client().get("/v2/film/301").status_code == 200
