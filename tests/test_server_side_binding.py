"""The app's queries with psycopg's server-side binding, which prepares repeated statements.

With ``"server_side_binding": True`` and ``"prepare_threshold": 5`` in
``DATABASES[...]["OPTIONS"]`` psycopg sends parameters apart from the statement and
prepares a statement the fifth time a connection runs it. Every path of the API, the write
path's raw statements included, runs here more often than that on such a connection, and
answers as it does without.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from dch_favourites.models import Favourite
from dch_favourites.services import add_favourites, delete_catalogue_items
from factories import CatalogueItemFactory, ConcertFactory, TranslationFactory, WorkFactory

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

ROUNDS = 7  # past psycopg's prepare_threshold (5): the later rounds run prepared


@pytest.fixture
def server_side_binding() -> Iterator[None]:
    options = connection.settings_dict.setdefault("OPTIONS", {})
    connection.close()
    options.update(server_side_binding=True, prepare_threshold=5)
    try:
        yield
    finally:
        connection.close()
        options.pop("server_side_binding")
        options.pop("prepare_threshold")


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [entry["id"] for entry in json.loads(response.content)["_links"]["favourites"]]


@pytest.mark.usefixtures("server_side_binding")
def test_every_path_answers_the_same_with_server_side_binding(api: Any) -> None:
    ConcertFactory(id="900")
    work = WorkFactory(id="900-1")
    TranslationFactory(item=work, language="de", title="Sinfonie")
    for n in range(ROUNDS + 1):
        CatalogueItemFactory(id=str(300 + n))
    assert connection.cursor().cursor.__class__.__name__ == "ServerBindingCursor"

    listed: list[str] = []
    for n in range(ROUNDS):
        item_id = str(300 + n)
        listed.insert(0, item_id)
        assert ids(api.form(action="add", id=item_id)) == listed
        got = api.get()
        assert ids(got) == listed
        assert api.get(HTTP_IF_NONE_MATCH=got["ETag"]).status_code == 304
        german = api.get(HTTP_ACCEPT_LANGUAGE="de")
        assert ids(german) == listed
        assert api.get(f"/v2/film/{item_id}").status_code == 200
    assert ids(api.form(action="add", id="900-1")) == ["900-1", *listed]
    assert (
        json.loads(api.get(HTTP_ACCEPT_LANGUAGE="de").content)["_links"]["favourites"][0]["title"]
        == "Sinfonie"
    )
    for n in range(ROUNDS):
        listed.remove(str(300 + n))
        assert ids(api.form(action="delete", id=str(300 + n))) == ["900-1", *listed]

    with connection.cursor() as cursor:  # psycopg prepared the repeated statements
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 5
    # The raw statements: FOR KEY SHARE (adds above) and DELETE ... RETURNING.
    for n in range(ROUNDS):
        add_favourites(api.user, [str(300 + n)])
    assert delete_catalogue_items([str(300 + n) for n in range(ROUNDS)]) == ROUNDS
    assert list(Favourite.objects.filter(user=api.user).values_list("item_id", flat=True)) == [
        "900-1"
    ]
