"""The read path's statements, prepared once per PostgreSQL connection.

A connection's first use of a statement sends its ``PREPARE``; from then on only
``EXECUTE``, with the same answers and the same number of queries as unprepared. Inside
a transaction, with ``PREPARED_STATEMENTS`` off, or on a connection that binds on the
server, the statements go as they are. A session that lost its statements (a
transaction-mode pooler) switches preparing off for the process; a stale plan is
deallocated and prepared again. Transactional tests: outside a transaction is the point.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dch_favourites import prepared
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="statements are prepared on PostgreSQL"
    ),
]


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Any:
    """Each test starts on a new connection, with preparing on in the process."""
    connection.close()
    prepared._not_kept.clear()
    yield
    prepared._not_kept.clear()


@pytest.fixture
def listed(api: Any) -> list[str]:
    ids = [CatalogueItemFactory(type="film").id for _ in range(3)]
    add_favourites(api.user, ids)
    cache.clear()
    return ids


def statements(captured: CaptureQueriesContext) -> list[str]:
    """The first word of each statement sent, with the name of a prepared one."""
    words = []
    for query in captured.captured_queries:
        first, _space, rest = query["sql"].partition(" ")
        if first in ("PREPARE", "EXECUTE", "DEALLOCATE"):
            words.append(f"{first} {rest.split('(')[0].split(' ')[0]}")
        else:
            words.append(first)
    return words


def get(api: Any, **headers: Any) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(**headers)
    return response, statements(captured)


def test_a_connection_prepares_each_statement_once_then_only_executes(
    api: Any, listed: list[str]
) -> None:
    unprepared = api.get().content
    connection.close()
    cache.clear()

    first, sent = get(api)
    token, rows = sent[0].split()[1], sent[3].split()[1]
    assert sent == [f"PREPARE {token}", f"EXECUTE {token}", f"PREPARE {rows}", f"EXECUTE {rows}"]
    assert token != rows
    assert first.content == unprepared

    cache.clear()
    miss, sent = get(api)
    assert sent == [f"EXECUTE {token}", f"EXECUTE {rows}"]  # the miss's 2 queries
    hit, sent = get(api)
    assert sent == [f"EXECUTE {token}"]  # the hit's 1
    not_modified, sent = get(api, HTTP_IF_NONE_MATCH=hit["ETag"])
    assert sent == [f"EXECUTE {token}"]  # the 304's 1
    assert miss.content == hit.content == unprepared
    assert not_modified.status_code == 304


def test_the_same_statement_always_gets_the_same_name() -> None:
    assert prepared.statement_name("SELECT 1") == prepared.statement_name("SELECT 1")
    assert prepared.statement_name("SELECT 1") != prepared.statement_name("SELECT 2")
    assert prepared.numbered("a = %s AND b LIKE '%%x' AND c = %s") == (
        "a = $1 AND b LIKE '%x' AND c = $2"
    )


def test_inside_a_transaction_the_statements_go_unprepared(api: Any, listed: list[str]) -> None:
    with transaction.atomic():
        response, sent = get(api)
    assert response.status_code == 200
    assert not [word for word in sent if word.startswith(("PREPARE", "EXECUTE"))]


def test_the_setting_switches_it_off(api: Any, listed: list[str], settings: Any) -> None:
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "PREPARED_STATEMENTS": False}
    response, sent = get(api)
    assert response.status_code == 200
    assert sent == ["SELECT", "SELECT"]


def test_a_connection_that_binds_on_the_server_is_left_to_psycopg(
    api: Any, listed: list[str], monkeypatch: Any
) -> None:
    options = {**connection.settings_dict.get("OPTIONS", {}), "server_side_binding": True}
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    assert not prepared.preparing(connection)


def test_a_session_that_lost_its_statements_switches_preparing_off(
    api: Any, listed: list[str], caplog: Any
) -> None:
    expected = api.get().content  # prepares both
    cache.clear()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a transaction-mode pooler's sessions do

    with caplog.at_level(logging.WARNING, logger="dch_favourites"):
        response, sent = get(api)
    assert response.status_code == 200
    assert response.content == expected
    # The token's EXECUTE failed; it went plain, and so did the rows' statement.
    assert sent == [sent[0], "SELECT", "SELECT"]
    assert sent[0].startswith("EXECUTE dch_favourites_")
    assert [r.getMessage() for r in caplog.records] == [
        "Prepared statements switched off in this process: the database session lost a "
        "prepared statement (a transaction pooler?)."
    ]

    cache.clear()
    response, sent = get(api)
    assert response.content == expected
    assert sent == ["SELECT", "SELECT"]  # not tried again


def test_a_statement_prepared_under_its_name_already_is_used(api: Any, listed: list[str]) -> None:
    """Another process's session, reached through a pooler, may have prepared it."""
    expected = api.get().content
    prepared._prepared.clear()  # the statements stay prepared; this process forgets it
    cache.clear()

    response, sent = get(api)
    assert response.content == expected
    assert [word.split()[0] for word in sent] == ["PREPARE", "EXECUTE", "PREPARE", "EXECUTE"]
    assert not prepared._not_kept


def test_a_stale_plan_is_answered_plain_and_prepared_again(api: Any, listed: list[str]) -> None:
    """A column's type changed under a running worker: "cached plan must not change"."""
    expected = json.loads(api.get().content)
    cache.clear()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE auth_user ALTER COLUMN first_name TYPE varchar(151)")
    try:
        response, sent = get(api)
        assert json.loads(response.content) == expected
        token = sent[0].split()[1]
        assert sent[:3] == [f"EXECUTE {token}", f"DEALLOCATE {token}", "SELECT"]
        assert not prepared._not_kept

        cache.clear()
        response, sent = get(api)
        assert json.loads(response.content) == expected
        assert sent[:2] == [f"PREPARE {token}", f"EXECUTE {token}"]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE auth_user ALTER COLUMN first_name TYPE varchar(150)")
