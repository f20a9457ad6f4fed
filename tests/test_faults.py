"""Faults: the database goes away, a write fails half-way, a client writes too fast."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from database_state import database_state
from django.core.cache import cache
from django.db import DataError, OperationalError, connection
from django.test import Client, override_settings
from endpoints import URL
from threaded_server import ConnectionFactory, connection_factory, server_database, serving

from dch_favourites.api.throttling import WriteRateThrottle
from dch_favourites.models import Favourite, FavouriteListState
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, CatalogueItemFactory, UserFactory

UNAVAILABLE = {"error": {"message": "Service temporarily unavailable."}}
SERVER_ERROR = {"error": {"message": "Internal server error."}}
STATE_UPDATE = 'UPDATE "dch_favourites_favouriteliststate"'
ENTRY_ROWS = 'LEFT OUTER JOIN "dch_favourites_favourite"'


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Switchable:
    """Connections to the live database, or, while ``down``, to one that cannot be reached."""

    def __init__(self, live: ConnectionFactory, dead: ConnectionFactory) -> None:
        self.live, self.dead = live, dead
        self.down = False

    def __call__(self) -> Any:
        return (self.dead if self.down else self.live)()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Switchable]:
    with server_database(tmp_path) as factory:
        live = factory or connection_factory()
        if connection.vendor == "sqlite":
            dead = connection_factory(NAME=str(tmp_path / "gone" / "server.sqlite3"))
        else:
            dead = connection_factory(HOST="127.0.0.1", PORT=str(closed_port()))
        yield Switchable(live, dead)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": None})
def test_database_unreachable_is_503_and_service_recovers(
    database: Switchable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = UserFactory()
    token = AccessTokenFactory(user=user, token="fault-token-0123456789abcdef").token
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")
    add_favourites(user, ["301"])
    auth = {"Authorization": f"Bearer {token}"}
    before = database_state()

    with serving(database) as base:
        assert requests.get(base + URL, headers=auth, timeout=30).status_code == 200

        database.down = True
        answers = [
            requests.get(base + URL, headers=auth, timeout=30),
            requests.post(
                base + URL, data={"action": "add", "id": "302"}, headers=auth, timeout=30
            ),
            requests.get(base + "/v2/film/301", timeout=30),
        ]
        for answer in answers:
            assert answer.status_code == 503
            assert answer.headers["Content-Type"] == "application/hal+json; charset=utf-8"
            assert answer.headers["Retry-After"] == "5"
            assert answer.json() == UNAVAILABLE
        assert database_state() == before

        # Back again: the same running server answers, without a restart.
        database.down = False
        listed = requests.get(base + URL, headers=auth, timeout=30)
        added = requests.post(
            base + URL, data={"action": "add", "id": "302"}, headers=auth, timeout=30
        )

    assert listed.status_code == 200
    assert [entry["id"] for entry in listed.json()["_links"]["favourites"]] == ["301"]
    assert added.status_code == 200
    assert [entry["id"] for entry in added.json()["_links"]["favourites"]] == ["302", "301"]
    assert sorted(Favourite.objects.filter(user=user).values_list("item_id", flat=True)) == [
        "301",
        "302",
    ]
    unavailable = [r for r in caplog.records if r.getMessage().startswith("Database unavailable")]
    assert len(unavailable) == 3
    assert all(record.exc_info is None for record in unavailable)
    assert token not in caplog.text


def fail_on(fragment: str, error: Exception) -> Callable[..., Any]:
    """An execute wrapper that lets statements through until one contains ``fragment``."""

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if fragment in sql:
            raise error
        return execute(sql, params, many, context)

    return wrapper


@pytest.fixture
def listener_with_list(transactional_db: Any) -> dict[str, Any]:
    user = UserFactory()
    token = AccessTokenFactory(user=user, token="halfway-token-0123456789abcdef").token
    for item_id in ("301", "302", "303", "304"):
        CatalogueItemFactory(id=item_id)
    add_favourites(user, ["301", "302"])
    return {"user": user, "auth": {"HTTP_AUTHORIZATION": f"Bearer {token}"}, "token": token}


HALF_WAY = [
    # The rows are written, then the list's state update fails.
    pytest.param(
        "action=add&id=303&id=304", STATE_UPDATE, OperationalError("gone"), 503, id="add-state"
    ),
    pytest.param(
        "action=delete&id=301&id=302",
        STATE_UPDATE,
        OperationalError("gone"),
        503,
        id="delete-state",
    ),
    # The change is made; reading the list back for the answer fails.
    pytest.param(
        "action=add&id=303&id=304", ENTRY_ROWS, OperationalError("gone"), 503, id="add-answer"
    ),
    pytest.param(
        "action=delete&id=302&id=301", ENTRY_ROWS, OperationalError("gone"), 503, id="delete-answer"
    ),
    # Not an outage: a plain database error is a 500, still in the envelope.
    pytest.param(
        "action=add&id=304&id=303", STATE_UPDATE, DataError("bad"), 500, id="add-data-error"
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("body", "fragment", "error", "status"), HALF_WAY)
@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": None})
def test_error_half_way_through_a_multi_id_change_applies_nothing(
    listener_with_list: dict[str, Any],
    heard: list[Any],
    caplog: pytest.LogCaptureFixture,
    body: str,
    fragment: str,
    error: Exception,
    status: int,
) -> None:
    before = database_state()

    with connection.execute_wrapper(fail_on(fragment, error)):
        response = Client().post(
            URL,
            body,
            content_type="application/x-www-form-urlencoded",
            **listener_with_list["auth"],
        )

    assert response.status_code == status
    assert json.loads(response.content) == (UNAVAILABLE if status == 503 else SERVER_ERROR)
    assert database_state() == before
    assert heard == []
    assert listener_with_list["token"] not in caplog.text
    # And the same request goes through once the database behaves.
    assert (
        Client()
        .post(
            URL,
            body,
            content_type="application/x-www-form-urlencoded",
            **listener_with_list["auth"],
        )
        .status_code
        == 200
    )
    assert database_state() != before


@pytest.mark.django_db(transaction=True)
def test_error_half_way_through_a_bulk_delete_of_several_lists_applies_nothing(
    heard: list[Any],
) -> None:
    first, second = UserFactory(), UserFactory()
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")
    add_favourites(first, ["301", "302"])
    add_favourites(second, ["301"])
    heard.clear()
    before = database_state()
    updates = 0

    def fail_on_second_list(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        nonlocal updates
        if STATE_UPDATE in sql:
            updates += 1
            if updates == 2:
                raise OperationalError("gone")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_on_second_list), pytest.raises(OperationalError):
        Favourite.objects.filter(item_id="301").delete()

    assert updates == 2  # the first list had been changed when the second failed
    assert database_state() == before
    assert heard == []


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    now = [1_800_000_000.0]
    monkeypatch.setattr(WriteRateThrottle, "timer", lambda self: now[0])
    cache.clear()
    yield now
    cache.clear()


@pytest.mark.django_db
@pytest.mark.usefixtures("cache_backend")
@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": "2/min"})
def test_writes_over_the_rate_are_429_with_retry_after(
    make_api: Any, frozen_clock: list[float]
) -> None:
    for item_id in ("301", "302", "303"):
        CatalogueItemFactory(id=item_id)
    api, other = make_api(), make_api()

    first = api.form(action="add", id="301")
    second = api.form(action="add", id="302")
    before = database_state()
    third = api.form(action="add", id="303")

    assert (first.status_code, second.status_code) == (200, 200)
    assert third.status_code == 429
    assert json.loads(third.content) == {
        "error": {"message": "Request was throttled. Expected available in 60 seconds."}
    }
    assert third["Retry-After"] == "60"
    assert third["Content-Type"] == "application/hal+json; charset=utf-8"
    assert database_state() == before
    # Reading is not limited, nor is another listener.
    assert api.get().status_code == 200
    assert other.form(action="add", id="303").status_code == 200

    frozen_clock[0] += 20
    later = api.form(action="add", id="303")
    assert later.status_code == 429
    assert later["Retry-After"] == "40"

    frozen_clock[0] += 41
    assert api.form(action="add", id="303").status_code == 200
    assert list(
        Favourite.objects.filter(user=api.user)
        .order_by("item_id")
        .values_list("item_id", flat=True)
    ) == ["301", "302", "303"]
    assert FavouriteListState.objects.get(user=api.user).version == 3
