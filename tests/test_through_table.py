"""``CatalogueItem.listeners`` is a real ``ManyToManyField(through=Favourite)``, and every
door the ORM opens on it goes through the write path: the list's version and ``updated``
move, the signals are sent, the limits hold; the doors that cannot be honoured refuse.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import ManyToManyField

from dch_favourites.exceptions import AlreadyListed, FavouritesError, ListFull, UnknownItems
from dch_favourites.models import CatalogueItem, Favourite, FavouriteListState
from dch_favourites.services import Source, add_favourites, list_state
from factories import CatalogueItemFactory, UserFactory

# Transactional: the signals go out on commit, and a refused many-to-many add rolls back
# Django's own transaction (it opens one without a savepoint).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener(db: Any) -> Any:
    return UserFactory(username="ada")


@pytest.fixture
def items(db: Any) -> list[CatalogueItem]:
    return [CatalogueItemFactory(id=str(301 + n)) for n in range(4)]


def listed(user: Any) -> list[str]:
    return list(Favourite.objects.filter(user=user).values_list("item_id", flat=True))


def test_the_field_is_a_many_to_many_through_favourite() -> None:
    field = CatalogueItem._meta.get_field("listeners")
    assert isinstance(field, ManyToManyField)
    assert field.remote_field.through is Favourite
    assert field.related_model is get_user_model()
    assert get_user_model()._meta.get_field("favourite_items").related_model is CatalogueItem


def test_related_managers_read_both_ways(listener: Any, items: Any) -> None:
    add_favourites(listener, ["301", "302"])
    assert sorted(listener.favourite_items.values_list("id", flat=True)) == ["301", "302"]
    assert list(CatalogueItem.objects.get(pk="301").listeners.all()) == [listener]


def test_add_from_the_item_side(listener: Any, items: Any, heard: Any) -> None:
    items[0].listeners.add(listener)

    assert listed(listener) == ["301"]
    assert list_state(listener).version == 1
    assert heard == [("added", listener.pk, ("301",), "python")]


def test_add_from_the_user_side_all_or_nothing(listener: Any, items: Any) -> None:
    listener.favourite_items.add("301")
    with pytest.raises(UnknownItems):
        listener.favourite_items.add("302", "999")
    assert listed(listener) == ["301"]
    assert list_state(listener).version == 1


def test_add_respects_the_list_limit(listener: Any, items: Any, settings: Any) -> None:
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "MAX_FAVOURITES_PER_USER": 2}
    listener.favourite_items.add("301", "302")
    with pytest.raises(ListFull):
        listener.favourite_items.add("303")
    assert sorted(listed(listener)) == ["301", "302"]


def test_remove_set_and_clear(listener: Any, items: Any, heard: Any) -> None:
    add_favourites(listener, ["301", "302", "303"])
    version = list_state(listener).version

    listener.favourite_items.remove("302")
    assert sorted(listed(listener)) == ["301", "303"]
    assert list_state(listener).version == version + 1

    listener.favourite_items.set(["303", "304"])
    assert sorted(listed(listener)) == ["303", "304"]
    assert list_state(listener).version == version + 3  # one remove, one add

    items[3].listeners.clear()
    assert listed(listener) == ["303"]
    listener.favourite_items.clear()
    assert listed(listener) == []
    assert list_state(listener).version == version + 5
    assert [kind for kind, *_ in heard] == [
        "added",
        "removed",
        "removed",
        "added",
        "removed",
        "removed",
    ]


def test_create_and_save_of_a_new_row(listener: Any, items: Any, heard: Any) -> None:
    created = Favourite.objects.create(user=listener, item=items[0])
    assert created.pk is not None
    assert Favourite.objects.get(pk=created.pk).item_id == "301"

    built = Favourite(user=listener, item=items[1])
    built.save(source=Source.ADMIN)
    assert built.pk is not None
    assert list_state(listener).version == 2
    assert heard == [
        ("added", listener.pk, ("301",), "python"),
        ("added", listener.pk, ("302",), "admin"),
    ]
    with pytest.raises(AlreadyListed):
        Favourite.objects.create(user=listener, item=items[0])
    assert list_state(listener).version == 2


def test_save_of_a_stored_row_is_a_no_op_and_takes_source(listener: Any, items: Any) -> None:
    favourite = Favourite.objects.create(user=listener, item=items[0])
    favourite.save(source=Source.ADMIN)  # no TypeError, nothing to change
    assert list_state(listener).version == 1

    favourite.item = items[1]
    with pytest.raises(FavouritesError, match="not edited in place"):
        favourite.save()
    assert listed(listener) == ["301"]


def test_bulk_create_goes_through_the_write_path(items: Any, heard: Any) -> None:
    ada, ben = UserFactory(), UserFactory()
    stored = Favourite.objects.bulk_create(
        [
            Favourite(user=ada, item_id="301"),
            Favourite(user=ben, item_id="302"),
            Favourite(user=ada, item_id="303"),
        ]
    )
    assert [(row.user_id, row.item_id) for row in stored] == [
        (ada.pk, "301"),
        (ben.pk, "302"),
        (ada.pk, "303"),
    ]
    assert all(row.pk for row in stored)
    assert (list_state(ada).version, list_state(ben).version) == (1, 1)
    with pytest.raises(UnknownItems):
        Favourite.objects.bulk_create([Favourite(user=ben, item_id="404")])
    assert listed(ben) == ["302"]


def test_queryset_and_instance_delete(listener: Any, items: Any, heard: Any) -> None:
    add_favourites(listener, ["301", "302", "303"])

    Favourite.objects.filter(item_id="301").delete()
    Favourite.objects.get(user=listener, item_id="302").delete(source=Source.COMMAND)

    assert listed(listener) == ["303"]
    assert list_state(listener).version == 3
    assert heard[1:] == [
        ("removed", listener.pk, ("301",), "python"),
        ("removed", listener.pk, ("302",), "command"),
    ]


@pytest.mark.parametrize(
    "door",
    [
        lambda: Favourite.objects.update(item_id="302"),
        lambda: Favourite.objects.filter(item_id="301").update(added=None),
        lambda: Favourite.objects.bulk_update(list(Favourite.objects.all()), ["added"]),
    ],
    ids=["update", "filtered update", "bulk_update"],
)
def test_edits_in_place_are_refused_with_a_clear_error(
    listener: Any, items: Any, door: Any
) -> None:
    add_favourites(listener, ["301"])
    with pytest.raises(FavouritesError, match="remove it and add the other item"):
        door()
    assert listed(listener) == ["301"]
    assert list_state(listener).version == 1


def test_cascades(listener: Any, items: Any, heard: Any) -> None:
    add_favourites(listener, ["301", "302"])
    items[0].delete()
    assert listed(listener) == ["302"]
    assert ("removed", listener.pk, ("301",), "cascade") in heard

    pk = listener.pk
    listener.delete()
    assert not Favourite.objects.filter(user_id=pk).exists()
    assert not FavouriteListState.objects.filter(user_id=pk).exists()
    assert heard[-1] == ("removed", pk, ("302",), "cascade")
