"""A fixed number of queries per request, whatever the length of the list or of the POST.

Inside a test every ``atomic`` block is a savepoint, so the counts below include the
``SAVEPOINT``/``RELEASE SAVEPOINT`` pair of the service's transaction.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from dch_favourites.api.serializers import entry_plan
from dch_favourites.documents import document_rows, document_state
from dch_favourites.models import CatalogueItem, Favourite, FavouriteListState
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, TranslationFactory, WorkFactory

pytestmark = pytest.mark.django_db


#: The token with its user and application (django-oauth-toolkit's validator); the list's
#: and the catalogue's states and the body come from the document cache, in one round trip.
HIT_QUERIES = 1
#: The token, then the state and the rows in one statement (the states were cached).
MISS_QUERIES = 2
#: Nothing cached: the token, the states, then the state and the rows in one statement.
COLD_QUERIES = 3
#: The token (the states are cached).
NOT_MODIFIED_QUERIES = 1
#: Token; savepoint; lock the items; lock the state (with the catalogue's clock); which are
#: present; how many; insert; bump the state; the document; release.
ADD_QUERIES = 10
#: Token; savepoint; lock the state (with the catalogue's clock); which are present;
#: delete; bump; the document; release.
DELETE_QUERIES = 8


def catalogue(count: int) -> list[str]:
    """``count`` films, inserted in one statement; their ids."""
    now = timezone.now()
    items = CatalogueItemFactory.build_batch(count, updated=now)
    CatalogueItem.objects.bulk_create(items)
    return [item.id for item in items]


def listener_with(api: Any, count: int) -> list[str]:
    """Give the API's listener ``count`` favourites; returns the ids of all items made."""
    ids = catalogue(count + 50)
    if count:
        add_favourites(api.user, ids[:count])
    return ids


@pytest.mark.usefixtures("cache_backend")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [1, 10, 100])
def test_get_costs_the_same_queries_at_any_length(
    api: Any, size: int, django_assert_num_queries: Any
) -> None:
    listener_with(api, size)  # keeps the list's state in the cache

    with django_assert_num_queries(MISS_QUERIES):
        miss = api.get()
    with django_assert_num_queries(HIT_QUERIES):
        hit = api.get()
    cache.clear()
    with django_assert_num_queries(COLD_QUERIES):
        cold = api.get()

    assert miss.status_code == hit.status_code == cold.status_code == 200
    assert len(json.loads(miss.content)["_links"]["favourites"]) == size
    assert hit.content == miss.content == cold.content
    assert hit["ETag"] == miss["ETag"] == cold["ETag"]
    assert hit["Content-Type"] == miss["Content-Type"] == "application/hal+json; charset=utf-8"


@pytest.mark.usefixtures("cache_backend")
@pytest.mark.django_db(transaction=True)
def test_a_post_fills_the_cache_for_the_next_get(api: Any, django_assert_num_queries: Any) -> None:
    ids = listener_with(api, 3)
    posted = api.form(action="add", id=ids[3])

    with django_assert_num_queries(HIT_QUERIES):
        response = api.get()

    assert response.status_code == 200
    assert response.content == posted.content
    assert response["ETag"] == posted["ETag"]


def test_with_the_document_cache_off_every_get_reads_the_list(
    api: Any, django_assert_num_queries: Any, settings: Any
) -> None:
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "DOCUMENT_CACHE": None}
    listener_with(api, 5)

    for _round in range(2):
        with django_assert_num_queries(COLD_QUERIES):
            response = api.get()
        assert len(json.loads(response.content)["_links"]["favourites"]) == 5


@pytest.mark.usefixtures("cache_backend")
@pytest.mark.django_db(transaction=True)
def test_each_media_type_and_language_is_a_document_of_its_own(
    api: Any, django_assert_num_queries: Any
) -> None:
    work = WorkFactory(id="900-1", title="Symphony")
    TranslationFactory(item=work, language="de", title="Sinfonie")
    add_favourites(api.user, [work.id])
    seen = {}
    for accept in ("application/hal+json", "application/json", "text/json"):
        for language in ("en", "de"):
            with django_assert_num_queries(MISS_QUERIES):
                response = api.get(HTTP_ACCEPT=accept, HTTP_ACCEPT_LANGUAGE=language)
            assert response["Content-Type"] == f"{accept}; charset=utf-8"
            seen[(accept, language)] = (response["ETag"], response.content)
            with django_assert_num_queries(HIT_QUERIES):
                again = api.get(HTTP_ACCEPT=accept, HTTP_ACCEPT_LANGUAGE=language)
            assert (again["ETag"], again.content) == seen[(accept, language)]
    assert len({etag for etag, _body in seen.values()}) == 6
    assert {json.loads(body)["_links"]["favourites"][0]["title"] for _e, body in seen.values()} == {
        "Symphony",
        "Sinfonie",
    }


@pytest.mark.django_db(transaction=True)
def test_get_of_a_listener_who_never_had_favourites(
    api: Any, django_assert_num_queries: Any
) -> None:
    # No list: nothing is created; the token, the state and the (empty) rows, then cached.
    with django_assert_num_queries(COLD_QUERIES):
        response = api.get()
    with django_assert_num_queries(HIT_QUERIES):
        again = api.get()

    assert response.status_code == 200
    assert response.content == again.content == b'{"updated":0,"_links":{"favourites":[]}}'
    assert not FavouriteListState.objects.exists()


def test_get_in_another_language_joins_the_translation_in_the_same_query(
    api: Any, django_assert_num_queries: Any
) -> None:
    concert = CatalogueItemFactory(id="900", type="concert", title="Concert")
    work = WorkFactory(id="900-1", title="Symphony")
    TranslationFactory(item=work, language="de", title="Sinfonie")
    add_favourites(api.user, [concert.id, work.id])

    with django_assert_num_queries(MISS_QUERIES):
        response = api.get(HTTP_ACCEPT_LANGUAGE="de")

    titles = [entry["title"] for entry in json.loads(response.content)["_links"]["favourites"]]
    assert titles == ["Sinfonie", "Concert"]


@pytest.mark.parametrize("size", [0, 1, 100])
def test_not_modified_costs_one_query(api: Any, size: int, django_assert_num_queries: Any) -> None:
    listener_with(api, size)
    etag = api.get()["ETag"]

    with django_assert_num_queries(NOT_MODIFIED_QUERIES):
        response = api.get(HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""


@pytest.mark.parametrize(("existing", "adding"), [(10, 1), (10, 50), (500, 1), (500, 50)])
def test_add_costs_the_same_queries_for_any_list_and_any_number_of_ids(
    api: Any, existing: int, adding: int, django_assert_num_queries: Any
) -> None:
    ids = listener_with(api, existing)
    new_ids = ids[existing : existing + adding]

    with django_assert_num_queries(ADD_QUERIES):
        response = api.form(action="add", id=new_ids)

    assert response.status_code == 200
    assert len(json.loads(response.content)["_links"]["favourites"]) == existing + adding
    assert Favourite.objects.filter(user=api.user).count() == existing + adding


@pytest.mark.parametrize(("existing", "removing"), [(10, 1), (60, 50), (500, 1), (500, 50)])
def test_delete_costs_the_same_queries_for_any_list_and_any_number_of_ids(
    api: Any, existing: int, removing: int, django_assert_num_queries: Any
) -> None:
    ids = listener_with(api, existing)

    with django_assert_num_queries(DELETE_QUERIES):
        response = api.form(action="delete", id=ids[:removing])

    assert response.status_code == 200
    assert len(json.loads(response.content)["_links"]["favourites"]) == existing - removing
    assert Favourite.objects.filter(user=api.user).count() == existing - removing


def test_an_add_that_changes_nothing_skips_the_writes(
    api: Any, django_assert_num_queries: Any
) -> None:
    ids = listener_with(api, 10)
    version = FavouriteListState.objects.get(user=api.user).version

    # Token; savepoint; lock items; lock state; which are present; the document; release.
    with django_assert_num_queries(ADD_QUERIES - 3):
        response = api.form(action="add", id=ids[:5])

    assert response.status_code == 200
    assert FavouriteListState.objects.get(user=api.user).version == version


def rows_of(user_pk: Any, language: str | None) -> Any:
    return document_rows(user_pk, language, entry_plan().columns, "default")


def test_the_document_rows_answer_each_listener_and_language(make_api: Any) -> None:
    first, second, empty = make_api(), make_api(), make_api()
    ids = catalogue(5)
    TranslationFactory(item=CatalogueItem.objects.get(pk=ids[0]), language="de", title="Titel")
    concert = CatalogueItemFactory(id="900", type="concert", title="Concert")
    work = WorkFactory(id="900-1", title="Symphony", short_title="Sym")
    TranslationFactory(item=work, language="de", title="Sinfonie", short_title=None)
    add_favourites(first.user, ids[:3])
    add_favourites(second.user, [*ids[2:], concert.id, work.id])
    add_favourites(empty.user, ids[:1])
    Favourite.objects.filter(user=empty.user).delete()

    for listener in (first.user, second.user):
        for language in ("en", "de", None):
            state, rows = rows_of(listener.pk, language)
            assert state == document_state(listener.pk, "default")
            assert [row[0] for row in rows] == list(
                Favourite.objects.filter(user=listener).values_list("item_id", flat=True)
            )
    columns = entry_plan().columns
    title, short_title = columns.index("title"), columns.index("short_title")
    german = rows_of(first.user.pk, "de")[1]
    assert [row[0] for row in german] == ids[2::-1]
    assert german[-1][title] == "Titel"
    assert rows_of(first.user.pk, "en")[1][-1][title] != "Titel"
    by_id = {row[0]: row for row in rows_of(second.user.pk, "de")[1]}
    assert (by_id["900-1"][title], by_id["900-1"][short_title]) == ("Sinfonie", "Sym")
    assert by_id["900"][title] == "Concert"
    state, rows = rows_of(empty.user.pk, "de")
    assert rows == []
    assert state.list_version == 2


@pytest.mark.django_db(transaction=True)
def test_a_change_between_the_token_and_the_rows_is_read_with_its_own_state(
    api: Any, monkeypatch: Any
) -> None:
    """The list moves on after the state's query: the body and its ETag are the new ones."""
    from dch_favourites.api import views

    ids = listener_with(api, 3)
    real = views.document_rows

    def change_first(*args: Any) -> Any:
        monkeypatch.setattr(views, "document_rows", real)
        from dch_favourites.services import remove_favourites

        remove_favourites(api.user, ids[:1])
        return real(*args)

    monkeypatch.setattr(views, "document_rows", change_first)
    cache.clear()
    response = api.get()

    cache.clear()
    fresh = api.get()
    assert response.status_code == fresh.status_code == 200
    assert response.content == fresh.content
    assert response["ETag"] == fresh["ETag"]
    assert [entry["id"] for entry in json.loads(response.content)["_links"]["favourites"]] == (
        ids[2:0:-1]
    )
