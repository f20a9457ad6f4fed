"""The admin: every staff change goes through the write path and shows in the API at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import django
import pytest
from database_state import document_clock
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.widgets import AutocompleteSelect, ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone
from django.utils.functional import Promise

from dch_favourites import admin as favourites_admin
from dch_favourites.admin import (
    CatalogueItemAdmin,
    FavouriteAdmin,
    FavouriteInline,
    PopularPeriodForm,
    UserFavouritesAdminMixin,
    register_user_favourites,
)
from dch_favourites.models import (
    CatalogueItem,
    CatalogueItemTranslation,
    Favourite,
    FavouriteListState,
)
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, ConcertFactory, UserFactory, WorkFactory, ts

pytestmark = pytest.mark.django_db

ITEMS = "/admin/dch_favourites/catalogueitem/"
FAVOURITES = "/admin/dch_favourites/favourite/"
# session, staff user, the user, their groups and permissions, their favourites (items
# joined), and the group and permission choices of Django's UserAdmin.
USER_PAGE_QUERIES = 8
LIMIT_2 = {"MAX_FAVOURITES_PER_USER": 2, "WRITE_THROTTLE_RATE": None}


def as_sets(seen: list[Any]) -> list[tuple[str, Any, set[str], str]]:
    """Signals with their items as sets: items added together have no order among them."""
    return [(kind, pk, set(items), source) for kind, pk, items, source in seen]


def state_of(user: Any) -> tuple[int, int]:
    """(changes the document has seen, its top-level updated): the list's own changes and
    the catalogue's since the list began."""
    list_version, catalogue_version, updated = document_clock(user)
    return list_version + catalogue_version, updated


def api_ids(api: Any) -> list[str]:
    response = api.get()
    assert response.status_code == 200
    return [entry["id"] for entry in json.loads(response.content)["_links"]["favourites"]]


def api_body(api: Any) -> dict[str, Any]:
    response = api.get()
    assert response.status_code == 200
    return json.loads(response.content)


def rows_of(response: Any) -> list[Any]:
    return list(response.context["cl"].result_list)


def user_change_data(user: Any, **extra: Any) -> dict[str, Any]:
    """The user change form as the browser posts it, with the favourites inline's rows."""
    user.refresh_from_db()
    joined = timezone.localtime(user.date_joined)
    favourites = list(Favourite.objects.filter(user=user))
    data: dict[str, Any] = {
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        "dch_favourites-TOTAL_FORMS": str(len(favourites)),
        "dch_favourites-INITIAL_FORMS": str(len(favourites)),
        "dch_favourites-MIN_NUM_FORMS": "0",
        "dch_favourites-MAX_NUM_FORMS": "1000",
    }
    for index, favourite in enumerate(favourites):
        data[f"dch_favourites-{index}-id"] = str(favourite.pk)
        data[f"dch_favourites-{index}-user"] = str(user.pk)
    data.update(extra)
    return data


def inline_changes(
    user: Any, *, delete: tuple[str, ...] = (), add: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    data = user_change_data(user, **extra)
    favourites = list(Favourite.objects.filter(user=user))
    for index, favourite in enumerate(favourites):
        if favourite.item_id in delete:
            data[f"dch_favourites-{index}-DELETE"] = "on"
    for offset, item_id in enumerate(add):
        index = len(favourites) + offset
        data[f"dch_favourites-{index}-item"] = item_id
        data[f"dch_favourites-{index}-user"] = str(user.pk)
    data["dch_favourites-TOTAL_FORMS"] = str(len(favourites) + len(add))
    return data


def many_favourites(users: int, items: int) -> list[Any]:
    """``users`` listeners each holding the same ``items`` catalogue items."""
    catalogue = [CatalogueItemFactory() for _ in range(items)]
    listeners = [UserFactory() for _ in range(users)]
    for listener in listeners:
        add_favourites(listener, [item.pk for item in catalogue])
    return listeners


# Catalogue items.


def test_item_changelist_shows_counts_and_concerts_without_a_query_per_row(
    admin_client: Client, django_assert_num_queries: Any
) -> None:
    ConcertFactory(id="23427", title="Rattle conducts Boulez")
    parts = [WorkFactory(id=f"23427-{n}") for n in range(1, 21)]
    WorkFactory(id="999-1", title="Orphan work")
    listeners = [UserFactory() for _ in range(3)]
    for listener in listeners:
        add_favourites(listener, ["23427-1", "23427-2"])
    add_favourites(listeners[0], ["23427-3"])

    admin_client.get(ITEMS)  # warms the per-process caches (content types)
    # session, user, page count, page rows (counts and concerts in the same query), and the
    # date hierarchy's range and dates
    with django_assert_num_queries(6):
        response = admin_client.get(ITEMS, {"o": "1"})

    assert response.status_code == 200
    rows = rows_of(response)
    assert len(rows) == 22
    counts = {row.pk: row.favourite_count for row in rows}
    assert counts["23427-1"] == 3
    assert counts["23427-2"] == 3
    assert counts["23427-3"] == 1
    assert counts["23427"] == 0
    assert counts[parts[-1].pk] == 0
    html = response.content.decode()
    concert_url = "/admin/dch_favourites/catalogueitem/23427/change/"
    assert f'<a href="{concert_url}">23427: Rattle conducts Boulez</a>' in html
    assert "999 (not in the catalogue)" in html
    assert f'<a href="{FAVOURITES}?item__exact=23427-1">3</a>' in html
    assert 'href="/admin/dch_favourites/catalogueitem/popular/"' in html


def test_item_changelist_filters_and_search(admin_client: Client) -> None:
    CatalogueItemFactory(
        id="301", title="Guardians of Unity", is_free=True, published=ts(1463558400)
    )
    ConcertFactory(id="23427", title="Boulez evening", published=ts(1472720400))
    WorkFactory(id="23427-1", title="Eclat", published=ts(1472720400))
    CatalogueItemFactory(id="302", title="Other film", published=ts(1500000000))

    def ids(**query: str) -> list[str]:
        response = admin_client.get(ITEMS, query)
        assert response.status_code == 200
        return sorted(row.pk for row in rows_of(response))

    assert ids(type__exact="work") == ["23427-1"]
    assert ids(is_free__exact="1") == ["301"]
    assert ids(q="23427") == ["23427", "23427-1"]
    assert ids(q="guardians") == ["301"]
    assert ids(published__year="2016") == ["23427", "23427-1", "301"]
    assert ids(published__year="2016", published__month="9") == ["23427", "23427-1"]
    assert ids(
        **{
            "published__gte": "2017-01-01 00:00:00+01:00",
            "published__lt": "2018-01-01 00:00:00+01:00",
        }
    ) == ["302"]


def test_item_change_page_has_a_fixed_number_of_queries(
    admin_client: Client, django_assert_num_queries: Any
) -> None:
    many_favourites(users=30, items=1)
    item = CatalogueItem.objects.get()

    admin_client.get(f"{ITEMS}{item.pk}/change/")  # warms the per-process caches
    # session, user, item (count and concert joined), translations
    with django_assert_num_queries(4):
        response = admin_client.get(f"{ITEMS}{item.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<a href="{FAVOURITES}?item__exact={item.pk}">30</a>' in html
    assert 'name="id"' not in html  # the primary key is read-only once saved


def test_editing_an_item_moves_it_and_every_list_that_holds_it(
    admin_client: Client, api: Any, spec_items: Any, heard: Any
) -> None:
    other = UserFactory()
    add_favourites(api.user, ["301", "23427-1"])
    add_favourites(other, ["23427-3"])
    item = CatalogueItem.objects.get(pk="301")
    before_item = item.updated
    holder_before, other_before = state_of(api.user), state_of(other)
    body_before = api_body(api)

    response = admin_client.post(
        f"{ITEMS}301/change/",
        {
            "type": "film",
            "title": "Guardians of Unity (restored)",
            "short_title": "",
            "is_free": "on",
            "published_0": "2016-05-18",
            "published_1": "10:00:00",
            "begin_0": "",
            "begin_1": "",
            "overview_image": item.overview_image,
            "detail_image": item.detail_image or "",
            "translations-TOTAL_FORMS": "0",
            "translations-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.title == "Guardians of Unity (restored)"
    assert item.is_free is True
    assert item.updated > before_item
    version, updated = state_of(api.user)
    assert version == holder_before[0] + 1
    assert updated > holder_before[1]
    # The catalogue's clock is shared: every document is renewed, none rewritten.
    assert state_of(other)[0] == other_before[0] + 1
    assert FavouriteListState.objects.get(user=other).version == 1
    body = api_body(api)
    assert body["updated"] == updated
    entry = next(e for e in body["_links"]["favourites"] if e["id"] == "301")
    assert entry["title"] == "Guardians of Unity (restored)"
    assert entry["is_free"] is True
    assert entry["updated"] == int(item.updated.timestamp())
    assert (
        entry["updated"]
        > next(e for e in body_before["_links"]["favourites"] if e["id"] == "301")["updated"]
    )
    assert heard == []  # an edit is no add or removal


def test_a_malformed_work_id_is_a_form_error(admin_client: Client) -> None:
    response = admin_client.post(
        f"{ITEMS}add/",
        {
            "id": "23427",
            "type": "work",
            "title": "Eclat",
            "published_0": "2016-09-01",
            "published_1": "10:00:00",
            "translations-TOTAL_FORMS": "0",
            "translations-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "id": ["A work or interview id is '<concert id>-<number>', e.g. 23427-1."]
    }
    assert not CatalogueItem.objects.exists()


def test_a_translation_added_beside_the_item_moves_the_lists(
    admin_client: Client, api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301"])
    item = CatalogueItem.objects.get(pk="301")
    before = state_of(api.user)
    data = {
        "type": "film",
        "title": item.title,
        "short_title": "",
        "published_0": "2016-05-18",
        "published_1": "10:00:00",
        "begin_0": "",
        "begin_1": "",
        "overview_image": item.overview_image,
        "detail_image": item.detail_image or "",
        "translations-TOTAL_FORMS": "1",
        "translations-INITIAL_FORMS": "0",
        "translations-0-language": "de",
        "translations-0-title": "Hüter der Einheit",
        "translations-0-short_title": "",
    }

    wrong = admin_client.post(f"{ITEMS}301/change/", {**data, "translations-0-language": "en"})
    assert wrong.status_code == 200
    assert not CatalogueItemTranslation.objects.exists()
    response = admin_client.post(f"{ITEMS}301/change/", data)

    assert response.status_code == 302
    assert list(CatalogueItemTranslation.objects.values_list("item_id", "language", "title")) == [
        ("301", "de", "Hüter der Einheit")
    ]
    assert state_of(api.user)[0] > before[0]


@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": None, "LANGUAGES": ("en", "de")})
def test_a_translation_in_a_language_no_longer_configured_stays_selectable(
    admin_client: Client,
) -> None:
    item = CatalogueItemFactory(id="301")
    CatalogueItemTranslation.objects.create(item=item, language="fr", title="Gardiens")

    response = admin_client.get(f"{ITEMS}301/change/")

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    choices = [form.fields["language"].choices for form in inline.formset.forms]
    assert choices == [[("", "---------"), ("de", "de"), ("fr", "fr")]]
    assert inline.formset.empty_form.fields["language"].choices == [
        ("", "---------"),
        ("de", "de"),
    ]


def test_without_the_favourite_admin_counts_are_not_links(admin_user: Any, spec_items: Any) -> None:
    site = AdminSite(name="catalogue_only")
    site.register(CatalogueItem, CatalogueItemAdmin)
    item_admin = site.get_model_admin(CatalogueItem)
    request = RequestFactory().get("/")
    request.user = admin_user
    add_favourites(UserFactory(), ["301"])
    add_favourites(UserFactory(), ["301"])

    item = item_admin.get_queryset(request).get(pk="301")

    assert item_admin.favourite_count(item) == "2"
    assert (
        CatalogueItemAdmin(CatalogueItem, admin.site).favourite_count(item)
        == '<a href="/admin/dch_favourites/favourite/?item__exact=301">2</a>'
    )


def test_deleting_an_item_removes_it_from_every_list(
    admin_client: Client,
    api: Any,
    spec_items: Any,
    heard: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    other = UserFactory()
    add_favourites(api.user, ["301", "23427-1"])
    add_favourites(other, ["301"])
    listener_before, other_before = state_of(api.user), state_of(other)

    confirm = admin_client.get(f"{ITEMS}301/delete/")
    assert confirm.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{ITEMS}301/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not CatalogueItem.objects.filter(pk="301").exists()
    assert sorted(Favourite.objects.values_list("user_id", "item_id")) == [(api.user.pk, "23427-1")]
    assert state_of(api.user)[0] == listener_before[0] + 1
    assert state_of(api.user)[1] > listener_before[1]
    assert state_of(other)[0] == other_before[0] + 1
    assert api_ids(api) == ["23427-1"]
    assert sorted(heard) == sorted(
        [
            ("removed", api.user.pk, ("301",), "cascade"),
            ("removed", other.pk, ("301",), "cascade"),
        ]
    )


def test_bulk_deleting_items_moves_each_list(
    admin_client: Client, api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301", "23427-1", "23427-3"])
    before = state_of(api.user)

    response = admin_client.post(
        ITEMS, {"action": "delete_selected", "_selected_action": ["301", "23427-3"], "post": "yes"}
    )

    assert response.status_code == 302
    assert sorted(CatalogueItem.objects.values_list("pk", flat=True)) == ["23427-1"]
    assert state_of(api.user)[0] >= before[0] + 1
    assert state_of(api.user)[1] > before[1]
    assert api_ids(api) == ["23427-1"]


# Favourites.


def test_favourite_changelist_has_a_fixed_number_of_queries(
    admin_client: Client, django_assert_num_queries: Any
) -> None:
    many_favourites(users=20, items=3)

    admin_client.get(FAVOURITES)  # warms the per-process caches
    # session, user, page count, page rows (listener and item joined)
    with django_assert_num_queries(4):
        response = admin_client.get(FAVOURITES)

    assert response.status_code == 200
    assert len(rows_of(response)) == 60
    html = response.content.decode()
    assert html.count('<td class="field-item_type">film</td>') == 60


def test_favourite_search_and_filters(admin_client: Client, spec_items: Any) -> None:
    ann = UserFactory(username="ann", email="ann@example.org")
    bob = UserFactory(username="bob", email="robert@example.net")
    add_favourites(ann, ["301", "23427-1"])
    add_favourites(bob, ["23427-3"])
    QuerySet(Favourite).filter(user=bob).update(added=ts(1500000000))

    def pairs(**query: str) -> list[tuple[str, str]]:
        response = admin_client.get(FAVOURITES, query)
        assert response.status_code == 200
        return sorted((row.user.username, row.item_id) for row in rows_of(response))

    assert pairs(q="ann") == [("ann", "23427-1"), ("ann", "301")]
    assert pairs(q="robert@") == [("bob", "23427-3")]
    assert pairs(q="guardians") == [("ann", "301")]
    assert pairs(q="23427-3") == [("bob", "23427-3")]
    assert pairs(q="ann guardians") == [("ann", "301")]  # every word matches
    assert pairs(q='"of Unity"') == [("ann", "301")]
    assert pairs(q='"Unity ann"') == []
    assert pairs(item__type__exact="interview") == [("bob", "23427-3")]
    assert pairs(item__exact="301") == [("ann", "301")]
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    assert pairs(added__gte=str(today), added__lt=str(today + timedelta(days=1))) == [
        ("ann", "23427-1"),
        ("ann", "301"),
    ]


def test_favourite_search_follows_the_user_models_username_field(
    admin_client: Client, spec_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_model = get_user_model()
    ann = UserFactory(username="ann", email="a.smith@example.org")
    add_favourites(ann, ["301"])
    monkeypatch.setattr(user_model, "USERNAME_FIELD", "email")
    model_admin = admin.site.get_model_admin(Favourite)

    assert model_admin.get_search_fields(RequestFactory().get("/")) == (
        "user__email",
        "item__title",
        "=item__id",
    )
    response = admin_client.get(FAVOURITES, {"q": "a.smith@"})
    assert [row.user_id for row in rows_of(response)] == [ann.pk]
    assert rows_of(admin_client.get(FAVOURITES, {"q": "ann"})) == []  # not the username field now


def test_add_form_autocompletes_both_foreign_keys(admin_client: Client) -> None:
    listeners = [UserFactory(username=f"listener-{n:02d}") for n in range(30)]
    CatalogueItemFactory.create_batch(30)

    response = admin_client.get(f"{FAVOURITES}add/")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert isinstance(form.fields["user"].widget.widget, AutocompleteSelect)
    assert isinstance(form.fields["item"].widget.widget, AutocompleteSelect)
    html = response.content.decode()
    assert not any(listener.username in html for listener in listeners)
    assert "Film " not in html
    found = admin_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "dch_favourites",
            "model_name": "favourite",
            "field_name": "user",
            "term": "listener-07",
        },
    )
    assert found.status_code == 200
    assert json.loads(found.content)["results"] == [
        {"id": str(listeners[7].pk), "text": "listener-07"}
    ]


def test_adding_a_favourite_goes_through_the_write_path(
    admin_client: Client,
    api: Any,
    spec_items: Any,
    heard: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_favourites(api.user, ["301"])
    before = state_of(api.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{FAVOURITES}add/", {"user": api.user.pk, "item": "23427-1"})

    assert response.status_code == 302
    assert response["Location"] == FAVOURITES
    assert api_ids(api) == ["23427-1", "301"]
    version, updated = state_of(api.user)
    assert version == before[0] + 1
    assert updated > before[1]
    assert api_body(api)["updated"] == updated
    assert heard == [("added", api.user.pk, ("23427-1",), "admin")]


def test_a_favourite_already_held_is_a_form_error(
    admin_client: Client, api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301"])
    before = state_of(api.user)

    response = admin_client.post(f"{FAVOURITES}add/", {"user": api.user.pk, "item": "301"})

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Favourite with this Listener and Catalogue item already exists."
    ]
    assert state_of(api.user) == before


def test_an_add_without_an_item_is_a_form_error(admin_client: Client, api: Any) -> None:
    response = admin_client.post(f"{FAVOURITES}add/", {"user": api.user.pk, "item": ""})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"item": ["This field is required."]}
    assert not Favourite.objects.exists()
    assert not FavouriteListState.objects.exists()


@override_settings(DCH_FAVOURITES=LIMIT_2)
def test_a_full_list_is_a_form_error_not_a_500(
    admin_client: Client, api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    before = state_of(api.user)

    response = admin_client.post(f"{FAVOURITES}add/", {"user": api.user.pk, "item": "23427-3"})

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "The favourites list is full: it holds at most 2 items."
    ]
    assert "The favourites list is full: it holds at most 2 items." in response.content.decode()
    assert state_of(api.user) == before
    assert api_ids(api) == ["23427-1", "301"]


@override_settings(DCH_FAVOURITES=LIMIT_2)
def test_a_list_filled_between_validation_and_save_is_a_message(
    admin_client: Client, api: Any, spec_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    before = state_of(api.user)
    # As if another writer filled the list after the form was validated.
    monkeypatch.setattr(favourites_admin, "check_room", lambda *args, **kwargs: None)

    response = admin_client.post(
        f"{FAVOURITES}add/", {"user": api.user.pk, "item": "23427-3"}, follow=True
    )

    assert response.redirect_chain == [(f"{FAVOURITES}add/", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "The favourites list is full: it holds at most 2 items."
    ]
    assert state_of(api.user) == before
    assert api_ids(api) == ["23427-1", "301"]


def test_favourite_change_page_is_read_only(
    admin_client: Client, api: Any, spec_items: Any, django_assert_num_queries: Any
) -> None:
    add_favourites(api.user, ["301"])
    favourite = Favourite.objects.get()

    admin_client.get(f"{FAVOURITES}{favourite.pk}/change/")  # warms the per-process caches
    # session, user, favourite (listener and item joined)
    with django_assert_num_queries(3):
        response = admin_client.get(f"{FAVOURITES}{favourite.pk}/change/")
    posted = admin_client.post(f"{FAVOURITES}{favourite.pk}/change/", {"item": "23427-1"})

    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}
    html = response.content.decode()
    assert '<a href="/admin/dch_favourites/catalogueitem/301/change/">' in html
    assert posted.status_code == 403
    assert list(Favourite.objects.values_list("item_id", flat=True)) == ["301"]


def test_deleting_one_favourite_goes_through_the_write_path(
    admin_client: Client,
    api: Any,
    spec_items: Any,
    heard: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    favourite = Favourite.objects.get(item_id="301")
    before = state_of(api.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{FAVOURITES}{favourite.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert api_ids(api) == ["23427-1"]
    assert state_of(api.user)[0] == before[0] + 1
    assert state_of(api.user)[1] > before[1]
    assert heard == [("removed", api.user.pk, ("301",), "admin")]


def test_delete_selected_goes_through_the_write_path_per_listener(
    admin_client: Client,
    api: Any,
    spec_items: Any,
    heard: Any,
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    other = UserFactory()
    add_favourites(api.user, ["301", "23427-1", "23427-3"])
    add_favourites(other, ["301", "23427-3"])
    chosen = Favourite.objects.filter(item_id__in=["301", "23427-3"])
    selected = [str(pk) for pk in chosen.values_list("pk", flat=True)]
    listener_before, other_before = state_of(api.user), state_of(other)

    confirm = admin_client.post(
        FAVOURITES, {"action": "delete_selected", "_selected_action": selected}
    )
    assert confirm.status_code == 200
    assert "Are you sure" in confirm.content.decode()
    assert Favourite.objects.count() == 5
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            FAVOURITES, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
        )

    assert response.status_code == 302
    assert list(Favourite.objects.values_list("user_id", "item_id")) == [(api.user.pk, "23427-1")]
    assert state_of(api.user)[0] == listener_before[0] + 1
    assert state_of(other)[0] == other_before[0] + 1
    assert state_of(other)[1] > other_before[1]
    assert api_ids(api) == ["23427-1"]
    assert sorted(as_sets(heard)) == [
        ("removed", api.user.pk, {"23427-3", "301"}, "admin"),
        ("removed", other.pk, {"23427-3", "301"}, "admin"),
    ]


def test_delete_queryset_routes_through_the_services(
    api: Any, spec_items: Any, heard: Any, django_capture_on_commit_callbacks: Any
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    model_admin = admin.site.get_model_admin(Favourite)
    before = state_of(api.user)

    with django_capture_on_commit_callbacks(execute=True):
        model_admin.delete_queryset(RequestFactory().post("/"), Favourite.objects.all())

    assert not Favourite.objects.exists()
    assert state_of(api.user)[0] == before[0] + 1
    assert as_sets(heard) == [("removed", api.user.pk, {"23427-1", "301"}, "admin")]


def test_without_a_searchable_user_admin_the_listener_is_an_id_box(
    admin_user: Any, spec_items: Any
) -> None:
    site = AdminSite(name="bare")
    site.register(CatalogueItem, CatalogueItemAdmin)
    site.register(Favourite, FavouriteAdmin)
    request = RequestFactory().get("/")
    request.user = admin_user
    model_admin = site.get_model_admin(Favourite)

    assert model_admin.get_autocomplete_fields(request) == ("item",)
    form = model_admin.get_form(request)()
    assert isinstance(form.fields["user"].widget.widget, ForeignKeyRawIdWidget)
    assert isinstance(form.fields["item"].widget.widget, AutocompleteSelect)
    assert register_user_favourites(site) is False
    assert not site.is_registered(get_user_model())


# The user's change page.


def test_user_admin_is_the_registered_one_extended_with_the_inline() -> None:
    user_model = get_user_model()
    model_admin = admin.site.get_model_admin(user_model)

    assert isinstance(model_admin, UserAdmin)
    assert isinstance(model_admin, UserFavouritesAdminMixin)
    assert type(model_admin).__name__ == "UserAdmin"
    assert list(model_admin.inlines) == [FavouriteInline]
    assert model_admin.search_fields == UserAdmin.search_fields
    request = RequestFactory().get("/")
    assert list(model_admin.get_inlines(request, None)) == []
    assert list(model_admin.get_inlines(request, user_model())) == [FavouriteInline]
    assert register_user_favourites() is False  # already extended


def test_register_user_favourites_extends_a_custom_user_admin() -> None:
    user_model = get_user_model()

    class SiteInline(admin.TabularInline):  # type: ignore[type-arg]
        model = user_model.groups.through

    class SiteUserAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
        """The site's own."""

        search_fields = ("email",)
        list_display = ("email",)
        inlines = (SiteInline,)

    site = AdminSite(name="custom")
    site.register(CatalogueItem, CatalogueItemAdmin)
    site.register(user_model, SiteUserAdmin)

    assert register_user_favourites(site) is True
    model_admin = site.get_model_admin(user_model)
    assert isinstance(model_admin, SiteUserAdmin)
    assert list(model_admin.inlines) == [SiteInline, FavouriteInline]
    assert model_admin.search_fields == ("email",)
    assert model_admin.list_display == ("email",)
    assert type(model_admin).__doc__ == "The site's own."
    assert model_admin.check() == []
    assert register_user_favourites(site) is False
    assert list(site.get_model_admin(user_model).inlines) == [SiteInline, FavouriteInline]


def test_a_user_admin_registered_later_mixes_the_inline_in() -> None:
    user_model = get_user_model()

    class LaterUserAdmin(UserFavouritesAdminMixin, UserAdmin):  # type: ignore[misc]
        pass

    site = AdminSite(name="later")
    site.register(CatalogueItem, CatalogueItemAdmin)
    site.register(user_model, LaterUserAdmin)
    model_admin = site.get_model_admin(user_model)

    assert list(model_admin.get_inlines(RequestFactory().get("/"), user_model())) == [
        FavouriteInline
    ]
    assert register_user_favourites(site) is False
    assert type(site.get_model_admin(user_model)) is LaterUserAdmin


def test_user_page_lists_favourites_newest_first_with_fixed_queries(
    admin_client: Client, django_assert_num_queries: Any
) -> None:
    listener = many_favourites(users=1, items=1)[0]
    admin_client.get(f"/admin/auth/user/{listener.pk}/change/")  # warms the per-process caches
    with django_assert_num_queries(USER_PAGE_QUERIES):
        admin_client.get(f"/admin/auth/user/{listener.pk}/change/")
    items = CatalogueItemFactory.create_batch(30)
    for item in items:
        add_favourites(listener, [item.pk])

    with django_assert_num_queries(USER_PAGE_QUERIES):
        response = admin_client.get(f"/admin/auth/user/{listener.pk}/change/")

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    shown = [form.original.item_id for form in inline if form.original is not None]
    assert shown == list(
        Favourite.objects.filter(user=listener)
        .order_by("-added", "-id")
        .values_list("item_id", flat=True)
    )
    assert shown[0] == items[-1].pk
    assert len(shown) == 31
    html = response.content.decode()
    assert html.count('class="admin-autocomplete"') == 2  # the blank row and the template row
    assert f'<a href="/admin/dch_favourites/catalogueitem/{items[-1].pk}/change/">' in html


def test_user_inline_adds_and_removes_through_the_write_path(
    admin_client: Client,
    api: Any,
    spec_items: Any,
    heard: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    before = state_of(api.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/auth/user/{api.user.pk}/change/",
            inline_changes(api.user, delete=("301",), add=("23427-3",)),
        )

    assert response.status_code == 302
    assert api_ids(api) == ["23427-3", "23427-1"]
    version, updated = state_of(api.user)
    assert version == before[0] + 2  # one removal, one addition
    assert updated > before[1]
    assert api_body(api)["updated"] == updated
    assert heard == [
        ("removed", api.user.pk, ("301",), "admin"),
        ("added", api.user.pk, ("23427-3",), "admin"),
    ]


def test_saving_the_user_page_untouched_changes_no_list(
    admin_client: Client, api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    before = state_of(api.user)

    response = admin_client.post(
        f"/admin/auth/user/{api.user.pk}/change/", user_change_data(api.user)
    )

    assert response.status_code == 302
    assert state_of(api.user) == before
    assert api_ids(api) == ["23427-1", "301"]


def test_user_inline_refuses_an_item_already_held(
    admin_client: Client, api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301"])
    before = state_of(api.user)

    response = admin_client.post(
        f"/admin/auth/user/{api.user.pk}/change/", inline_changes(api.user, add=("301",))
    )

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    # Django 6.0+ reports the unique constraint on the row itself.
    row_error = (
        "Please correct the duplicate values below."
        if django.VERSION < (6, 0)
        else "Favourite with this Listener and Catalogue item already exists."
    )
    assert inline.formset.errors[-1] == {"__all__": [row_error]}
    assert inline.formset.non_form_errors() == (
        ["Please correct the duplicate data for item."] if django.VERSION < (6, 0) else []
    )
    assert state_of(api.user) == before


@override_settings(DCH_FAVOURITES=LIMIT_2)
def test_user_inline_row_errors_come_before_the_room_check(
    admin_client: Client, api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    before = state_of(api.user)

    response = admin_client.post(
        f"/admin/auth/user/{api.user.pk}/change/", inline_changes(api.user, add=("999",))
    )

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert inline.formset.errors[-1] == {
        "item": ["Select a valid choice. That choice is not one of the available choices."]
    }
    # The full list is not reported on top: the row is wrong whatever the room.
    assert inline.formset.non_form_errors() == []
    assert state_of(api.user) == before


def test_user_inline_saves_only_through_the_write_path(admin_user: Any, api: Any) -> None:
    request = RequestFactory().post("/")
    request.user = admin_user
    formset_class = FavouriteInline(get_user_model(), admin.site).get_formset(request, api.user)
    formset = formset_class(instance=api.user)

    with pytest.raises(ValueError, match=r"^Favourites are saved through dch_favourites\.services"):
        formset.save(commit=False)

    assert not FavouriteListState.objects.exists()


@override_settings(DCH_FAVOURITES=LIMIT_2)
def test_user_inline_full_list_is_a_form_error_and_a_swap_fits(
    admin_client: Client, api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    before = state_of(api.user)
    url = f"/admin/auth/user/{api.user.pk}/change/"

    refused = admin_client.post(url, inline_changes(api.user, add=("23427-3",)))

    assert refused.status_code == 200
    (inline,) = refused.context["inline_admin_formsets"]
    assert inline.formset.non_form_errors() == [
        "The favourites list is full: it holds at most 2 items."
    ]
    assert "The favourites list is full: it holds at most 2 items." in refused.content.decode()
    assert state_of(api.user) == before

    swapped = admin_client.post(url, inline_changes(api.user, delete=("301",), add=("23427-3",)))

    assert swapped.status_code == 302
    assert api_ids(api) == ["23427-3", "23427-1"]


@override_settings(DCH_FAVOURITES=LIMIT_2)
def test_user_inline_list_filled_between_validation_and_save_is_a_message(
    admin_client: Client, api: Any, spec_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_favourites(api.user, ["301", "23427-1"])
    before = state_of(api.user)
    monkeypatch.setattr(favourites_admin, "check_room", lambda *args, **kwargs: None)
    url = f"/admin/auth/user/{api.user.pk}/change/"

    response = admin_client.post(
        url, inline_changes(api.user, add=("23427-3",), first_name="Changed"), follow=True
    )

    assert response.redirect_chain == [(url, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "The favourites list is full: it holds at most 2 items."
    ]
    api.user.refresh_from_db()
    assert api.user.first_name == ""  # the whole save was rolled back
    assert state_of(api.user) == before


def test_deleting_a_user_takes_their_list_with_them(
    admin_client: Client, spec_items: Any, heard: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Without tokens: django-oauth-toolkit's admin refuses to delete access tokens.
    leaving, staying = UserFactory(), UserFactory()
    add_favourites(leaving, ["301", "23427-1"])
    add_favourites(staying, ["301"])
    staying_before = state_of(staying)
    leaving_pk = leaving.pk

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/auth/user/{leaving_pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=leaving_pk).exists()
    assert list(Favourite.objects.values_list("user_id", "item_id")) == [(staying.pk, "301")]
    assert not FavouriteListState.objects.filter(user_id=leaving_pk).exists()
    assert state_of(staying) == staying_before
    assert as_sets(heard) == [("removed", leaving_pk, {"23427-1", "301"}, "cascade")]


def test_everything_staff_read_is_translatable() -> None:
    favourite_admin = admin.site.get_model_admin(Favourite)
    item_admin = admin.site.get_model_admin(CatalogueItem)
    inline = FavouriteInline(get_user_model(), admin.site)
    texts = [
        item_admin.search_help_text,
        item_admin.favourite_count.short_description,
        item_admin.concert_link.short_description,
        favourite_admin.search_help_text,
        inline.verbose_name,
        inline.verbose_name_plural,
        *(field.label for field in PopularPeriodForm.base_fields.values()),
        PopularPeriodForm.base_fields["until"].help_text,
        *(Favourite._meta.get_field(name).verbose_name for name in ("user", "item", "added")),
        *(field.verbose_name for field in CatalogueItem._meta.fields),
        *(field.help_text for field in CatalogueItem._meta.fields if field.help_text),
    ]

    assert [text for text in texts if not isinstance(text, Promise)] == []


@pytest.mark.django_db(transaction=True)
def test_items_saved_outside_a_transaction_move_the_lists(spec_items: Any) -> None:
    # As a script or shell saves them: autocommit, no request transaction around the hooks.
    listener = UserFactory()
    add_favourites(listener, ["23427-1", "301"])
    before = state_of(listener)

    ConcertFactory(id="23427", title="The concert of 23427-1")
    item = CatalogueItem.objects.get(pk="301")
    item.title = "Renamed"
    item.save()

    version, updated = state_of(listener)
    assert version == before[0] + 2
    assert updated > before[1]


SWAPPED_ARGS = ("--ds=swapped_user.settings", "--no-cov")


def test_a_site_with_a_swapped_user_model_and_its_own_user_admin() -> None:
    # A separate Django process: AUTH_USER_MODEL cannot change inside this one.
    checks = Path(__file__).parent / "swapped_user" / "swapped_site_checks.py"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    result = subprocess.run(  # noqa: S603  (this interpreter, fixed arguments)
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *SWAPPED_ARGS,
            str(checks),
        ],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1].startswith("3 passed")
