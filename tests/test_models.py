"""Catalogue items as the models keep them: ids, the concert of a part, ``updated``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from database_state import document_clock, shown_begin
from django.core.exceptions import ValidationError
from django.db import NotSupportedError
from django.db.models import F

from dch_favourites.documents import UnixSeconds
from dch_favourites.models import CatalogueItem
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, ConcertFactory, UserFactory, WorkFactory, ts

pytestmark = pytest.mark.django_db


def test_saving_some_fields_still_stamps_updated_and_the_concert() -> None:
    ConcertFactory(id="23427")
    work = WorkFactory(id="23427-1", title="Old title")
    CatalogueItem.objects.filter(pk="23427-1").update(updated=ts(1000), concert=None)
    listener = UserFactory()
    before = add_favourites(listener, ["23427-1"]).state

    work.title = "New title"
    work.save(update_fields=["title"])

    stored = CatalogueItem.objects.get(pk="23427-1")
    assert stored.title == "New title"
    assert stored.updated == work.updated
    assert stored.updated > ts(1000)
    assert stored.concert_id == "23427"
    assert document_clock(listener)[2] > before.updated


@pytest.mark.parametrize(
    ("item_type", "item_id", "message"),
    [
        ("concert", "23427-1", "A concert id is a number, e.g. 23427."),
        ("concert", "gala", "A concert id is a number, e.g. 23427."),
        ("work", "23427", "A work or interview id is '<concert id>-<number>', e.g. 23427-1."),
        ("interview", "a-1", "A work or interview id is '<concert id>-<number>', e.g. 23427-1."),
    ],
)
def test_an_id_that_does_not_fit_its_type_is_refused(
    item_type: str, item_id: str, message: str
) -> None:
    item = CatalogueItem(id=item_id, type=item_type, title="Title", published=ts(0))

    with pytest.raises(ValidationError) as refused:
        item.full_clean(exclude=["updated"])

    assert refused.value.message_dict == {"id": [message]}
    assert not CatalogueItem.objects.exists()


@pytest.mark.parametrize(("item_type", "item_id"), [("concert", "23427"), ("work", "23427-1")])
def test_an_id_that_fits_its_type_is_accepted(item_type: str, item_id: str) -> None:
    item = CatalogueItem(id=item_id, type=item_type, title="Title", published=ts(0))

    item.full_clean(exclude=["updated"])


def test_a_part_shows_its_concerts_begin_and_its_own_without_the_concert() -> None:
    concert = ConcertFactory(id="23427", begin=ts(2000))
    work = WorkFactory(id="23427-1", begin=ts(1000))
    film = CatalogueItemFactory(id="301", begin=ts(500))

    assert shown_begin("23427-1") == 2000
    assert shown_begin("301") == 500
    concert.delete()
    assert shown_begin(work.pk) == 1000
    assert shown_begin(film.pk) == 500


def test_unix_seconds_refuses_a_database_it_has_no_sql_for() -> None:
    expression = UnixSeconds(F("published"))
    oracle: Any = SimpleNamespace(vendor="oracle")

    with pytest.raises(NotSupportedError, match=r"^UnixSeconds is not implemented for oracle\.$"):
        expression.as_sql(compiler=None, connection=oracle)


def test_catalogue_writes_by_queryset_move_the_catalogue_clock(db: Any) -> None:
    from dch_favourites.models import CatalogueItemTranslation, CatalogueState

    def clock() -> int:
        return CatalogueState.objects.values_list("version", flat=True).first() or 0

    film = CatalogueItemFactory(id="301")
    start = clock()
    CatalogueItem.objects.bulk_create(
        [
            CatalogueItem(
                id="302", type="film", title="New", published=film.published, updated=film.updated
            )
        ]
    )
    assert clock() == start  # a new film is on no list yet
    CatalogueItem.objects.bulk_create(
        [
            CatalogueItem(
                id="777", type="concert", title="C", published=film.published, updated=film.updated
            )
        ]
    )
    assert clock() == start + 1  # a concert gives its parts their begin
    film.title = "Renamed"
    CatalogueItem.objects.bulk_update([film], ["title"])
    assert clock() == start + 2
    translation = CatalogueItemTranslation.objects.create(item=film, language="de", title="Film")
    assert clock() == start + 3
    translation.title = "Der Film"
    CatalogueItemTranslation.objects.bulk_update([translation], ["title"])
    CatalogueItemTranslation.objects.filter(pk=translation.pk).update(title="Neu")
    assert clock() == start + 5
    assert CatalogueItem.objects.filter(pk="nothing").update(title="x") == 0
    assert clock() == start + 5
    other = CatalogueItemFactory(id="303")
    start = clock()
    film.title, other.title = "Once", "More"
    assert CatalogueItem.objects.bulk_update([film, other], ["title"], batch_size=1) == 2
    assert clock() == start + 1  # one move for all the batches
