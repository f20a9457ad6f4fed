"""The admin under malformed input: Django's normal 404 or the page again with a message.

A NUL byte cannot be stored in a PostgreSQL text column, so on PostgreSQL every query that
compares one with a string column fails; the admin never sends such a query. Dates at the
ends of the calendar, and action checkboxes that name no row, are refused the same way. The
tests run on SQLite and PostgreSQL alike and assert the same answers on both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory

from dch_favourites.admin import FavouriteInline, UserFavouritesAdminMixin
from dch_favourites.models import CatalogueItem, Favourite
from dch_favourites.services import add_favourites
from factories import UserFactory

pytestmark = pytest.mark.django_db

ADMIN = "/admin/"
ITEMS = "/admin/dch_favourites/catalogueitem/"
FAVOURITES = "/admin/dch_favourites/favourite/"
USERS = "/admin/auth/user/"
AUTOCOMPLETE = "/admin/autocomplete/"
NUL_MESSAGE = (
    "A search or filter value held a NUL character, which no value can contain: it was left out."
)
BAD_SELECTION = "The selection names no row of this list; nothing was changed."


@pytest.fixture
def held(spec_items: Any) -> Any:
    """A listener holding two of the spec's items."""
    listener = UserFactory(username="listener")
    add_favourites(listener, ["301", "23427-1"])
    return listener


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# NUL bytes in the changelists' filters, lookups and search.

FAVOURITE_QUERIES = [
    "item__exact=%00",
    "item=%00",
    "item__in=301,%00",
    "item__id__exact=%00",
    "item__type__exact=%00",
    "item__type=film%00",
    "user__exact=%00",
    "added__gte=%00",
    "q=%00",
    "q=301%00",
    "o=%00",
    "%00=1",
    "item__exact=301&q=%00",
]
ITEM_QUERIES = [
    "id__exact=%00",
    "type__exact=%00",
    "is_free__exact=%00",
    "concert__exact=%00",
    "concert__id__exact=%00",
    "published__year=%00",
    "q=%00",
    "q=%5E%00",
    "type__exact=film&q=%00",
]


@pytest.mark.parametrize("query", FAVOURITE_QUERIES)
def test_a_nul_in_the_favourites_changelist_query_is_left_out_with_a_message(
    admin_client: Client, held: Any, query: str
) -> None:
    response = admin_client.get(f"{FAVOURITES}?{query}")

    kept = "&".join(part for part in query.split("&") if "%00" not in part)
    assert response.status_code == 302
    assert response["Location"] == FAVOURITES + (f"?{kept}" if kept else "")
    assert messages_of(response) == [NUL_MESSAGE]
    page = admin_client.get(response["Location"])
    assert page.status_code == 200


@pytest.mark.parametrize("query", ITEM_QUERIES)
def test_a_nul_in_the_catalogue_changelist_query_is_left_out_with_a_message(
    admin_client: Client, spec_items: Any, query: str
) -> None:
    response = admin_client.get(f"{ITEMS}?{query}")

    kept = "&".join(part for part in query.split("&") if "%00" not in part)
    assert response.status_code == 302
    assert response["Location"] == ITEMS + (f"?{kept}" if kept else "")
    assert messages_of(response) == [NUL_MESSAGE]
    assert admin_client.get(response["Location"]).status_code == 200


def test_the_changelist_without_a_nul_is_untouched(admin_client: Client, held: Any) -> None:
    response = admin_client.get(f"{FAVOURITES}?item__exact=301&q=listener")

    assert response.status_code == 200
    assert [f.item_id for f in response.context["cl"].result_list] == ["301"]
    assert messages_of(response) == []


def test_a_nul_in_the_user_changelist_of_a_site_that_opted_in(
    admin_client: Client, held: Any
) -> None:
    response = admin_client.get(f"{USERS}?q=%00&is_staff__exact=1")

    assert response.status_code == 302
    assert response["Location"] == f"{USERS}?is_staff__exact=1"
    assert messages_of(response) == [NUL_MESSAGE]


# NUL bytes in object ids: Django's "does not exist" answer.


@pytest.mark.parametrize(
    "path",
    [
        f"{ITEMS}%00/change/",
        f"{ITEMS}301%00/change/",
        f"{ITEMS}%00/delete/",
        f"{ITEMS}%00/history/",
        f"{FAVOURITES}%00/change/",
        f"{FAVOURITES}%00/delete/",
        f"{USERS}%00/change/",
    ],
)
def test_an_object_id_with_a_nul_is_an_unknown_object(
    admin_client: Client, held: Any, path: str
) -> None:
    response = admin_client.get(path)

    assert response.status_code == 302
    assert response["Location"] == ADMIN
    [message] = messages_of(response)
    assert message.endswith("doesn\u2019t exist. Perhaps it was deleted?")


def test_posting_to_an_item_with_a_nul_changes_nothing(admin_client: Client, held: Any) -> None:
    before = list(CatalogueItem.objects.values_list("pk", "title").order_by("pk"))

    response = admin_client.post(f"{ITEMS}%00/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert response["Location"] == ADMIN
    assert list(CatalogueItem.objects.values_list("pk", "title").order_by("pk")) == before


# NUL bytes in autocomplete terms: no results.


@pytest.mark.parametrize("term", ["%00", "30%001", "%00%00"])
@pytest.mark.parametrize(
    ("app_label", "model_name", "field_name"),
    [("dch_favourites", "favourite", "item"), ("dch_favourites", "favourite", "user")],
)
def test_an_autocomplete_term_with_a_nul_finds_nothing(
    admin_client: Client, held: Any, term: str, app_label: str, model_name: str, field_name: str
) -> None:
    response = admin_client.get(
        f"{AUTOCOMPLETE}?term={term}&app_label={app_label}"
        f"&model_name={model_name}&field_name={field_name}"
    )

    assert response.status_code == 200
    assert json.loads(response.content) == {"results": [], "pagination": {"more": False}}


def test_an_autocomplete_term_without_a_nul_still_finds(admin_client: Client, held: Any) -> None:
    response = admin_client.get(
        f"{AUTOCOMPLETE}?term=301&app_label=dch_favourites&model_name=favourite&field_name=item"
    )

    assert response.status_code == 200
    assert [r["id"] for r in json.loads(response.content)["results"]] == ["301"]


# Dates at the ends of the calendar.


@pytest.mark.parametrize(
    ("since", "until", "ranked"),
    [
        ("2020-01-01", "9999-12-31", ["23427-1", "301"]),
        ("0001-01-01", "9999-12-31", ["23427-1", "301"]),
        ("0001-01-01", "0001-01-01", []),
        ("9999-12-31", "9999-12-31", []),
        ("0001-01-01", "", ["23427-1", "301"]),
        ("", "9999-12-31", ["23427-1", "301"]),
    ],
)
def test_the_popular_view_takes_the_first_and_last_day_of_the_calendar(
    admin_client: Client, held: Any, since: str, until: str, ranked: list[str]
) -> None:
    response = admin_client.get(f"{ITEMS}popular/?since={since}&until={until}")

    assert response.status_code == 200
    assert response.context["form"].errors == {}
    assert sorted(row["item"].pk for row in response.context["rows"]) == ranked


@pytest.mark.parametrize(
    "query",
    [
        "published__year=9999",
        "published__year=9999&published__month=12",
        "published__year=9999&published__month=12&published__day=31",
        "published__year=1&published__month=1&published__day=1",
    ],
)
def test_the_date_hierarchy_at_the_end_of_the_calendar_is_a_bad_lookup(
    admin_client: Client, spec_items: Any, query: str
) -> None:
    response = admin_client.get(f"{ITEMS}?{query}")

    # Django's answer to lookups it cannot apply: the list again, unfiltered.
    assert response.status_code in {200, 302}
    if response.status_code == 302:
        assert response["Location"] == f"{ITEMS}?e=1"
        assert admin_client.get(response["Location"]).status_code == 200


# Django warns that a hand-typed date has no time zone, then takes it in the current one.
@pytest.mark.filterwarnings("ignore:DateTimeField Favourite.added received a naive datetime")
@pytest.mark.parametrize(
    "query",
    ["added__gte=0001-01-01", "added__lt=9999-12-31", "added__gte=0001-01-01+00:00:00"],
)
def test_date_lookups_at_the_ends_of_the_calendar(
    admin_client: Client, held: Any, query: str
) -> None:
    response = admin_client.get(f"{FAVOURITES}?{query}")

    assert response.status_code in {200, 302}
    if response.status_code == 302:
        assert response["Location"] == f"{FAVOURITES}?e=1"


# Bulk actions naming no row.


@pytest.mark.parametrize(
    "selected",
    [["abc"], ["1", "abc"], [""], ["%00"], ["\x00"], ["1.5"], ["9" * 30], ["-"]],
)
@pytest.mark.parametrize("confirmed", [{}, {"post": "yes"}], ids=["asked", "confirmed"])
def test_a_bulk_delete_of_favourites_with_malformed_ids_changes_nothing(
    admin_client: Client, held: Any, selected: list[str], confirmed: dict[str, str]
) -> None:
    before = sorted(Favourite.objects.values_list("item_id", flat=True))
    data = {"action": "delete_selected", "index": "0", "_selected_action": selected}

    response = admin_client.post(FAVOURITES, {**data, **confirmed})

    assert response.status_code == 302
    assert response["Location"] == FAVOURITES
    assert messages_of(response) == [BAD_SELECTION]
    assert sorted(Favourite.objects.values_list("item_id", flat=True)) == before


@pytest.mark.parametrize("selected", [["\x00"], ["301", "30\x001"], ["x" * 65]])
def test_a_bulk_delete_of_items_with_malformed_ids_changes_nothing(
    admin_client: Client, held: Any, selected: list[str]
) -> None:
    before = sorted(CatalogueItem.objects.values_list("pk", flat=True))
    data = {"action": "delete_selected", "index": "0", "_selected_action": selected}

    response = admin_client.post(f"{ITEMS}?type__exact=film", data)

    assert response.status_code == 302
    assert response["Location"] == f"{ITEMS}?type__exact=film"
    assert messages_of(response) == [BAD_SELECTION]
    assert sorted(CatalogueItem.objects.values_list("pk", flat=True)) == before


def test_a_well_formed_bulk_delete_still_works(admin_client: Client, held: Any) -> None:
    favourite = Favourite.objects.get(item_id="301")
    data = {
        "action": "delete_selected",
        "index": "0",
        "_selected_action": [str(favourite.pk)],
        "post": "yes",
    }

    response = admin_client.post(FAVOURITES, data)

    assert response.status_code == 302
    assert list(Favourite.objects.values_list("item_id", flat=True)) == ["23427-1"]


# The user admin: the site's own unless the site opts in.


def test_the_example_site_opts_in_in_its_admin_module() -> None:
    import demo_site.admin  # noqa: F401  (autodiscovered; imported here to name it)

    model_admin = admin.site.get_model_admin(get_user_model())

    assert isinstance(model_admin, UserAdmin)
    assert isinstance(model_admin, UserFavouritesAdminMixin)
    request = RequestFactory().get("/")
    assert list(model_admin.get_inlines(request, get_user_model()())) == [FavouriteInline]


def test_importing_the_admin_leaves_the_sites_user_admin_alone() -> None:
    """A site that does not opt in keeps Django's own user admin, and no other is added."""
    script = """
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=[
        "django.contrib.admin.apps.SimpleAdminConfig",  # no autodiscover
        "django.contrib.auth", "django.contrib.contenttypes",
        "django.contrib.sessions", "django.contrib.messages", "rest_framework",
        "oauth2_provider", "dch_favourites",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF=[],
)
django.setup()
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin  # registers the user admin

def registered():
    return {model for model in apps.get_models() if admin.site.is_registered(model)}

before = registered()
import dch_favourites.admin
added = registered() - before
print(
    type(admin.site.get_model_admin(get_user_model())) is UserAdmin,
    {model._meta.app_label for model in added},
    "dch_favourites.CatalogueItem" in {model._meta.label for model in added},
)
"""
    result = subprocess.run(  # noqa: S603  (this interpreter, fixed arguments)
        [sys.executable, "-W", "error", "-c", script],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.stderr == ""
    assert result.stdout.strip() == "True {'dch_favourites'} True"
