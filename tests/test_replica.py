"""Behind a primary/replica router, the write path reads only the primary.

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
from threaded_server import connection_factory, server_database

from dch_favourites.catalogue_import import import_catalogue
from dch_favourites.models import CatalogueItem
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, CatalogueItemFactory, ConcertFactory, WorkFactory

pytestmark = pytest.mark.django_db(transaction=True)

REPLICA = "replica"


class PrimaryReplicaRouter:
    """Reads from the replica, writes to the primary: the usual read-scaling router."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return REPLICA

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True


@pytest.fixture
def replica(tmp_path: Path, settings: Any) -> Iterator[Any]:
    """The router installed and the replica alias on its own connection; yields it."""
    with server_database(tmp_path) as factory:
        make = factory or connection_factory()
        own = make()
        settings_dict = {**own.settings_dict}
        wrapper = type(own)(settings_dict, REPLICA)
        connections[REPLICA] = wrapper
        settings.DATABASE_ROUTERS = [f"{__name__}.PrimaryReplicaRouter"]
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
    # The token is django-oauth-toolkit's read, routed as the site routes it; everything the
    # write path and the answer read is on the primary.
    read = [query["sql"].split(" FROM ")[1].split()[0] for query in on_replica]
    assert read == ['"oauth2_provider_accesstoken"']
    # The GET reads the (now committed) state from the replica: same ETag, same body.
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
