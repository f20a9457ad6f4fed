"""A site that forgot ``migrate``: the API answers 503 in its envelope and the log says why.

The table is renamed inside the test's transaction (rolled back afterwards, on SQLite and
PostgreSQL alike), so the request meets the database exactly as an unmigrated one answers.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connection
from django.test import Client

from dch_favourites.models import Favourite
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, CatalogueItemFactory, UserFactory

UNAVAILABLE = {"error": {"message": "Service temporarily unavailable."}}


def drop_table_for_the_request(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_gone"')


def the_database_says(table: str) -> str:
    if connection.vendor == "postgresql":
        return f'relation "{table}" does not exist'
    return f"no such table: {table}"


@pytest.mark.django_db
def test_a_missing_table_is_503_and_the_log_names_it_with_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dch_favourites")
    listener = UserFactory()
    token = AccessTokenFactory(user=listener, token="missing-table-token-0123456789").token
    CatalogueItemFactory(id="301")
    add_favourites(listener, ["301"])
    table = Favourite._meta.db_table
    drop_table_for_the_request(table)

    response = Client().get("/v2/user/favourites", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"
    assert response["Retry-After"] == "5"
    assert json.loads(response.content) == UNAVAILABLE
    [record] = [r for r in caplog.records if r.name == "dch_favourites"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"Database not migrated: {the_database_says(table)}. Run `python manage.py migrate`."
    )
    assert record.exc_info is None
    assert token not in caplog.text


@pytest.mark.django_db
def test_a_missing_table_behind_the_item_resource_is_503_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    CatalogueItemFactory(id="301")
    table = Favourite._meta.get_field("item").related_model._meta.db_table
    drop_table_for_the_request(table)

    response = Client().get("/v2/film/301")

    assert (response.status_code, json.loads(response.content)) == (503, UNAVAILABLE)
    assert [r.getMessage() for r in caplog.records if r.name == "dch_favourites"] == [
        f"Database not migrated: {the_database_says(table)}. Run `python manage.py migrate`."
    ]
