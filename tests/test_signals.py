"""``favourite_added`` / ``favourite_removed``: once per effective change, after commit."""

from __future__ import annotations

import json
import logging
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from dch_favourites.models import CatalogueItem, CatalogueItemTranslation, Favourite
from dch_favourites.services import (
    ListFull,
    Source,
    UnknownItems,
    add_favourites,
    remove_all_favourites,
    remove_favourite_rows,
    remove_favourites,
)
from dch_favourites.signals import favourite_added, favourite_removed
from factories import CatalogueItemFactory, ConcertFactory, UserFactory, WorkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def items() -> list[CatalogueItem]:
    return [CatalogueItemFactory(id=str(n)) for n in (301, 302, 303)]


# As the shared `heard` fixture records them; it hears only signals sent by Favourite.
def added(user: Any, *ids: str, source: Source = Source.PYTHON) -> tuple[Any, ...]:
    return ("added", user.pk, ids, source)


def removed(user: Any, *ids: str, source: Source = Source.PYTHON) -> tuple[Any, ...]:
    return ("removed", user.pk, ids, source)


# The Python door.


def test_add_sends_one_signal_after_commit(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        add_favourites(listener, ["301", "302"])
        assert heard == []  # not before the commit

    assert len(callbacks) == 1
    assert heard == [added(listener, "301", "302")]
    assert isinstance(heard[0].items, tuple)
    assert heard[0].source == "python"


def test_only_the_effective_part_of_an_add_is_sent(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    add_favourites(listener, ["301"])
    with django_capture_on_commit_callbacks(execute=True):
        add_favourites(listener, ["302", "301", "302", "303"])

    assert heard == [added(listener, "302", "303")]


def test_a_no_op_add_or_remove_sends_nothing(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    add_favourites(listener, ["301"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        add_favourites(listener, ["301"])
        remove_favourites(listener, ["302", "303"])
        remove_favourites(UserFactory(), ["301"])
        remove_all_favourites(UserFactory())

    assert callbacks == []
    assert heard == []


def test_remove_sends_the_removed_items_only(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    add_favourites(listener, ["301", "302"])
    with django_capture_on_commit_callbacks(execute=True):
        remove_favourites(listener, ["303", "302", "301"])

    assert heard == [removed(listener, "302", "301")]
    assert not Favourite.objects.exists()


def test_refused_changes_send_nothing(
    listener: Any,
    items: Any,
    heard: list[Any],
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.DCH_FAVOURITES = {"WRITE_THROTTLE_RATE": None, "MAX_FAVOURITES_PER_USER": 2}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(UnknownItems):
            add_favourites(listener, ["301", "999"])
        with pytest.raises(ListFull):
            add_favourites(listener, ["301", "302", "303"])

    assert callbacks == []
    assert heard == []
    assert not Favourite.objects.exists()


def test_a_rolled_back_change_sends_nothing(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    def add_then_fail() -> None:
        with transaction.atomic():
            add_favourites(listener, ["301"])
            raise RuntimeError("the caller's transaction fails after the add")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            add_then_fail()
        add_favourites(listener, ["302"])

    assert len(callbacks) == 1
    assert heard == [added(listener, "302")]
    assert list(Favourite.objects.values_list("item_id", flat=True)) == ["302"]


def test_model_shortcuts_are_the_python_door(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        favourite = Favourite.objects.create(user=listener, item_id="301")
        Favourite(user=listener, item_id="302").save()
        favourite.delete()
        Favourite.objects.filter(item_id="302").delete()

    assert heard == [
        added(listener, "301"),
        added(listener, "302"),
        removed(listener, "301"),
        removed(listener, "302"),
    ]


def test_a_bulk_delete_sends_one_signal_per_listener(
    items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    add_favourites(alice, ["301", "302"])
    add_favourites(bob, ["302"])
    with django_capture_on_commit_callbacks(execute=True):
        remove_favourite_rows(Favourite.objects.filter(item_id="302"), source=Source.ADMIN)

    assert sorted(heard, key=lambda heard: heard.user_pk) == [
        removed(alice, "302", source=Source.ADMIN),
        removed(bob, "302", source=Source.ADMIN),
    ]


# The API door.


def test_the_api_sends_with_source_api(
    api: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert api.form(action="add", id=["301", "302"]).status_code == 200
        assert api.form(action="add", id="301").status_code == 200  # no-op
        assert api.form(action="delete", id=["303", "301"]).status_code == 200
        assert api.form(action="delete", id="301").status_code == 200  # no-op
        assert api.form(action="add", id="999").status_code == 404  # refused

    assert heard == [
        added(api.user, "301", "302", source=Source.API),
        removed(api.user, "301", source=Source.API),
    ]
    assert heard[0].source == "api"
    body = json.loads(api.get().content)
    assert [entry["id"] for entry in body["_links"]["favourites"]] == ["302"]


# The cascade door.


def test_deleting_an_item_tells_every_holder(
    items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob, carol = (UserFactory(username=name) for name in ("alice", "bob", "carol"))
    add_favourites(alice, ["301", "302"])
    add_favourites(bob, ["301"])
    add_favourites(carol, ["303"])
    with django_capture_on_commit_callbacks(execute=True):
        CatalogueItem.objects.get(pk="301").delete()

    assert sorted(heard, key=lambda heard: heard.user_pk) == [
        removed(alice, "301", source=Source.CASCADE),
        removed(bob, "301", source=Source.CASCADE),
    ]
    assert set(Favourite.objects.values_list("user__username", "item_id")) == {
        ("alice", "302"),
        ("carol", "303"),
    }


def test_deleting_an_item_loads_no_holder_when_nobody_listens(
    items: Any, django_capture_on_commit_callbacks: Any, django_assert_num_queries: Any
) -> None:
    """The holders are loaded for the receivers alone: with none, the delete reads none."""
    for name in ("alice", "bob"):
        add_favourites(UserFactory(username=name), ["301"])
    assert not favourite_removed.has_listeners(Favourite)
    item = CatalogueItem.objects.get(pk="301")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        item.delete()
    with django_assert_num_queries(0):
        for callback in callbacks:
            callback()  # run again: a callback that loaded users would query here
    assert not Favourite.objects.filter(item_id="301").exists()


def test_deleting_items_in_bulk_tells_every_holder(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    add_favourites(listener, ["301", "302", "303"])
    with django_capture_on_commit_callbacks(execute=True):
        CatalogueItem.objects.filter(pk__in=["301", "303"]).delete()

    assert sorted(heard, key=lambda heard: heard.items) == [
        removed(listener, "301", source=Source.CASCADE),
        removed(listener, "303", source=Source.CASCADE),
    ]


def test_deleting_a_listener_sends_their_whole_list(
    items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    leaving = UserFactory(username="leaving")
    leaving_pk = leaving.pk
    add_favourites(leaving, ["301"])
    add_favourites(leaving, ["303"])
    with django_capture_on_commit_callbacks(execute=True):
        leaving.delete()

    assert len(heard) == 1
    one = heard[0]
    assert (one.signal, one.items, one.source) == ("removed", ("303", "301"), "cascade")
    # The receiver is told which listener it was, though the row is gone by then.
    assert one.user_pk == leaving_pk
    assert not Favourite.objects.exists()


def test_deleting_a_listener_without_a_list_sends_nothing(
    items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    staying = UserFactory(username="staying")
    add_favourites(staying, ["301"])
    leaving = UserFactory(username="leaving")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        leaving.delete()

    assert callbacks == []
    assert heard == []
    assert list(Favourite.objects.values_list("user_id", "item_id")) == [(staying.pk, "301")]


def test_catalogue_edits_are_not_favourite_changes(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    concert = ConcertFactory(id="23427")
    WorkFactory(id="23427-1")
    add_favourites(listener, ["301", "23427-1"])
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        film = CatalogueItem.objects.get(pk="301")
        film.title = "Renamed"
        film.save()
        translation = CatalogueItemTranslation.objects.create(item=film, language="de", title="T")
        translation.delete()
        concert.begin = None
        concert.save()

    assert heard == []
    assert Favourite.objects.filter(user=listener).count() == 2


# The command door.


def test_the_remove_command_sends_with_source_command(
    listener: Any, items: Any, heard: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    add_favourites(listener, ["301", "302"])
    with django_capture_on_commit_callbacks(execute=True):
        call_command("remove_favourites", "--username", "listener", "--yes", stdout=StringIO())

    assert heard[-1] == removed(listener, "302", "301", source=Source.COMMAND)
    assert heard[-1].source == "command"


# A receiver's failure.


def test_a_failing_receiver_does_not_undo_the_change_or_silence_the_others(
    listener: Any,
    items: Any,
    heard: list[Any],
    django_capture_on_commit_callbacks: Any,
    caplog: Any,
) -> None:
    def broken(**kwargs: Any) -> None:
        raise ValueError("analytics is down")

    favourite_added.connect(broken)
    try:
        with (
            caplog.at_level(logging.ERROR, logger="django.dispatch"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            change = add_favourites(listener, ["301"])
    finally:
        favourite_added.disconnect(broken)

    assert change.item_ids == ("301",)
    assert Favourite.objects.filter(user=listener, item_id="301").exists()
    assert heard == [added(listener, "301")]
    [record] = [r for r in caplog.records if r.name == "django.dispatch"]
    assert "analytics is down" in str(record.exc_info[1])


# Real commits (no wrapping test transaction).


@pytest.mark.django_db(transaction=True)
def test_signals_wait_for_the_real_commit(heard: list[Any]) -> None:
    listener = UserFactory(username="committed")
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")

    with transaction.atomic():
        add_favourites(listener, ["301"])
        add_favourites(listener, ["302"])
        assert heard == []
    assert heard == [added(listener, "301"), added(listener, "302")]

    def remove_then_fail() -> None:
        with transaction.atomic():
            remove_favourites(listener, ["301"])
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        remove_then_fail()
    assert heard == [added(listener, "301"), added(listener, "302")]
    assert Favourite.objects.filter(user=listener).count() == 2

    remove_favourites(listener, ["301"])  # autocommit: sent at once
    assert heard[-1] == removed(listener, "301")


@pytest.mark.django_db(transaction=True)
def test_an_api_post_signals_once_after_commit(api: Any, heard: list[Any]) -> None:
    CatalogueItemFactory(id="301")

    first = api.form(action="add", id="301")
    again = api.form(action="add", id="301")

    assert first.status_code == again.status_code == 200
    assert heard == [added(api.user, "301", source=Source.API)]


# The admin door.


def test_the_admin_sends_with_source_admin(
    admin_client: Any,
    listener: Any,
    items: Any,
    heard: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    changelist = "/admin/dch_favourites/favourite/"
    with django_capture_on_commit_callbacks(execute=True):
        added_response = admin_client.post(
            changelist + "add/", {"user": listener.pk, "item": "301"}
        )
        admin_client.post(changelist + "add/", {"user": listener.pk, "item": "302"})
        one = Favourite.objects.get(user=listener, item_id="301")
        deleted_one = admin_client.post(f"{changelist}{one.pk}/delete/", {"post": "yes"})
        rest = list(Favourite.objects.filter(user=listener).values_list("pk", flat=True))
        deleted_rest = admin_client.post(
            changelist,
            {"action": "delete_selected", "_selected_action": rest, "post": "yes"},
        )

    assert [added_response.status_code, deleted_one.status_code, deleted_rest.status_code] == [
        302,
        302,
        302,
    ]
    assert heard == [
        added(listener, "301", source=Source.ADMIN),
        added(listener, "302", source=Source.ADMIN),
        removed(listener, "301", source=Source.ADMIN),
        removed(listener, "302", source=Source.ADMIN),
    ]
    assert not Favourite.objects.exists()


def test_deleting_an_item_in_the_admin_is_a_cascade(
    admin_client: Any,
    listener: Any,
    items: Any,
    heard: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_favourites(listener, ["301"])
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/dch_favourites/catalogueitem/301/delete/", {"post": "yes"}
        )

    assert response.status_code == 302
    assert heard == [removed(listener, "301", source=Source.CASCADE)]
    assert not CatalogueItem.objects.filter(pk="301").exists()
