"""A fixed number of queries per request, whatever the length of the list or of the POST.

Inside a test every ``atomic`` block is a savepoint, so the counts below include the
``SAVEPOINT``/``RELEASE SAVEPOINT`` pairs of the view's transaction and the service's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone

from dch_favourites.models import CatalogueItem, Favourite, FavouriteListState
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, TranslationFactory, WorkFactory

pytestmark = pytest.mark.django_db

#: Token (with the user and the list state joined) and the list.
GET_QUERIES = 2
#: The token alone: the state came with it.
NOT_MODIFIED_QUERIES = 1
#: Token; two savepoints; lock the items; lock the state; which are present; how many;
#: insert; bump the state; release; the list; release.
ADD_QUERIES = 12
#: Token; two savepoints; lock the state; which are present; delete; bump; release; the
#: list; release.
DELETE_QUERIES = 10


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


@pytest.mark.parametrize("size", [1, 10, 100])
def test_get_costs_the_same_queries_at_any_length(
    api: Any, size: int, django_assert_num_queries: Any
) -> None:
    listener_with(api, size)

    with django_assert_num_queries(GET_QUERIES):
        response = api.get()

    assert response.status_code == 200
    assert len(json.loads(response.content)["_links"]["favourites"]) == size
    assert GET_QUERIES <= 3


def test_get_of_a_listener_who_never_had_favourites(
    api: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(GET_QUERIES):
        response = api.get()

    assert response.status_code == 200
    assert response.content == b'{"updated":0,"_links":{"favourites":[]}}'
    assert not FavouriteListState.objects.exists()


def test_get_in_another_language_joins_the_translation_in_the_same_query(
    api: Any, django_assert_num_queries: Any
) -> None:
    concert = CatalogueItemFactory(id="900", type="concert", title="Concert")
    work = WorkFactory(id="900-1", title="Symphony")
    TranslationFactory(item=work, language="de", title="Sinfonie")
    add_favourites(api.user, [concert.id, work.id])

    with django_assert_num_queries(GET_QUERIES):
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
    assert NOT_MODIFIED_QUERIES <= 2


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

    # Token; savepoints; lock items; lock state; which are present; release; list; release.
    with django_assert_num_queries(ADD_QUERIES - 3):
        response = api.form(action="add", id=ids[:5])

    assert response.status_code == 200
    assert FavouriteListState.objects.get(user=api.user).version == version


def test_the_compiled_list_query_answers_each_listener_and_language(make_api: Any) -> None:
    first, second = make_api(), make_api()
    ids = catalogue(5)
    TranslationFactory(item=CatalogueItem.objects.get(pk=ids[0]), language="de", title="Titel")
    add_favourites(first.user, ids[:3])
    add_favourites(second.user, ids[2:])

    for _round in range(2):  # the first round compiles, the second reuses the SQL
        for listener in (first.user, second.user):
            for language in ("en", "de"):
                compiled = Favourite.objects.entry_rows(listener.pk, language)
                # The queryset's own method goes through the ORM every time.
                assert compiled == Favourite.objects.all().entry_rows(listener.pk, language)
    german = Favourite.objects.entry_rows(first.user.pk, "de")
    assert [row[0] for row in german] == ids[2::-1]
    assert german[-1][2] == "Titel"
    assert Favourite.objects.entry_rows(first.user.pk, "en")[-1][2] != "Titel"


def test_the_token_query_defers_the_fields_the_api_does_not_read(
    api: Any, django_assert_num_queries: Any
) -> None:
    from dch_favourites.api.authentication import find_access_token

    with django_assert_num_queries(1):
        token = find_access_token(api.token.token_checksum)
        assert (token.pk, token.scope, token.user.pk, token.user.is_active) == (
            api.token.pk,
            "read write",
            api.user.pk,
            True,
        )
    # Deferred fields load on first access, as with .only().
    with django_assert_num_queries(1):
        assert token.user.username == "listener"
    assert find_access_token("0" * 64) is None
