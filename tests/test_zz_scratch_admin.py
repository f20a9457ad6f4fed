import pytest
from django.test import Client
from factories import UserFactory, CatalogueItemFactory, ConcertFactory, WorkFactory
from dch_favourites.services import add_favourites

pytestmark = pytest.mark.django_db


def test_smoke(client):
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client.force_login(staff)
    c = ConcertFactory(id="23427")
    w = WorkFactory(id="23427-1")
    w2 = WorkFactory(id="999-1")
    u = UserFactory()
    add_favourites(u, ["23427-1", "23427"])
    for url in [
        "/admin/dch_favourites/catalogueitem/",
        "/admin/dch_favourites/favourite/",
        f"/admin/auth/user/{u.pk}/change/",
        "/admin/dch_favourites/catalogueitem/23427-1/change/",
        "/admin/dch_favourites/catalogueitem/popular/",
        "/admin/dch_favourites/favourite/add/",
        "/admin/auth/user/add/",
    ]:
        r = client.get(url)
        print(url, r.status_code)
        __import__("pathlib").Path(
            "/tmp/scratch/" + url.strip("/").replace("/", "_") + ".html"
        ).write_bytes(r.content)
