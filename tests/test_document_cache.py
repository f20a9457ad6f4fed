"""The document cache is never stale: after every door a GET shows the change.

Each test warms the cache with a GET, changes the list or the catalogue through one door,
then asks again with the old ETag (must not be 304) and plainly (must show the change).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from dch_favourites.catalogue_import import import_catalogue
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
    """The document cache and the throttle in a cache that is down, counting its calls."""
    from cache_backends import FailingCache

    FailingCache.calls, FailingCache.failing = 0, True
    settings.CACHES = {**settings.CACHES, "broken": {"BACKEND": "cache_backends.FailingCache"}}
    settings.DCH_FAVOURITES = {
        **settings.DCH_FAVOURITES,
        "DOCUMENT_CACHE": "broken",
        "DOCUMENT_NEAR_CACHE": None,  # a near copy would answer before the broken cache
        "THROTTLE_CACHE": "broken",
        "WRITE_THROTTLE_RATE": "100/min",
    }
    return FailingCache


def test_a_cache_that_failed_is_left_alone_for_a_while(
    api: Any, films: Any, failing_cache: Any, caplog: Any
) -> None:
    """One failed operation per retry delay, not one per request; the outage logged once."""
    add_favourites(api.user, ["301"])
    with caplog.at_level("WARNING", logger="dch_favourites"):
        assert ids_of(body(api.get())) == ["301"]
        tried = failing_cache.calls
        assert tried == 1  # the lookup failed: the store is not even tried
        for _ in range(3):
            assert ids_of(body(api.get())) == ["301"]
            assert ids_of(body(api.form(action="add", id="302"))) == ["302", "301"]
            assert ids_of(body(api.form(action="delete", id="302"))) == ["301"]
        assert failing_cache.calls == tried  # neither the documents nor the throttle asked
    outages = [record for record in caplog.records if "unavailable" in record.getMessage()]
    assert len(outages) == 1
    assert "'broken'" in outages[0].getMessage()


def test_a_cache_is_tried_again_after_the_delay_and_its_recovery_logged(
    api: Any, films: Any, failing_cache: Any, settings: Any, caplog: Any
) -> None:
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "CACHE_RETRY_AFTER": 0}
    add_favourites(api.user, ["301"])
    for _ in range(3):  # no delay: asked on every request, answered from the database
        before = failing_cache.calls
        assert ids_of(body(api.get())) == ["301"]
        assert failing_cache.calls > before
    failing_cache.failing = False
    with caplog.at_level("INFO", logger="dch_favourites"):
        first = api.get()  # a miss, kept in the cache that is back
        before = failing_cache.calls
        assert api.get().content == first.content
        assert failing_cache.calls == before + 1  # one lookup, a hit: nothing stored
    assert "Cache 'broken' available again." in caplog.text


def test_the_throttle_lets_writes_through_while_its_cache_is_down(
    api: Any, films: Any, failing_cache: Any, settings: Any
) -> None:
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "WRITE_THROTTLE_RATE": "1/min"}
    for _ in range(3):
        assert api.form(action="add", id="301").status_code == 200
    failing_cache.failing = False
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "CACHE_RETRY_AFTER": 0}
    assert api.form(action="add", id="302").status_code == 200
    assert api.form(action="add", id="303").status_code == 429  # counting again


def test_the_near_cache_answers_before_the_shared_one_and_is_filled_from_it(
    api: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    """DOCUMENT_NEAR_CACHE: a worker's own copy, never stale, since a key names one body."""
    from django.core.cache import caches

    settings.CACHES = {
        **settings.CACHES,
        "near-test": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "near-test",
        },
    }
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "DOCUMENT_NEAR_CACHE": "near-test"}
    near, shared = caches["near-test"], cache
    near.clear()
    add_favourites(api.user, [CatalogueItemFactory(id="301", type="film").id])

    first = api.get()  # a miss: kept in both
    with django_assert_num_queries(1):  # the token's query alone
        assert api.get().content == first.content
    shared.clear()
    with django_assert_num_queries(1):  # from the near copy
        assert api.get().content == first.content
    near.clear()
    api.get()  # a miss again: kept in both
    near.clear()
    with django_assert_num_queries(1):  # from the shared cache, and copied near
        assert api.get().content == first.content
    shared.clear()
    with django_assert_num_queries(1):
        assert api.get().content == first.content

    add_favourites(api.user, [CatalogueItemFactory(id="302", type="film").id])
    assert ids_of(body(api.get())) == ["302", "301"]
    near.clear()


def stored(response: Any, alias: str = "default") -> Any:
    """What the cache ``alias`` holds for the document ``response`` sent (by its ETag)."""
    from django.core.cache import caches

    from dch_favourites.api.cache import document_key

    return caches[alias].get(document_key(response.wsgi_request.user.pk, response["ETag"]))


def compress_shared_copies(settings: Any, compression: str) -> None:
    """Documents in the default cache alone (no near copy), compressed with ``compression``."""
    settings.DCH_FAVOURITES = {
        **settings.DCH_FAVOURITES,
        "DOCUMENT_NEAR_CACHE": None,
        "DOCUMENT_CACHE_COMPRESSION": compression,
    }


@pytest.mark.parametrize("compression", ["lz4", "zlib"])
def test_the_shared_copy_is_compressed_and_served_as_rendered(
    api: Any, films: Any, settings: Any, compression: str, django_assert_num_queries: Any
) -> None:
    """DOCUMENT_CACHE_COMPRESSION: the shared cache keeps the document compressed, under a
    key that names the codec; the near copy as it is; the answer is the same bytes."""
    from dch_favourites.api.cache import codec, document_key

    compress_shared_copies(settings, compression)
    add_favourites(api.user, ["301", "302"])
    first = api.get()  # a miss: rendered, stored compressed
    key = document_key(api.user.pk, first["ETag"])
    assert key.startswith(f"dch_favourites:document:{compression}:{api.user.pk}:")
    value = stored(first)
    assert isinstance(value, bytes)
    assert value != first.content
    assert len(value) < len(first.content)
    assert codec(compression).decompress(value) == first.content
    with django_assert_num_queries(1):  # a hit: the token's query alone
        hit = api.get()
    assert (hit.content, hit["ETag"], hit["Content-Type"]) == (
        first.content,
        first["ETag"],
        first["Content-Type"],
    )
    # A POST's answer is stored the same way and is what the next GET sends.
    added = api.form(action="add", id="303")
    with django_assert_num_queries(1):
        assert api.get().content == added.content
    # Switched off: a key without a codec, so the compressed copies are never sent as is.
    settings.DCH_FAVOURITES = {**settings.DCH_FAVOURITES, "DOCUMENT_CACHE_COMPRESSION": None}
    assert stored(added) is None  # not under the plain key
    plain = api.get()
    assert plain.content == added.content
    assert stored(plain) == added.content
    assert api.get().content == added.content


def test_the_near_copy_is_kept_as_rendered(api: Any, films: Any, settings: Any) -> None:
    from django.core.cache import caches

    settings.CACHES = {
        **settings.CACHES,
        "near-test": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "near-compression-test",
        },
    }
    settings.DCH_FAVOURITES = {
        **settings.DCH_FAVOURITES,
        "DOCUMENT_NEAR_CACHE": "near-test",
        "DOCUMENT_CACHE_COMPRESSION": "lz4",
    }
    caches["near-test"].clear()
    add_favourites(api.user, ["301"])
    first = api.get()
    assert stored(first, "near-test") == first.content != stored(first)
    caches["near-test"].clear()
    assert api.get().content == first.content  # from the shared copy, decompressed
    assert stored(first, "near-test") == first.content
    caches["near-test"].clear()


def test_an_unreadable_shared_copy_is_a_miss_and_is_replaced(
    api: Any, films: Any, settings: Any, caplog: Any
) -> None:
    from dch_favourites.api.cache import codec, document_key

    compress_shared_copies(settings, "lz4")
    add_favourites(api.user, ["301"])
    first = api.get()
    key = document_key(api.user.pk, first["ETag"])
    for garbage in (b"", b"\xff\xff\xff\x7fnot lz4", first.content):
        cache.set(key, garbage)
        with caplog.at_level("WARNING", logger="dch_favourites"):
            again = api.get()
        assert (again.status_code, again.content) == (200, first.content)
        assert "unreadable document" in caplog.text
        caplog.clear()
        # Read again from the database, and stored again as the codec wrote it.
        assert stored(first) != garbage
        assert codec("lz4").decompress(stored(first)) == first.content


def test_a_codec_that_cannot_be_loaded_degrades_to_the_database(
    api: Any, films: Any, settings: Any, monkeypatch: Any, caplog: Any
) -> None:
    """lz4 missing where the system check did not run (gunicorn runs none): still 200s,
    the documents kept out of the shared cache, and the cache not taken for down."""
    from dch_favourites.api.cache import codec

    compress_shared_copies(settings, "lz4")
    add_favourites(api.user, ["301"])
    codec.cache_clear()
    monkeypatch.setitem(sys.modules, "lz4.block", None)
    try:
        with caplog.at_level("WARNING", logger="dch_favourites"):
            assert ids_of(body(api.get())) == ["301"]
            assert ids_of(body(api.form(action="add", id="302"))) == ["302", "301"]
            answered = api.get()
            assert ids_of(body(answered)) == ["302", "301"]
    finally:
        codec.cache_clear()
    assert "unavailable" in caplog.text
    assert stored(answered) is None  # nothing stored that the codec could not write
    # Not taken for a cache outage: the cache stays in use for the throttle.
    assert "Cache 'default' unavailable" not in caplog.text
    assert [r for r in caplog.records if "Compression 'lz4' unavailable" in r.getMessage()]
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
