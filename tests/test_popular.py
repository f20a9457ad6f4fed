"""The most favourited items: ``CatalogueItem.objects.popular()`` and its admin view."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone

from dch_favourites.models import CatalogueItem, Favourite
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, UserFactory, WorkFactory

pytestmark = pytest.mark.django_db

POPULAR = "/admin/dch_favourites/catalogueitem/popular/"
FAVOURITES = "/admin/dch_favourites/favourite/"


def local(*args: int) -> datetime:
    return timezone.make_aware(datetime(*args))


def hold(item_id: str, added: list[datetime]) -> None:
    """One new listener per time in ``added``, each holding ``item_id`` since that time."""
    for when in added:
        listener = UserFactory()
        add_favourites(listener, [item_id])
        QuerySet(Favourite).filter(user=listener, item_id=item_id).update(added=when)


def ranking(queryset: Any) -> list[tuple[str, int]]:
    return [(item.pk, item.favourite_count) for item in queryset]


@pytest.fixture
def catalogue(db: Any) -> None:
    """Four items favourited at known times (Europe/Berlin), one never."""
    for item_id in ("a", "b", "c", "d", "e"):
        CatalogueItemFactory(id=item_id, title=f"Item {item_id}")
    hold("a", [local(2026, 1, 10, 12), local(2026, 2, 1, 0), local(2026, 3, 1, 9)])
    hold("b", [local(2026, 1, 31, 23, 59), local(2026, 2, 10), local(2026, 2, 11)])
    hold("c", [local(2026, 2, 5)])
    hold("d", [local(2025, 12, 31, 23)])


def test_popular_ranks_by_favourites_then_id_in_one_query(
    catalogue: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        ranked = ranking(CatalogueItem.objects.popular())

    assert ranked == [("a", 3), ("b", 3), ("c", 1), ("d", 1)]


def test_popular_counts_only_favourites_added_in_the_period(catalogue: Any) -> None:
    february = CatalogueItem.objects.popular(since=local(2026, 2, 1), until=local(2026, 3, 1))

    # since is included, until is not: a's 1 Feb 00:00 counts, its 1 Mar 09:00 does not;
    # b's 31 Jan 23:59 is before the period.
    assert ranking(february) == [("b", 2), ("a", 1), ("c", 1)]
    assert ranking(CatalogueItem.objects.popular(since=local(2026, 2, 6))) == [("b", 2), ("a", 1)]
    assert ranking(CatalogueItem.objects.popular(until=local(2026, 1, 1))) == [("d", 1)]
    assert ranking(CatalogueItem.objects.popular(since=local(2027, 1, 1))) == []


def test_popular_limit_and_chaining(catalogue: Any) -> None:
    WorkFactory(id="9-1")
    hold("9-1", [local(2026, 2, 2)])

    assert ranking(CatalogueItem.objects.popular(limit=2)) == [("a", 3), ("b", 3)]
    assert ranking(CatalogueItem.objects.popular(limit=0)) == []
    assert ranking(CatalogueItem.objects.filter(type="work").popular()) == [("9-1", 1)]
    assert ranking(CatalogueItem.objects.exclude(pk="a").popular(limit=1)) == [("b", 3)]


def test_popular_counts_only_favourites_still_held(catalogue: Any) -> None:
    Favourite.objects.filter(item_id="a").order_by("added").first().delete()

    assert ranking(CatalogueItem.objects.popular()) == [("b", 3), ("a", 2), ("c", 1), ("d", 1)]


def test_popular_view_shows_the_last_30_days_by_default(
    admin_client: Client, django_assert_num_queries: Any
) -> None:
    today = timezone.localdate()
    for item_id in ("new", "old", "edge"):
        CatalogueItemFactory(id=item_id, title=f"Item {item_id}")
    now = timezone.localtime()
    hold("new", [now, now - timedelta(days=1)])
    hold("old", [now - timedelta(days=31), now - timedelta(days=40), now - timedelta(days=50)])
    hold("edge", [local(*(today - timedelta(days=29)).timetuple()[:3])])
    admin_client.get(POPULAR)  # warms the per-process caches

    # session, user, the ranking
    with django_assert_num_queries(3):
        response = admin_client.get(POPULAR)

    assert response.status_code == 200
    assert response.context["form"].cleaned_data == {
        "since": today - timedelta(days=29),
        "until": today,
        "limit": 50,
    }
    assert [
        (row["rank"], row["item"].pk, row["item"].favourite_count)
        for row in response.context["rows"]
    ] == [
        (1, "new", 2),
        (2, "edge", 1),
    ]
    html = response.content.decode()
    assert "Most favourited items" in html
    assert '<a href="/admin/dch_favourites/catalogueitem/new/change/">new</a>' in html
    assert "?since=&amp;until=" in html  # the "all time" link


def test_popular_view_period_and_limit_from_the_query(admin_client: Client, catalogue: Any) -> None:
    def shown(**query: Any) -> list[tuple[str, int]]:
        response = admin_client.get(POPULAR, query)
        assert response.status_code == 200
        assert response.context["form"].errors == {}
        return [(row["item"].pk, row["item"].favourite_count) for row in response.context["rows"]]

    # Whole days in the site's time zone, the last one included.
    assert shown(since="2026-02-01", until="2026-02-28") == [("b", 2), ("a", 1), ("c", 1)]
    assert shown(since="2026-01-31", until="2026-01-31") == [("b", 1)]
    assert shown(since="", until="") == [("a", 3), ("b", 3), ("c", 1), ("d", 1)]
    assert shown(since="", until="", limit="1") == [("a", 3)]
    assert shown(since="2026-02-02") == [("b", 2), ("a", 1), ("c", 1)]


def test_popular_view_counts_link_to_exactly_those_favourites(
    admin_client: Client, catalogue: Any
) -> None:
    response = admin_client.get(POPULAR, {"since": "2026-02-01", "until": "2026-02-28"})
    row = response.context["rows"][0]
    since, until = local(2026, 2, 1), local(2026, 3, 1)

    assert row["favourites_url"] == FAVOURITES + "?" + urlencode(
        {"item__exact": "b", "added__gte": str(since), "added__lt": str(until)}
    )
    listed = admin_client.get(row["favourites_url"])
    assert listed.status_code == 200
    assert sorted(f.added for f in listed.context["cl"].result_list) == [
        local(2026, 2, 10),
        local(2026, 2, 11),
    ]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            {"since": "2026-03-01", "until": "2026-02-01"},
            {"__all__": ["The period ends before it begins."]},
        ),
        ({"since": "yesterday"}, {"since": ["Enter a valid date."]}),
        ({"limit": "0"}, {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ({"limit": "5000"}, {"limit": ["Ensure this value is less than or equal to 1000."]}),
    ],
)
def test_popular_view_bad_input_is_a_form_error(
    admin_client: Client, catalogue: Any, query: dict[str, str], errors: dict[str, list[str]]
) -> None:
    response = admin_client.get(POPULAR, query)

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert response.context["rows"] == []
    assert "Please correct the errors below." in response.content.decode()


def test_popular_view_needs_permission_to_view_items(catalogue: Any) -> None:
    clerk = UserFactory(username="clerk", is_staff=True)
    client = Client()
    client.force_login(clerk)

    assert client.get(POPULAR).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_catalogueitem"))
    assert client.get(POPULAR).status_code == 200
    anonymous = Client().get(POPULAR)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")


def test_the_item_changelist_links_to_the_view(admin_client: Client, catalogue: Any) -> None:
    response = admin_client.get("/admin/dch_favourites/catalogueitem/")

    assert f'<a href="{POPULAR}" class="viewlink">Most favourited</a>' in response.content.decode()
