"""Run by ``test_admin.py`` under ``swapped_user.settings``: the admin on a swapped user model.

Not collected by the main run (the name does not start with ``test_``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, RequestFactory

from dch_favourites.admin import FavouriteInline, UserFavouritesAdminMixin
from dch_favourites.models import Favourite, FavouriteListState
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory
from swapped_user.admin import MemberAdmin
from swapped_user.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db: Any) -> Client:
    client = Client()
    client.force_login(Member.objects.create_superuser("staff@example.org", "secret"))
    return client


def test_the_sites_own_user_admin_got_the_inline() -> None:
    model_admin = admin.site.get_model_admin(get_user_model())

    assert get_user_model() is Member
    assert isinstance(model_admin, MemberAdmin)
    assert isinstance(model_admin, UserFavouritesAdminMixin)
    assert list(model_admin.get_inlines(RequestFactory().get("/"), Member())) == [FavouriteInline]
    assert model_admin.search_fields == ("email", "name")
    call_command("check", fail_level="WARNING")


def test_favourites_search_the_email_username_field(staff_client: Client) -> None:
    member = Member.objects.create_user("ann@example.org", name="Ann")
    CatalogueItemFactory(id="301", title="Guardians of Unity")
    add_favourites(member, ["301"])
    model_admin = admin.site.get_model_admin(Favourite)

    assert model_admin.get_search_fields(RequestFactory().get("/")) == (
        "user__email",
        "item__title",
        "=item__id",
    )
    response = staff_client.get("/admin/dch_favourites/favourite/", {"q": "ann@"})
    assert response.status_code == 200
    assert [row.user_id for row in response.context["cl"].result_list] == [member.pk]
    found = staff_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "dch_favourites",
            "model_name": "favourite",
            "field_name": "user",
            "term": "ann@",
        },
    )
    assert json.loads(found.content)["results"] == [
        {"id": str(member.pk), "text": "ann@example.org"}
    ]


def test_the_inline_adds_and_removes_on_the_members_page(staff_client: Client) -> None:
    member = Member.objects.create_user("ben@example.org")
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")
    add_favourites(member, ["301"])
    kept = Favourite.objects.get(user=member)
    url = f"/admin/swapped_user/member/{member.pk}/change/"

    page = staff_client.get(url)
    assert page.status_code == 200
    assert [
        form.original for form in page.context["inline_admin_formsets"][0] if form.original
    ] == [kept]
    response = staff_client.post(
        url,
        {
            "email": member.email,
            "name": "Ben",
            "is_active": "on",
            "dch_favourites-TOTAL_FORMS": "2",
            "dch_favourites-INITIAL_FORMS": "1",
            "dch_favourites-0-id": str(kept.pk),
            "dch_favourites-0-user": str(member.pk),
            "dch_favourites-0-DELETE": "on",
            "dch_favourites-1-user": str(member.pk),
            "dch_favourites-1-item": "302",
        },
    )

    assert response.status_code == 302
    assert list(Favourite.objects.filter(user=member).values_list("item_id", flat=True)) == ["302"]
    assert FavouriteListState.objects.get(user=member).version == 3
