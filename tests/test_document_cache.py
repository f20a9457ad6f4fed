"""The document cache is never stale: after every door a GET shows the change.

Each test warms the cache with a GET, changes the list or the catalogue through one door,
then asks again with the old ETag (must not be 304) and plainly (must show the change).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from dch_favourites.api.cache import add_states, state_key
from dch_favourites.catalogue_import import import_catalogue
from dch_favourites.documents import document_state
from dch_favourites.models import CatalogueItem, CatalogueItemTranslation, Favourite
from dch_favourites.services import add_favourites
from factories import (
    CatalogueItemFactory,
    ConcertFactory,
    TranslationFactory,
    WorkFactory,
    ts,
)

# Transactional: the cache is filled after commit (at once in autocommit), which a test
# wrapped in a transaction never reaches. Each test runs on the per-process cache and on
# Redis (conftest.cache_backend).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]


def body(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def entries(response: Any) -> list[dict[str, Any]]:
    return body(response)["_links"]["favourites"]


def renewed(api: Any, change: Callable[[], Any], **headers: str) -> tuple[dict, dict]:
    """(document before, document after) ``change``, asserting the cache did not hide it."""
    api.get(**headers)  # fills the cache
    first = api.get(**headers)
    before = body(first)
    change()
    conditional = api.get(HTTP_IF_NONE_MATCH=first["ETag"], **headers)
    assert conditional.status_code == 200
    assert conditional["ETag"] != first["ETag"]
    since = api.get(HTTP_IF_MODIFIED_SINCE=first["Last-Modified"], **headers)
    assert since.status_code == 200
    after = body(api.get(**headers))
    assert after == body(conditional) == body(since)
    assert after["updated"] > before["updated"]
    return before, after


@pytest.fixture
def films(db: Any) -> list[CatalogueItem]:
    return [CatalogueItemFactory(id=str(301 + n)) for n in range(4)]


def ids_of(document: dict[str, Any]) -> list[str]:
    return [entry["id"] for entry in document["_links"]["favourites"]]


def test_api_add_and_delete(api: Any, films: Any) -> None:
    _before, after = renewed(api, lambda: api.form(action="add", id="301"))
    assert ids_of(after) == ["301"]
    _before, after = renewed(api, lambda: api.form(action="remove", id="301"))
    assert ids_of(after) == []


def test_python_add_and_remove(api: Any, films: Any) -> None:
    _b, after = renewed(api, lambda: add_favourites(api.user, ["302", "303"]))
    assert ids_of(after) == ["303", "302"]
    _b, after = renewed(api, lambda: Favourite.objects.filter(item_id="302").delete())
    assert ids_of(after) == ["303"]


def test_admin_add(api: Any, films: Any, admin_client: Client) -> None:
    def add() -> None:
        response = admin_client.post(
            "/admin/dch_favourites/favourite/add/", {"user": api.user.pk, "item": "301"}
        )
        assert response.status_code == 302, response.content

    _b, after = renewed(api, add)
    assert ids_of(after) == ["301"]


def test_admin_delete_and_bulk_delete(api: Any, films: Any, admin_client: Client) -> None:
    add_favourites(api.user, ["301", "302", "303"])
    favourite = Favourite.objects.get(user=api.user, item_id="301")

    def delete_one() -> None:
        url = f"/admin/dch_favourites/favourite/{favourite.pk}/delete/"
        assert admin_client.post(url, {"post": "yes"}).status_code == 302

    _b, after = renewed(api, delete_one)
    assert ids_of(after) == ["303", "302"]
    selected = [str(pk) for pk in Favourite.objects.values_list("pk", flat=True)]

    def bulk() -> None:
        response = admin_client.post(
            "/admin/dch_favourites/favourite/",
            {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
        )
        assert response.status_code == 302

    _b, after = renewed(api, bulk)
    assert ids_of(after) == []


def test_import_of_a_changed_item(api: Any, spec_items: Any) -> None:
    add_favourites(api.user, ["301"])
    changed = [{**record, "title": "Renamed by import"} for record in spec_items]
    for record in changed:
        record.pop("updated", None)

    _b, after = renewed(api, lambda: import_catalogue(changed))
    assert after["_links"]["favourites"][0]["title"] == "Renamed by import"


def test_item_edit_and_queryset_update(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])

    def edit() -> None:
        item = CatalogueItem.objects.get(pk="301")
        item.title = "Renamed"
        item.save()

    _b, after = renewed(api, edit)
    assert after["_links"]["favourites"][0]["title"] == "Renamed"
    _b, after = renewed(
        api, lambda: CatalogueItem.objects.filter(pk="301").update(title="Updated in bulk")
    )
    assert after["_links"]["favourites"][0]["title"] == "Updated in bulk"


def test_item_edit_in_the_admin(api: Any, films: Any, admin_client: Client) -> None:
    add_favourites(api.user, ["301"])
    item = CatalogueItem.objects.get(pk="301")

    def edit() -> None:
        response = admin_client.post(
            "/admin/dch_favourites/catalogueitem/301/change/",
            {
                "id": "301",
                "type": "film",
                "title": "Edited by staff",
                "short_title": "",
                "published_0": item.published.date().isoformat(),
                "published_1": "00:00:00",
                "begin_0": "",
                "begin_1": "",
                "overview_image": "",
                "detail_image": "",
                "translations-TOTAL_FORMS": "0",
                "translations-INITIAL_FORMS": "0",
                "translations-MIN_NUM_FORMS": "0",
                "translations-MAX_NUM_FORMS": "1000",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]

    _b, after = renewed(api, edit)
    assert after["_links"]["favourites"][0]["title"] == "Edited by staff"


def test_item_delete(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301", "302"])
    _b, after = renewed(api, lambda: CatalogueItem.objects.get(pk="302").delete())
    assert ids_of(after) == ["301"]
    _b, after = renewed(api, lambda: CatalogueItem.objects.filter(pk="301").delete())
    assert ids_of(after) == []


def test_translation_edit_and_delete(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    german = {"HTTP_ACCEPT_LANGUAGE": "de"}
    _b, after = renewed(
        api, lambda: TranslationFactory(item_id="301", language="de", title="Film"), **german
    )
    assert after["_links"]["favourites"][0]["title"] == "Film"

    def edit() -> None:
        translation = CatalogueItemTranslation.objects.get(item_id="301")
        translation.title = "Der Film"
        translation.save()

    _b, after = renewed(api, edit, **german)
    assert after["_links"]["favourites"][0]["title"] == "Der Film"
    _b, after = renewed(
        api,
        lambda: CatalogueItemTranslation.objects.filter(item_id="301").update(title="Neu"),
        **german,
    )
    assert after["_links"]["favourites"][0]["title"] == "Neu"
    _b, after = renewed(
        api, lambda: CatalogueItemTranslation.objects.filter(item_id="301").delete(), **german
    )
    assert after["_links"]["favourites"][0]["title"] == CatalogueItem.objects.get(pk="301").title


def test_concert_begin_change(api: Any) -> None:
    concert = ConcertFactory(id="23427", begin=ts(1472229000))
    WorkFactory(id="23427-1")
    add_favourites(api.user, ["23427-1"])

    def move() -> None:
        concert.begin = concert.begin + timedelta(hours=1)
        concert.save()

    _b, after = renewed(api, move)
    assert after["_links"]["favourites"][0]["date"]["begin"] == 1472229000 + 3600


def test_a_concert_arriving_after_its_parts(api: Any) -> None:
    WorkFactory(id="777-1", begin=ts(1000))
    add_favourites(api.user, ["777-1"])
    _b, after = renewed(api, lambda: ConcertFactory(id="777", begin=ts(5000)))
    assert after["_links"]["favourites"][0]["date"]["begin"] == 5000


def test_many_to_many_doors(api: Any, films: Any) -> None:
    item = CatalogueItem.objects.get(pk="301")
    _b, after = renewed(api, lambda: item.listeners.add(api.user))
    assert ids_of(after) == ["301"]
    _b, after = renewed(api, lambda: api.user.favourite_items.add("302"))
    assert ids_of(after) == ["302", "301"]
    _b, after = renewed(api, lambda: item.listeners.remove(api.user))
    assert ids_of(after) == ["302"]
    _b, after = renewed(api, lambda: api.user.favourite_items.set(["303", "304"]))
    assert sorted(ids_of(after)) == ["303", "304"]
    _b, after = renewed(api, lambda: api.user.favourite_items.clear())
    assert ids_of(after) == []


def test_deleting_the_listener_ends_their_document(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    etag = api.get()["ETag"]
    api.user.delete()

    response = api.get(HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 401
    assert json.loads(response.content) == {"message": "A Token was not found in the TokenStorage."}


def test_a_catalogue_edit_of_an_item_not_listed_renews_but_keeps_the_body(
    api: Any, films: Any
) -> None:
    add_favourites(api.user, ["301"])
    first = api.get()
    CatalogueItem.objects.filter(pk="304").update(title="Elsewhere")

    again = api.get(HTTP_IF_NONE_MATCH=first["ETag"])

    # The catalogue's clock moved: the document is renewed (a coarse but O(1) design).
    assert again.status_code == 200
    assert body(again)["_links"] == body(first)["_links"]
    assert body(again)["updated"] > body(first)["updated"]


class BrokenCache:
    """A cache whose every call fails, as a Redis that is down."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("cache down")

        return fail


def test_a_cache_that_is_down_degrades_to_the_database(
    api: Any, films: Any, settings: Any, caplog: Any
) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "broken": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        },
    }
    settings.DCH_FAVOURITES = {
        **settings.DCH_FAVOURITES,
        "DOCUMENT_CACHE": "broken",
        "THROTTLE_CACHE": "broken",
        "WRITE_THROTTLE_RATE": "5/min",
    }
    add_favourites(api.user, ["301"])

    assert ids_of(body(api.get())) == ["301"]
    added = api.form(action="add", id="302")
    assert ids_of(body(added)) == ["302", "301"]
    assert ids_of(body(api.get())) == ["302", "301"]
    assert "unavailable" in caplog.text
    cache.clear()


@pytest.fixture
def failing_cache(settings: Any) -> Any:
    """The document cache and the throttle's cache down, counting its calls; no throttle."""
    from cache_backends import FailingCache

    FailingCache.calls, FailingCache.failing = 0, True
    settings.CACHES = {**settings.CACHES, "broken": {"BACKEND": "cache_backends.FailingCache"}}
    settings.DCH_FAVOURITES = {
        **settings.DCH_FAVOURITES,
        "DOCUMENT_CACHE": "broken",
        "THROTTLE_CACHE": "broken",
        "WRITE_THROTTLE_RATE": None,
    }
    return FailingCache


def test_a_failed_cache_is_asked_again_and_used_once_it_is_back(
    api: Any, films: Any, failing_cache: Any, caplog: Any
) -> None:
    add_favourites(api.user, ["301"])
    with caplog.at_level("WARNING", logger="dch_favourites"):
        for _ in range(3):  # asked on every request, answered from the database
            before = failing_cache.calls
            assert ids_of(body(api.get())) == ["301"]
            assert failing_cache.calls > before
    assert "Cache 'broken' unavailable (cache down)" in caplog.text
    failing_cache.failing = False
    first = api.get()  # a miss, kept in the cache that is back
    before = failing_cache.calls
    assert api.get().content == first.content
    assert failing_cache.calls == before + 1  # one lookup, a hit: nothing stored


def test_the_throttle_lets_writes_through_while_its_cache_is_down(
    api: Any, films: Any, failing_cache: Any, settings: Any, caplog: Any
) -> None:
    """Each write asks the cache (no retry delay of the document cache) and logs its failure."""
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "WRITE_THROTTLE_RATE": "1/min"}
    with caplog.at_level("WARNING", logger="dch_favourites"):
        for _ in range(3):
            assert api.form(action="add", id="301").status_code == 200
    throttle = "dch_favourites.api.throttling"
    assert [r.getMessage() for r in caplog.records if r.name == throttle] == [
        "Cache 'broken' unavailable (ConnectionError); the write throttle lets the request through."
    ] * 3
    failing_cache.failing = False
    assert api.form(action="add", id="302").status_code == 200
    assert api.form(action="add", id="303").status_code == 429  # counting again


def test_a_change_rolled_back_after_its_state_was_kept_serves_the_committed_list(
    api: Any, films: Any
) -> None:
    """The state a rolled-back change kept names no document: the database answers."""
    add_favourites(api.user, ["301"])
    first = api.get()

    def change_then_fail() -> None:
        with transaction.atomic():
            add_favourites(api.user, ["302"])
            raise RuntimeError("rolled back after the change")

    with pytest.raises(RuntimeError):
        change_then_fail()

    again = api.get(HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200  # never a 304 on a state that did not commit
    assert (again.content, again["ETag"]) == (first.content, first["ETag"])
    assert ids_of(body(api.form(action="add", id="303"))) == ["303", "301"]
    assert ids_of(body(api.get())) == ["303", "301"]


def test_a_state_read_before_a_change_never_replaces_the_changes_own(api: Any, films: Any) -> None:
    """A slow reader keeps the state it read only where no writer kept one since."""
    add_favourites(api.user, ["301"])
    etag_before = api.get()["ETag"]
    old = document_state(api.user.pk, "default")
    add_favourites(api.user, ["302"])

    add_states({state_key(api.user.pk): old.list_values})

    assert ids_of(body(api.get(HTTP_IF_NONE_MATCH=etag_before))) == ["302", "301"]


def test_a_state_the_cache_refuses_to_keep_is_forgotten(
    api: Any, films: Any, settings: Any
) -> None:
    """A refused ``set_many`` (memcached's answer for a value it cannot take) leaves no
    older state behind for the next GET."""
    settings.CACHES = {
        **settings.CACHES,
        "refusing": {"BACKEND": "cache_backends.RefusingCache", "LOCATION": "refusing"},
    }
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "DOCUMENT_CACHE": "refusing"}
    add_favourites(api.user, ["301"])
    first = api.get()  # keeps the state read from the database (add)
    add_favourites(api.user, ["302"])

    again = api.get(HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert ids_of(body(again)) == ["302", "301"]
