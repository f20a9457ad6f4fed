"""yt-dlp's real DigitalConcertHall extractor signs in and reads the favourites.

The extractor's code runs unchanged; a subclass only points its hard-coded host at the
live test server: ``_OAUTH_URL`` and the URLs its request method is given. It uses its own
client id and secret (``dch.webapp``), so the site has that application, made as
docs/signin.md says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from oauth2_provider.models import AccessToken, Application
from yt_dlp import YoutubeDL
from yt_dlp.extractor.digitalconcerthall import DigitalConcertHallIE
from yt_dlp.utils import ExtractorError, jwt_decode_hs256

from dch_favourites.models import Device
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, SignInApplicationFactory, UserFactory

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("oidc"),
]

ORIGINAL_HOST = "https://api.digitalconcerthall.com"


def local_extractor(base: str) -> type[DigitalConcertHallIE]:
    """The extractor with its host redirected to ``base``; nothing else changes."""

    class LocalDigitalConcertHallIE(DigitalConcertHallIE):
        _OAUTH_URL = DigitalConcertHallIE._OAUTH_URL.replace(ORIGINAL_HOST, base)

        def _request_webpage(self, url_or_request: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(url_or_request, str):
                url_or_request = url_or_request.replace(ORIGINAL_HOST, base)
            return super()._request_webpage(url_or_request, *args, **kwargs)

    return LocalDigitalConcertHallIE


#: The YoutubeDL instances a test opened, closed after it (their kept-alive connections).
OPENED: list[YoutubeDL] = []


@pytest.fixture(autouse=True)
def close_downloaders() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def signed_in(base: str, username: str, password: str) -> Any:
    """The extractor after its login step (``--username ... --password ...``)."""
    ydl = YoutubeDL(
        {
            "username": username,
            "password": password,
            "cachedir": False,
            "quiet": True,
            "no_warnings": True,
        }
    )
    OPENED.append(ydl)
    extractor = local_extractor(base)(ydl)
    extractor.initialize()
    return extractor


@pytest.fixture
def webapp(db: Any) -> Application:
    return SignInApplicationFactory(
        client_id=DigitalConcertHallIE._CLIENT_ID,
        client_secret=DigitalConcertHallIE._CLIENT_SECRET,
        name="DCH web app",
    )


@pytest.fixture
def listener(db: Any) -> Any:
    user = UserFactory(username="clara", password="clara-password")
    CatalogueItemFactory(id="301", title="Guardians of Unity")
    add_favourites(user, ["301"])
    return user


def browser_sign_in(base: str) -> dict[str, Any]:
    """What the web app did in the browser before: a device token, then the password grant."""
    headers = dict(DigitalConcertHallIE._OAUTH_HEADERS)
    device = requests.post(
        f"{base}/v2/oauth2/token",
        data={
            "grant_type": "device",
            "app_id": DigitalConcertHallIE._CLIENT_ID,
            "client_secret": DigitalConcertHallIE._CLIENT_SECRET,
            "affiliate": "none",
            "app_version": "1.95.0",
            "app_distributor": "berlinphil",
            "device_vendor": "unknown",
            "device_model": "Safari",
        },
        headers=headers,
        timeout=30,
    )
    assert device.status_code == 200, device.text
    user = requests.post(
        f"{base}/v2/oauth2/token",
        data={"grant_type": "password", "username": "clara", "password": "clara-password"},
        headers={**headers, "Authorization": f"Bearer {device.json()['access_token']}"},
        timeout=30,
    )
    assert user.status_code == 200, user.text
    return dict(user.json())


def test_refresh_path_gets_a_new_listener_token(
    live_server: Any, webapp: Application, listener: Any
) -> None:
    tokens = browser_sign_in(live_server.url)

    extractor = signed_in(live_server.url, "refresh", tokens["refresh_token"])

    access_token = extractor._access_token
    assert access_token not in (None, tokens["access_token"])
    claims = jwt_decode_hs256(access_token)
    assert claims["sub"] == str(listener.pk)
    assert claims["aud"] == "dch.webapp"
    assert not extractor._access_token_is_expired
    assert extractor._refresh_token not in (None, tokens["refresh_token"])  # rotated
    # The listener's token stayed on the device the browser signed in on; yt-dlp's own
    # "initial token" made a second device, without a listener.
    assert Device.objects.filter(user=listener).count() == 1
    assert Device.objects.count() == 2
    assert AccessToken.objects.filter(user=listener).count() == 1


def test_refresh_path_refuses_a_revoked_refresh_token(
    live_server: Any, webapp: Application, listener: Any
) -> None:
    tokens = browser_sign_in(live_server.url)
    Device.objects.get(user=listener).disconnect()

    with pytest.raises(ExtractorError, match="Unable to refresh token"):
        signed_in(live_server.url, "refresh", tokens["refresh_token"])
    assert not AccessToken.objects.filter(user=listener).exists()


def test_token_path_and_reading_the_favourites(
    live_server: Any, webapp: Application, listener: Any
) -> None:
    tokens = browser_sign_in(live_server.url)

    extractor = signed_in(live_server.url, "token", tokens["access_token"])
    assert extractor._access_token == tokens["access_token"]
    assert not extractor._access_token_is_expired

    favourites = extractor._download_json(
        f"{ORIGINAL_HOST}/v2/user/favourites",
        None,
        headers={
            "Accept": "application/json",
            "Authorization": f"Bearer {extractor._access_token}",
            "User-Agent": extractor._USER_AGENT,
        },
    )
    assert [entry["id"] for entry in favourites["_links"]["favourites"]] == ["301"]
    host = live_server.url.removeprefix("http:")
    assert favourites["_links"]["favourites"][0]["href"] == f"{host}/v2/film/301"


def test_token_path_refuses_an_opaque_token(live_server: Any, webapp: Application) -> None:
    with pytest.raises(ExtractorError, match="not valid"):
        signed_in(live_server.url, "token", "opaque-token-0123456789")


def test_the_extractor_reads_exp_from_the_token(
    live_server: Any, webapp: Application, listener: Any, settings: Any
) -> None:
    tokens = browser_sign_in(live_server.url)
    claims = jwt_decode_hs256(tokens["access_token"])
    lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert claims["exp"] - claims["iat"] == lifetime == tokens["expires_in"]
    assert json.loads(json.dumps(claims))["scopes"] == ["read", "write"]
    assert get_user_model().objects.count() == 1
