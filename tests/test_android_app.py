"""The original Android app's sequence, over HTTP, with exactly the fields it sends.

Device grant, sign-in with the device token, ``GET /v2/user``, ``GET /v2/user/favourites``,
a JSON add, a JSON remove, the device disconnected in the admin, then 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from oauth2_provider.models import AccessToken, RefreshToken

from dch_favourites.models import Device, Favourite
from factories import APP_SECRET, CatalogueItemFactory, SignInApplicationFactory, UserFactory

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("oidc"),
]

APP_HEADERS = {
    "Accept": "application/json",
    "Accept-Language": "de, en",
    "Cache-Control": "no-cache",
    "User-Agent": "DCH/2.4.1 (Android 14; Pixel 8)",
}
LEGACY_401 = {"message": "A Token was not found in the TokenStorage."}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """The app's HTTP client; closed after the test, so no kept-alive connection lingers."""
    with requests.Session() as session:
        session.headers.update(APP_HEADERS)
        yield session


def test_android_sequence(live_server: Any, http: requests.Session) -> None:
    base = f"{live_server.url}/v2"
    app = SignInApplicationFactory(client_id="dch.android", name="DCH Android")
    listener = UserFactory(
        username="clara", password="clara-password", first_name="Clara", last_name="Schumann"
    )
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")

    device = http.post(
        f"{base}/oauth2/token",
        data={
            "grant_type": "device",
            "app_id": "dch.android",
            "client_secret": APP_SECRET,
            "affiliate": "none",
            "app_version": "2.4.1",
            "app_distributor": "google",
            "device_vendor": "Google",
            "device_model": "Pixel 8",
        },
        timeout=30,
    )
    assert device.status_code == 200, device.text
    assert device.headers["Content-Type"] == "application/json"
    assert device.headers["Cache-Control"] == "no-store"
    device_token = device.json()
    assert set(device_token) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
    }
    assert device_token["token_type"] == "Bearer"
    stored = Device.objects.get()
    assert (stored.application, stored.user) == (app, None)
    assert (stored.app_version, stored.app_distributor, stored.affiliate) == (
        "2.4.1",
        "google",
        "none",
    )
    assert (stored.device_vendor, stored.device_model) == ("Google", "Pixel 8")

    signed_in = http.post(
        f"{base}/oauth2/token",
        data={"grant_type": "password", "username": "clara", "password": "clara-password"},
        headers={"Authorization": f"Bearer {device_token['access_token']}"},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    stored.refresh_from_db()
    assert stored.user == listener

    profile = http.get(f"{base}/user", headers=bearer, timeout=30)
    assert profile.status_code == 200
    host = live_server.url.removeprefix("http:")
    assert profile.json() == {
        "uid": listener.pk,
        "username": "clara",
        "email": "clara@example.com",
        "first_name": "Clara",
        "last_name": "Schumann",
        "_links": {"favourites": {"href": f"{host}/v2/user/favourites"}},
    }

    empty = http.get(f"{base}/user/favourites", headers=bearer, timeout=30)
    assert (empty.status_code, empty.json()) == (200, {"updated": 0, "_links": {"favourites": []}})

    added = http.post(
        f"{base}/user/favourites", json={"action": "add", "id": "301"}, headers=bearer, timeout=30
    )
    assert added.status_code == 200, added.text
    assert [entry["id"] for entry in added.json()["_links"]["favourites"]] == ["301"]

    removed = http.post(
        f"{base}/user/favourites",
        json={"action": "remove", "id": "301"},
        headers=bearer,
        timeout=30,
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["_links"]["favourites"] == []
    assert not Favourite.objects.filter(user=listener).exists()

    staff = UserFactory(username="support", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    answer = admin.post(
        "/admin/dch_favourites/device/",
        {"action": "disconnect_devices", ACTION_CHECKBOX_NAME: [str(stored.pk)]},
    )
    assert answer.status_code == 302
    stored.refresh_from_db()
    assert stored.disconnected is not None
    assert not AccessToken.objects.exists()
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0

    after = http.get(f"{base}/user/favourites", headers=bearer, timeout=30)
    assert (after.status_code, after.json()) == (401, LEGACY_401)
    again = http.post(
        f"{base}/oauth2/token",
        data={"grant_type": "password", "username": "clara", "password": "clara-password"},
        headers={"Authorization": f"Bearer {device_token['access_token']}"},
        timeout=30,
    )
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"
