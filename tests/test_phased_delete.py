"""Deleting an item many listeners hold: holders released in batches, no long transaction.

``services.delete_catalogue_items`` takes the item off its holders' lists a batch at a
time, each batch in a transaction of its own (a holder's POST naming the item waits for
one batch at most), then deletes the item; the admin's delete view and delete action use
it. Transactional tests: the batches commit, which a test wrapped in a transaction would
never see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from endpoints import URL

from dch_favourites import services
from dch_favourites.models import CatalogueItem, CatalogueState, Favourite, FavouriteListState
from dch_favourites.services import add_favourites, delete_catalogue_items
from factories import (
    AccessTokenFactory,
    CatalogueItemFactory,
    ConcertFactory,
    TranslationFactory,
    UserFactory,
    WorkFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def clock() -> int:
    state = CatalogueState.objects.first()
    return state.version if state else 0


def versions(users: list[Any]) -> dict[Any, tuple[int, int]]:
    rows = FavouriteListState.objects.filter(user__in=users)
    return {row.user_id: (row.version, row.updated) for row in rows}


@pytest.fixture
def held() -> dict[str, Any]:
    """Item 301 held by five listeners (also holding 302), and a bystander holding 302."""
    for item_id in ("301", "302"):
        CatalogueItemFactory(id=item_id, type="film")
    holders = [UserFactory(username=f"holder{n}") for n in range(5)]
    for user in holders:
        add_favourites(user, ["301", "302"])
    bystander = UserFactory(username="bystander")
    add_favourites(bystander, ["302"])
    return {"holders": holders, "bystander": bystander}


def test_holders_are_released_in_batches_then_the_item_goes(
    held: dict[str, Any], heard: list[Any]
) -> None:
    holders, bystander = held["holders"], held["bystander"]
    before, bystander_before, clock_before = versions(holders), versions([bystander]), clock()

    assert delete_catalogue_items(["301"], batch_size=2) == 1

    assert not CatalogueItem.objects.filter(pk="301").exists()
    assert not Favourite.objects.filter(item_id="301").exists()
    assert Favourite.objects.filter(item_id="302").count() == 6
    after = versions(holders)
    for user in holders:  # each holder's list moved on once, later than before
        assert after[user.pk][0] == before[user.pk][0] + 1
        assert after[user.pk][1] > before[user.pk][1]
    assert sorted(heard) == sorted(("removed", user.pk, ("301",), "cascade") for user in holders)
    # Nobody else's document changed: neither the bystander's list nor the catalogue clock.
    assert versions([bystander]) == bystander_before
    assert clock() == clock_before


#: The statement that locks a batch of holders' list states.
LOCK_STATES = re.compile(r'FROM "dch_favourites_favouriteliststate" WHERE .*"user_id" IN \(')
#: The statement that picks a batch of an item's holders, and its size.
HOLDERS = re.compile(
    r'^SELECT "dch_favourites_favourite"\."user_id"(?: AS "user_id")? '
    r'FROM "dch_favourites_favourite" WHERE "dch_favourites_favourite"\."item_id" = %s LIMIT (\d+)$'
)


def test_each_batch_commits_on_its_own(held: dict[str, Any]) -> None:
    """A failure after the first batch leaves that batch done and the item in place."""
    calls: list[list[Any]] = []

    def failing_second_time(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if LOCK_STATES.search(sql):
            calls.append(list(params))
            if len(calls) == 2:
                raise RuntimeError("the database went away")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(failing_second_time), pytest.raises(RuntimeError):
        delete_catalogue_items(["301"], batch_size=2)

    assert Favourite.objects.filter(item_id="301").count() == 3  # the first two released
    assert set(calls[0]).isdisjoint(
        Favourite.objects.filter(item_id="301").values_list("user_id", flat=True)
    )
    assert CatalogueItem.objects.filter(pk="301").exists()
    assert delete_catalogue_items(["301"], batch_size=2) == 1  # running it again finishes
    assert not Favourite.objects.filter(item_id="301").exists()


def test_inside_a_transaction_it_all_happens_in_that_one(held: dict[str, Any]) -> None:
    from django.db import transaction

    with transaction.atomic():
        assert delete_catalogue_items(["301"], batch_size=2) == 1
        assert not Favourite.objects.filter(item_id="301").exists()
    assert not CatalogueItem.objects.filter(pk="301").exists()


def test_every_holder_sees_the_item_gone_and_the_bystander_keeps_their_etag(
    held: dict[str, Any],
) -> None:
    holder, bystander = held["holders"][0], held["bystander"]
    holder_api, bystander_api = Client(), Client()
    holder_headers = {"HTTP_AUTHORIZATION": f"Bearer {AccessTokenFactory(user=holder).token}"}
    bystander_headers = {"HTTP_AUTHORIZATION": f"Bearer {AccessTokenFactory(user=bystander).token}"}
    first = holder_api.get(URL, **holder_headers)
    seen = bystander_api.get(URL, **bystander_headers)

    delete_catalogue_items(["301"], batch_size=2)

    stale = holder_api.get(URL, HTTP_IF_NONE_MATCH=first["ETag"], **holder_headers)
    assert stale.status_code == 200
    entries = json.loads(stale.content)["_links"]["favourites"]
    assert [entry["id"] for entry in entries] == ["302"]
    assert json.loads(stale.content)["updated"] > json.loads(first.content)["updated"]
    unchanged = bystander_api.get(URL, HTTP_IF_NONE_MATCH=seen["ETag"], **bystander_headers)
    assert unchanged.status_code == 304


def test_an_item_on_no_list_moves_no_clock(held: dict[str, Any]) -> None:
    """Nobody's document shows it: deleting it (translations and all) renews none."""
    TranslationFactory(item=CatalogueItemFactory(id="399", type="film"), language="de")
    CatalogueItemFactory(id="398", type="film")
    before = clock()
    CatalogueItem.objects.get(pk="399").delete()
    CatalogueItem.objects.filter(pk="398").delete()
    assert clock() == before


def test_a_concert_on_no_list_renews_its_parts(held: dict[str, Any]) -> None:
    """Its works fall back to their own begin: documents holding them must change."""
    concert = ConcertFactory(id="23427")
    WorkFactory(id="23427-1", concert=concert)
    before = clock()
    concert.delete()
    assert clock() == before + 1


def test_a_bad_batch_size_is_refused(held: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        delete_catalogue_items(["301"], batch_size=0)
    assert CatalogueItem.objects.filter(pk="301").exists()


@pytest.fixture
def batch_sizes() -> Iterator[list[int]]:
    """The size of every batch of holders released, in order, read from its statement."""
    sizes: list[int] = []

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        found = HOLDERS.match(sql)
        if found:
            sizes.append(int(found.group(1)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        yield sizes


def test_the_admin_delete_view_batches_an_item_held_by_many(
    held: dict[str, Any], admin_client: Any, monkeypatch: Any, batch_sizes: list[int]
) -> None:
    monkeypatch.setattr(services, "HOLDER_BATCH", 2)
    response = admin_client.post("/admin/dch_favourites/catalogueitem/301/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not CatalogueItem.objects.filter(pk="301").exists()
    assert not Favourite.objects.filter(item_id="301").exists()
    assert batch_sizes == [2, 2, 2]  # 2 + 2 + 1 holders


def test_the_admin_delete_view_deletes_an_item_held_by_few_at_once(
    held: dict[str, Any], admin_client: Any, batch_sizes: list[int]
) -> None:
    response = admin_client.post("/admin/dch_favourites/catalogueitem/301/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not CatalogueItem.objects.filter(pk="301").exists()
    assert batch_sizes == []  # 5 holders: in the page's own transaction


@pytest.mark.parametrize("atomic_requests", [False, True])
def test_the_admin_delete_action_batches(
    held: dict[str, Any],
    admin_client: Any,
    monkeypatch: Any,
    batch_sizes: list[int],
    atomic_requests: bool,
) -> None:
    """Also under ATOMIC_REQUESTS: once the request's transaction has committed."""
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic_requests)
    monkeypatch.setattr(services, "HOLDER_BATCH", 2)
    response = admin_client.post(
        "/admin/dch_favourites/catalogueitem/",
        {"action": "delete_selected", "_selected_action": ["301", "302"], "post": "yes"},
    )

    assert response.status_code == 302
    assert not CatalogueItem.objects.filter(pk__in=["301", "302"]).exists()
    assert not Favourite.objects.exists()
    assert len(batch_sizes) == 7  # 301: 2, 2, 1 holders; 302: 2, 2, 2, then none
    assert all(version > 0 for version, _updated in versions(held["holders"]).values())


def test_a_batch_never_has_more_holders_than_the_database_takes_parameters(
    held: dict[str, Any], monkeypatch: Any, batch_sizes: list[int]
) -> None:
    from django.db import connection

    # Seven parameters: four holders per batch, and the bump's three values beside them.
    monkeypatch.setattr(connection.features, "max_query_params", 7)
    assert delete_catalogue_items(["301"]) == 1
    assert batch_sizes == [4, 4]
    assert not Favourite.objects.filter(item_id="301").exists()


def test_the_admin_delete_action_under_atomic_requests_keeps_a_small_delete_in_it(
    held: dict[str, Any], admin_client: Any, monkeypatch: Any, batch_sizes: list[int]
) -> None:
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    before = clock()
    response = admin_client.post(
        "/admin/dch_favourites/catalogueitem/",
        {"action": "delete_selected", "_selected_action": ["301"], "post": "yes"},
    )

    assert response.status_code == 302
    assert not CatalogueItem.objects.filter(pk="301").exists()
    assert batch_sizes == []  # 5 holders: in the request's own transaction
    assert clock() == before + 1  # the holders' documents are renewed by the clock


def test_holder_count_counts_each_listener_once(held: dict[str, Any]) -> None:
    assert services.holder_count("301") == 5
    assert services.holder_count("301", "302") == 6
    assert services.holder_count("nobody-holds-this") == 0


def test_on_commit_leaves_only_an_item_held_by_more_than_a_batch_to_the_commit(
    held: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "HOLDER_BATCH", 5)
    assert services.delete_catalogue_items_on_commit(["302"]) is False  # no transaction

    with transaction.atomic():
        assert services.delete_catalogue_items_on_commit(["301", "303"]) is False  # 5 holders
        assert services.delete_catalogue_items_on_commit(["301", "302"]) is True  # 302: 6
        assert CatalogueItem.objects.filter(pk__in=["301", "302"]).count() == 2

    assert not CatalogueItem.objects.filter(pk__in=["301", "302"]).exists()


def test_the_command_deletes_in_batches(held: dict[str, Any], batch_sizes: list[int]) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("delete_catalogue_items", "301", "--batch-size", "2", "--yes", stdout=out)

    assert out.getvalue() == "Deleted 1 catalogue item. Lists changed: 5.\n"
    assert batch_sizes == [2, 2, 2]
    assert not CatalogueItem.objects.filter(pk="301").exists()
    assert Favourite.objects.filter(item_id="302").count() == 6


def test_the_command_asks_first(held: dict[str, Any], monkeypatch: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "no")
    out = StringIO()
    call_command("delete_catalogue_items", "301", "302", stdout=out)
    assert asked == [
        "Delete 2 catalogue items (301, 302)? Listeners who hold them: 6. This cannot be "
        "undone.\nType 'yes' to continue, or 'no' to cancel: "
    ]
    assert out.getvalue() == "Cancelled; nothing deleted.\n"
    assert CatalogueItem.objects.filter(pk__in=["301", "302"]).count() == 2

    monkeypatch.setattr("builtins.input", lambda question: "yes")
    call_command("delete_catalogue_items", "301", "302", stdout=out)
    assert not CatalogueItem.objects.filter(pk__in=["301", "302"]).exists()
    assert not Favourite.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["301", "999"], "No catalogue item with id '999'; nothing deleted."),
        (["998", "999"], "No catalogue items with ids '998', '999'; nothing deleted."),
        (["301", "no such\x00id"], "Not a catalogue item id: 'no such\ufffdid'; nothing deleted."),
        (["301", "--batch-size", "0"], "must be a whole number of at least 1, not '0'"),
        (["301", "--batch-size", "many"], "must be a whole number of at least 1, not 'many'"),
    ],
)
def test_the_command_refuses_bad_input_and_deletes_nothing(
    held: dict[str, Any], arguments: list[str], message: str
) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError) as raised:
        call_command("delete_catalogue_items", *arguments, "--yes")
    assert message in str(raised.value)
    assert CatalogueItem.objects.filter(pk="301").exists()
    assert Favourite.objects.filter(item_id="301").count() == 5


@pytest.fixture
def failing_second_remove(monkeypatch: Any) -> list[Any]:
    """``services.remove_favourites`` fails for the second listener it is called for."""
    real = services.remove_favourites
    calls: list[Any] = []

    def failing_second_time(user: Any, item_ids: Any, **kwargs: Any) -> Any:
        calls.append(user.pk)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(user, item_ids, **kwargs)

    monkeypatch.setattr(services, "remove_favourites", failing_second_time)
    return calls


def test_the_admin_bulk_delete_of_favourites_commits_each_listener_apart(
    held: dict[str, Any], admin_client: Any, failing_second_remove: list[Any]
) -> None:
    """A failure on the second listener leaves the first one's removal done."""
    holders = held["holders"][:2]
    rows = list(Favourite.objects.filter(user__in=holders, item_id="301").order_by("user_id"))
    with pytest.raises(RuntimeError):
        admin_client.post(
            "/admin/dch_favourites/favourite/",
            {"action": "delete_selected", "_selected_action": [r.pk for r in rows], "post": "yes"},
        )
    left = set(Favourite.objects.filter(item_id="301").values_list("user_id", flat=True))
    assert failing_second_remove[0] not in left
    assert failing_second_remove[1] in left


def test_a_queryset_delete_of_favourites_stays_all_or_nothing(
    held: dict[str, Any], failing_second_remove: list[Any]
) -> None:
    with pytest.raises(RuntimeError):
        Favourite.objects.filter(item_id="301").delete()
    assert len(failing_second_remove) == 2
    assert Favourite.objects.filter(item_id="301").count() == 5
