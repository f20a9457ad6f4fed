"""Conditional GETs of the favourites list: ETag, Last-Modified, 304, cache headers."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils.http import http_date, parse_http_date
from endpoints import URL

from dch_favourites import services
from dch_favourites.api import views
from dch_favourites.api.serializers import FavouritesSerializer
from dch_favourites.models import CatalogueItem, Favourite, FavouriteListState
from dch_favourites.services import Source, add_favourites, remove_favourite_rows
from factories import (
    AccessTokenFactory,
    CatalogueItemFactory,
    ConcertFactory,
    TranslationFactory,
    UserFactory,
    WorkFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def items() -> list[CatalogueItem]:
    concert = ConcertFactory(id="23427", title="Concert")
    return [
        CatalogueItemFactory(id="301", title="Film"),
        WorkFactory(id="23427-1", title="Work"),
        concert,
    ]


@pytest.fixture
def listed(api: Any, items: list[CatalogueItem]) -> Any:
    """The API's listener with all three items; the GET answer they start from."""
    add_favourites(api.user, [item.id for item in items])
    response = api.get()
    assert response.status_code == 200
    return response


def ids(response: Any) -> list[str]:
    return [entry["id"] for entry in json.loads(response.content)["_links"]["favourites"]]


def state(api: Any) -> FavouriteListState:
    return FavouriteListState.objects.get(user=api.user)


def assert_cache_headers(response: Any) -> None:
    assert response["Cache-Control"] == "private, no-cache"
    vary = [value.strip() for value in response["Vary"].split(",")]
    assert "Authorization" in vary
    assert "Accept" in vary


# The validators ------------------------------------------------------------------------


def test_get_carries_a_strong_etag_and_last_modified_from_updated(api: Any, listed: Any) -> None:
    current = state(api)

    assert listed["ETag"].startswith('"')
    assert listed["ETag"].endswith('"')
    assert not listed["ETag"].startswith("W/")
    assert listed["Last-Modified"] == http_date(current.updated)
    assert json.loads(listed.content)["updated"] == current.updated


def test_the_etag_is_stable_while_nothing_changes(api: Any, listed: Any) -> None:
    again = api.get()

    assert again.status_code == 200
    assert again["ETag"] == listed["ETag"]
    assert again.content == listed.content


def test_post_answers_with_the_validators_of_the_list_it_returns(
    api: Any, items: list[CatalogueItem]
) -> None:
    response = api.form(action="add", id=["301"])

    assert response.status_code == 200
    assert response["Last-Modified"] == http_date(state(api).updated)
    # A GET of the same list validates with the POST's ETag.
    cached = api.get(HTTP_IF_NONE_MATCH=response["ETag"])
    assert cached.status_code == 304
    assert cached["ETag"] == response["ETag"]


# If-None-Match --------------------------------------------------------------------------


def test_current_etag_gets_304_without_a_body_or_the_list(
    api: Any, listed: Any, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the list was loaded or serialized for a 304")

    monkeypatch.setattr(views, "document_rows", must_not_run)
    monkeypatch.setattr(FavouritesSerializer, "to_representation", must_not_run)

    # The token; the states of the list and the catalogue come from the document cache.
    with django_assert_num_queries(1):
        response = api.get(HTTP_IF_NONE_MATCH=listed["ETag"])

    assert response.status_code == 304
    assert response.content == b""
    assert "Content-Type" not in response
    assert response["ETag"] == listed["ETag"]
    assert response["Last-Modified"] == listed["Last-Modified"]
    assert_cache_headers(response)


@pytest.mark.parametrize(
    "header",
    [
        "{etag}",
        "W/{etag}",
        '"stale", {etag}',
        '"stale",{etag} , "older"',
        "*",
    ],
)
def test_if_none_match_forms_that_match(api: Any, listed: Any, header: str) -> None:
    response = api.get(HTTP_IF_NONE_MATCH=header.format(etag=listed["ETag"]))

    assert response.status_code == 304
    assert response.content == b""


@pytest.mark.parametrize("header", ['"stale"', 'W/"stale"', "", "not-an-etag", '"a", "b"'])
def test_if_none_match_that_does_not_match_gets_the_list(
    api: Any, listed: Any, header: str
) -> None:
    response = api.get(HTTP_IF_NONE_MATCH=header)

    assert response.status_code == 200
    assert response.content == listed.content
    assert response["ETag"] == listed["ETag"]


def test_a_stale_etag_after_a_change_gets_the_new_list(api: Any, listed: Any) -> None:
    assert api.form(action="delete", id=["301"]).status_code == 200

    response = api.get(HTTP_IF_NONE_MATCH=listed["ETag"])

    assert response.status_code == 200
    assert ids(response) == ["23427", "23427-1"]
    assert response["ETag"] != listed["ETag"]


def test_add_then_delete_back_to_the_same_items_is_a_new_etag(api: Any, listed: Any) -> None:
    # Same items as before, but `updated` moved on: the body differs, so must the ETag.
    api.form(action="delete", id=["301"])
    api.form(action="add", id=["301"])

    response = api.get(HTTP_IF_NONE_MATCH=listed["ETag"])

    assert response.status_code == 200
    assert sorted(ids(response)) == sorted(ids(listed))
    assert json.loads(response.content)["updated"] > json.loads(listed.content)["updated"]


def test_another_listeners_etag_does_not_validate(api: Any, make_api: Any, listed: Any) -> None:
    other = make_api()
    add_favourites(other.user, ["301", "23427-1", "23427"])
    # Force an identical version and `updated` on both lists.
    mine = state(api)
    FavouriteListState.objects.filter(user=other.user).update(
        version=mine.version, updated=mine.updated
    )

    response = other.get(HTTP_IF_NONE_MATCH=listed["ETag"])

    assert response.status_code == 200
    assert response["ETag"] != listed["ETag"]


def test_a_listener_without_favourites_validates_too(api: Any) -> None:
    first = api.get()
    assert first.content == b'{"updated":0,"_links":{"favourites":[]}}'

    response = api.get(HTTP_IF_NONE_MATCH=first["ETag"])

    assert response.status_code == 304
    assert response["Last-Modified"] == http_date(0)


def test_head_answers_304_like_get(api: Any, listed: Any) -> None:
    response = api.client.head(URL, **api.headers({"HTTP_IF_NONE_MATCH": listed["ETag"]}))

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == listed["ETag"]


def test_post_ignores_if_none_match(api: Any, listed: Any) -> None:
    response = api.post("action=add&id=301", HTTP_IF_NONE_MATCH=listed["ETag"])

    assert response.status_code == 200
    assert response.content == api.get().content


# If-Modified-Since ----------------------------------------------------------------------


def test_if_modified_since_the_last_change_gets_304(api: Any, listed: Any) -> None:
    response = api.get(HTTP_IF_MODIFIED_SINCE=listed["Last-Modified"])

    assert response.status_code == 304
    assert response.content == b""
    assert response["Last-Modified"] == listed["Last-Modified"]
    assert_cache_headers(response)


def test_if_modified_since_later_than_the_change_gets_304(api: Any, listed: Any) -> None:
    later = http_date(state(api).updated + 3600)

    assert api.get(HTTP_IF_MODIFIED_SINCE=later).status_code == 304


def test_if_modified_since_before_the_change_gets_the_list(api: Any, listed: Any) -> None:
    earlier = http_date(state(api).updated - 1)

    response = api.get(HTTP_IF_MODIFIED_SINCE=earlier)

    assert response.status_code == 200
    assert response.content == listed.content


@pytest.mark.parametrize("header", ["yesterday", "", "Mon, 99 Foo 2016 00:00:00 GMT", "1475074300"])
def test_an_unreadable_if_modified_since_is_ignored(api: Any, listed: Any, header: str) -> None:
    response = api.get(HTTP_IF_MODIFIED_SINCE=header)

    assert response.status_code == 200
    assert response.content == listed.content


def test_if_none_match_wins_over_if_modified_since(api: Any, listed: Any) -> None:
    # RFC 9110 13.2.2: with If-None-Match present, If-Modified-Since is not evaluated.
    stale = api.get(HTTP_IF_NONE_MATCH='"stale"', HTTP_IF_MODIFIED_SINCE=listed["Last-Modified"])
    assert stale.status_code == 200

    current = api.get(HTTP_IF_NONE_MATCH=listed["ETag"], HTTP_IF_MODIFIED_SINCE=http_date(0))
    assert current.status_code == 304


@pytest.mark.parametrize("action", ["add", "delete"])
def test_a_change_within_the_same_second_is_never_304_by_date(
    api: Any, items: list[CatalogueItem], monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    frozen = int(time.time())
    monkeypatch.setattr(services, "now_seconds", lambda: frozen)
    add_favourites(api.user, ["301", "23427-1"])
    before = api.get()
    assert before["Last-Modified"] == http_date(frozen)

    # The clock has not moved: the change still moves `updated` (and Last-Modified) on.
    changed = api.form(action=action, id=["23427" if action == "add" else "301"])
    assert changed.status_code == 200

    response = api.get(HTTP_IF_MODIFIED_SINCE=before["Last-Modified"])

    assert response.status_code == 200
    assert response.content == changed.content
    assert json.loads(response.content)["updated"] == frozen + 1
    # `updated` ran a second ahead; Last-Modified never does (RFC 9110 8.8.2.1).
    assert parse_http_date(response["Last-Modified"]) <= time.time()
    assert response["Last-Modified"] in {http_date(frozen), http_date(frozen + 1)}


# Cache-Control and Vary on every answer -------------------------------------------------


@override_settings(DCH_FAVOURITES={"MAX_FAVOURITES_PER_USER": 3, "MAX_BODY_SIZE": 200})
def test_cache_control_and_vary_on_every_answer_including_errors(
    api: Any, make_api: Any, listed: Any
) -> None:
    read_only = make_api(scope="read")
    answers = {
        200: api.get(),
        304: api.get(HTTP_IF_NONE_MATCH=listed["ETag"]),
        400: api.form(action="shuffle", id=["301"]),
        401: Client().get(URL),
        403: read_only.form(action="add", id=["301"]),
        404: api.form(action="add", id=["999999"]),
        405: api.client.put(URL, **api.headers()),
        406: api.get(HTTP_ACCEPT="text/html"),
        409: api.form(action="add", id=[CatalogueItemFactory().id]),
        413: api.form(action="add", id=["x" * 40] * 10),
    }
    answers[401.1] = api.client.get(URL, HTTP_AUTHORIZATION="Bearer unknown-token")  # type: ignore[index]

    for status, response in answers.items():
        assert response.status_code == int(status), (status, response.content)
        assert_cache_headers(response)
    # None of them changed the list.
    assert ids(api.get()) == ids(listed)


# What the ETag depends on ---------------------------------------------------------------


def test_the_etag_differs_per_media_type(api: Any, listed: Any) -> None:
    answers = {
        accept: api.get(HTTP_ACCEPT=accept)
        for accept in ("application/hal+json", "application/json", "text/json")
    }

    assert len({response["ETag"] for response in answers.values()}) == 3
    assert len({response.content for response in answers.values()}) == 1
    # A copy cached for one media type does not validate another.
    crossed = api.get(
        HTTP_ACCEPT="text/json", HTTP_IF_NONE_MATCH=answers["application/json"]["ETag"]
    )
    assert crossed.status_code == 200
    assert crossed["Content-Type"] == "text/json; charset=utf-8"
    same = api.get(HTTP_ACCEPT="text/json", HTTP_IF_NONE_MATCH=answers["text/json"]["ETag"])
    assert same.status_code == 304


def test_no_accept_and_any_accept_share_the_hal_etag(api: Any, listed: Any) -> None:
    hal = api.get(HTTP_ACCEPT="application/hal+json")

    assert listed["ETag"] == hal["ETag"]
    assert api.get(HTTP_ACCEPT="*/*", HTTP_IF_NONE_MATCH=hal["ETag"]).status_code == 304


def test_the_etag_differs_per_language(api: Any, listed: Any) -> None:
    TranslationFactory(item=CatalogueItem.objects.get(pk="301"), language="de", title="Film (DE)")
    english = api.get(HTTP_ACCEPT_LANGUAGE="en")
    german = api.get(HTTP_ACCEPT_LANGUAGE="de")

    assert english["ETag"] != german["ETag"]
    assert api.get(HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=english["ETag"]).status_code == 200
    assert api.get(HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=german["ETag"]).status_code == 304


def test_the_etag_differs_per_base_url(api: Any, listed: Any) -> None:
    with override_settings(DCH_FAVOURITES={"API_BASE_URL": "//api.example.com/v2"}):
        moved = api.get(HTTP_IF_NONE_MATCH=listed["ETag"])

    assert moved.status_code == 200
    assert b"//api.example.com/v2/film/301" in moved.content


# Changes through other doors, then a conditional GET ------------------------------------


def conditional(api: Any, listed: Any, **extra: str) -> list[Any]:
    """The list asked for with the old ETag, and with the old Last-Modified."""
    return [
        api.get(HTTP_IF_NONE_MATCH=listed["ETag"], **extra),
        api.get(HTTP_IF_MODIFIED_SINCE=listed["Last-Modified"], **extra),
    ]


def test_admin_bulk_delete_then_conditional_get_is_not_304(api: Any, listed: Any) -> None:
    removed = remove_favourite_rows(
        Favourite.objects.filter(user=api.user, item_id="301"), source=Source.ADMIN
    )
    assert removed == 1

    for response in conditional(api, listed):
        assert response.status_code == 200
        assert ids(response) == ["23427", "23427-1"]


def test_the_admins_delete_action_then_conditional_get_is_not_304(api: Any, listed: Any) -> None:
    staff = Client()
    staff.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    selected = Favourite.objects.filter(user=api.user, item_id="23427-1").values_list(
        "pk", flat=True
    )

    response = staff.post(
        "/admin/dch_favourites/favourite/",
        {
            "action": "delete_selected",
            "_selected_action": [str(pk) for pk in selected],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    for answer in conditional(api, listed):
        assert answer.status_code == 200
        assert ids(answer) == ["23427", "301"]


def test_queryset_delete_then_conditional_get_is_not_304(api: Any, listed: Any) -> None:
    Favourite.objects.filter(user=api.user).delete()

    for response in conditional(api, listed):
        assert response.status_code == 200
        assert ids(response) == []


def test_item_edit_then_conditional_get_is_not_304(api: Any, listed: Any) -> None:
    film = CatalogueItem.objects.get(pk="301")
    film.title = "Renamed film"
    film.save()

    for response in conditional(api, listed):
        assert response.status_code == 200
        entry = json.loads(response.content)["_links"]["favourites"][2]
        assert (entry["id"], entry["title"]) == ("301", "Renamed film")
    assert Favourite.objects.filter(user=api.user).count() == 3


def test_concert_begin_change_then_conditional_get_is_not_304(api: Any, listed: Any) -> None:
    # The work's entry shows its concert's begin: the concert's edit changes the work's entry.
    Favourite.objects.filter(user=api.user, item_id="23427").delete()
    before = api.get()
    concert = CatalogueItem.objects.get(pk="23427")
    concert.begin = concert.begin.replace(year=2017)
    concert.save()

    response = api.get(HTTP_IF_NONE_MATCH=before["ETag"])

    assert response.status_code == 200
    [work] = [
        e for e in json.loads(response.content)["_links"]["favourites"] if e["id"] == "23427-1"
    ]
    assert work["date"]["begin"] == int(concert.begin.timestamp())


def test_item_delete_cascade_then_conditional_get_is_not_304(api: Any, listed: Any) -> None:
    CatalogueItem.objects.get(pk="301").delete()

    for response in conditional(api, listed):
        assert response.status_code == 200
        assert ids(response) == ["23427", "23427-1"]
    assert not Favourite.objects.filter(item_id="301").exists()


def test_translation_change_then_conditional_get_is_not_304(api: Any, listed: Any) -> None:
    german = api.get(HTTP_ACCEPT_LANGUAGE="de")
    TranslationFactory(item=CatalogueItem.objects.get(pk="301"), language="de", title="Film (DE)")

    response = api.get(HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=german["ETag"])

    assert response.status_code == 200
    titles = {e["id"]: e["title"] for e in json.loads(response.content)["_links"]["favourites"]}
    assert titles["301"] == "Film (DE)"


def test_a_change_from_another_device_then_conditional_get_is_not_304(
    api: Any, listed: Any
) -> None:
    other_device = type(api)(AccessTokenFactory(user=api.user, token="second-device-token-0001"))
    assert other_device.form(action="delete", id=["23427-1"]).status_code == 200

    for response in conditional(api, listed):
        assert response.status_code == 200
        assert ids(response) == ["23427", "301"]
