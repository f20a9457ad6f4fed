"""The write path as Python callers use it: what each call returns and leaves behind."""

from __future__ import annotations

from typing import Any

import pytest

from dch_favourites.models import Favourite, FavouriteListState
from dch_favourites.services import (
    ListChange,
    ListState,
    Source,
    add_favourites,
    list_state,
    remove_all_favourites,
    remove_favourites,
)
from factories import CatalogueItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def stored(user: Any) -> list[str]:
    return list(Favourite.objects.filter(user=user).values_list("item_id", flat=True))


def test_list_state_of_a_listener_who_never_had_a_list_is_zero() -> None:
    listener = UserFactory()

    assert list_state(listener) == ListState(version=0, updated=0)
    assert not FavouriteListState.objects.filter(user=listener).exists()


def test_list_state_follows_every_change() -> None:
    listener = UserFactory()
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")

    added = add_favourites(listener, ["301", "302"])
    removed = remove_favourites(listener, ["301"])

    assert added.state.version == 1
    assert removed.state.version == 2
    assert removed.state.updated > added.state.updated
    assert list_state(listener) == removed.state
    stored_state = FavouriteListState.objects.get(user=listener)
    assert list_state(listener) == ListState(stored_state.version, stored_state.updated)


def test_a_change_says_what_it_applied_and_whether_anything_changed(
    django_capture_on_commit_callbacks: Any, heard: Any
) -> None:
    listener = UserFactory()
    CatalogueItemFactory(id="301")

    with django_capture_on_commit_callbacks(execute=True):
        first = add_favourites(listener, ["301", "301"], source=Source.COMMAND)
        again = add_favourites(listener, ["301"], source=Source.COMMAND)

    assert first.item_ids == ("301",)
    assert first.changed is True
    assert again == ListChange(first.state, ())
    assert again.changed is False
    assert heard == [("added", listener.pk, ("301",), "command")]


def test_adding_no_ids_changes_nothing(django_capture_on_commit_callbacks: Any, heard: Any) -> None:
    listener = UserFactory()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        change = add_favourites(listener, [])

    assert change == ListChange(ListState(0, 0), ())
    assert list_state(listener) == ListState(0, 0)
    assert stored(listener) == []
    assert callbacks == []
    assert heard == []


def test_removing_all_favourites_empties_the_list_in_one_change(
    django_capture_on_commit_callbacks: Any, heard: Any
) -> None:
    listener = UserFactory()
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")
    add_favourites(listener, ["301"])
    before = add_favourites(listener, ["302"]).state

    with django_capture_on_commit_callbacks(execute=True):
        change = remove_all_favourites(listener)
        empty = remove_all_favourites(listener)

    assert change.item_ids == ("302", "301")  # newest first
    assert change.state.version == before.version + 1
    assert empty == ListChange(change.state, ())
    assert stored(listener) == []
    assert heard == [("removed", listener.pk, ("302", "301"), "python")]


def test_saving_a_favourite_that_exists_changes_nothing() -> None:
    listener = UserFactory()
    CatalogueItemFactory(id="301")
    state = add_favourites(listener, ["301"]).state
    favourite = Favourite.objects.get(user=listener)
    added = favourite.added

    favourite.save()

    favourite.refresh_from_db()
    assert favourite.added == added
    assert stored(listener) == ["301"]
    assert list_state(listener) == state
