"""The example site driven the way a client app does: password grant, then the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from oauth2_provider.models import Application
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from dch_favourites.models import Favourite
from factories import CatalogueItemFactory, UserFactory

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

CLIENT_ID, CLIENT_SECRET = "tv-app", "tv-app-secret"


@pytest.fixture
def session(live_server: Any, monkeypatch: Any) -> Iterator[OAuth2Session]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live server speaks plain HTTP
    UserFactory(username="listener", password="listener-password")
    Application.objects.create(
        name="TV app",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_PASSWORD,
    )
    session = OAuth2Session(
        client=LegacyApplicationClient(client_id=CLIENT_ID), scope=["read", "write"]
    )
    token = session.fetch_token(
        token_url=f"{live_server.url}/oauth2/token",
        username="listener",
        password="listener-password",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert token["token_type"] == "Bearer"
    assert set(token["scope"]) == {"read", "write"}
    with session:  # closed after the test, so no kept-alive connection lingers
        yield session


def test_client_app_lists_adds_and_deletes(live_server: Any, session: OAuth2Session) -> None:
    CatalogueItemFactory(id="301", title="“Guardians of Unity”")
    CatalogueItemFactory(id="302")
    url = f"{live_server.url}/v2/user/favourites"
    host = live_server.url.removeprefix("http:")

    first = session.get(url, headers={"Accept": "application/hal+json"})
    assert first.status_code == 200
    assert first.json() == {"updated": 0, "_links": {"favourites": []}}

    added = session.post(url, data={"action": "add", "id": ["301", "302"]})
    assert added.status_code == 200
    assert added.headers["Content-Type"] == "application/hal+json; charset=utf-8"
    entries = added.json()["_links"]["favourites"]
    assert [e["id"] for e in entries] == ["302", "301"]
    assert entries[1]["href"] == f"{host}/v2/film/301"
    assert entries[1]["title"] == "“Guardians of Unity”"
    assert added.json()["updated"] > 0

    deleted = session.post(url, data={"action": "delete", "id": "302"})
    assert deleted.status_code == 200
    assert [e["id"] for e in deleted.json()["_links"]["favourites"]] == ["301"]
    assert deleted.json()["updated"] > added.json()["updated"]

    assert session.get(url).json() == deleted.json()
    assert list(Favourite.objects.values_list("item_id", flat=True)) == ["301"]

    stale = session.get(url, headers={"If-None-Match": added.headers["ETag"]})
    assert stale.status_code == 200
    fresh = session.get(url, headers={"If-None-Match": deleted.headers["ETag"]})
    assert fresh.status_code == 304
    assert fresh.content == b""
