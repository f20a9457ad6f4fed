"""The device grant, sign-in with the device token, refresh, disconnect, ``GET /v2/user``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.utils import timezone
from endpoints import URL
from oauth2_provider.models import AccessToken, Application, RefreshToken

from dch_favourites.models import Device, DeviceToken
from factories import (
    APP_SECRET,
    AccessTokenFactory,
    ApplicationFactory,
    SignInApplicationFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("oidc")]

TOKEN_URL = "/v2/oauth2/token"
LEGACY_401 = {"message": "A Token was not found in the TokenStorage."}
DEVICE = {
    "grant_type": "device",
    "app_id": "dch.android",
    "client_secret": APP_SECRET,
    "affiliate": "none",
    "app_version": "2.4.1",
    "app_distributor": "google",
    "device_vendor": "Google",
    "device_model": "Pixel 8",
}


@pytest.fixture
def app(db: Any) -> Application:
    return SignInApplicationFactory(client_id="dch.android")


@pytest.fixture
def clara(db: Any) -> Any:
    return UserFactory(username="clara", password="clara-password", first_name="Clara")


def device_token(client: Client | None = None, **fields: str) -> Any:
    response = (client or Client()).post(TOKEN_URL, {**DEVICE, **fields})
    assert response.status_code == 200, response.content
    return response.json()


def sign_in(token: str, **fields: str) -> Any:
    return Client().post(
        TOKEN_URL,
        {"grant_type": "password", "username": "clara", "password": "clara-password", **fields},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


# -- the device grant ------------------------------------------------------------------


def test_device_grant_keeps_the_installation(app: Application) -> None:
    body = device_token()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write"
    device = Device.objects.get()
    assert device.application == app
    assert device.user is None
    assert device.disconnected is None
    fields = ("app_version", "app_distributor", "device_vendor", "device_model", "affiliate")
    assert {name: getattr(device, name) for name in fields} == {
        name: DEVICE[name] for name in fields
    }
    token = AccessToken.objects.get()
    assert token.user is None
    assert token.token == ""  # hashed at rest
    assert DeviceToken.objects.get().access_token == token
    assert not RefreshToken.objects.exists()  # the device's own refresh token is on the device
    assert len(device.refresh_token_checksum) == 64


def test_device_fields_are_optional(app: Application) -> None:
    device_token(affiliate="", device_model="")
    assert (Device.objects.get().affiliate, Device.objects.get().device_model) == ("", "")


@pytest.mark.parametrize(
    ("fields", "status", "body"),
    [
        ({"client_secret": "wrong"}, 401, {"error": "invalid_client"}),
        ({"app_id": "dch.ios"}, 401, {"error": "invalid_client"}),
        (
            {"app_id": ""},
            400,
            {
                "error": "invalid_request",
                "error_description": "Request is missing app_id parameter.",
            },
        ),
        (
            {"client_id": "dch.webapp"},
            400,
            {
                "error": "invalid_request",
                "error_description": "Parameters app_id and client_id name different clients.",
            },
        ),
        (
            {"device_model": "x" * 101},
            400,
            {
                "error": "invalid_request",
                "error_description": "Parameter device_model is longer than 100 characters.",
            },
        ),
        (
            {"affiliate": "a\x00b"},
            400,
            {
                "error": "invalid_request",
                "error_description": "Parameter affiliate holds a control character.",
            },
        ),
        ({"scope": "admin"}, 400, {"error": "invalid_scope"}),
    ],
)
def test_device_grant_refusals(
    app: Application, fields: dict[str, str], status: int, body: dict[str, str]
) -> None:
    response = Client().post(TOKEN_URL, {**DEVICE, **fields})
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == body
    assert not Device.objects.exists()
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    ("client_type", "grant_type"),
    [
        (Application.CLIENT_PUBLIC, Application.GRANT_PASSWORD),
        (Application.CLIENT_CONFIDENTIAL, Application.GRANT_AUTHORIZATION_CODE),
    ],
)
def test_device_grant_needs_a_confidential_password_app(client_type: str, grant_type: str) -> None:
    SignInApplicationFactory(
        client_id="dch.android",
        client_type=client_type,
        authorization_grant_type=grant_type,
        redirect_uris="https://app.example.com/cb",
    )
    response = Client().post(TOKEN_URL, DEVICE)
    assert (response.status_code, response.json()) == (400, {"error": "unauthorized_client"})
    assert not Device.objects.exists()


# -- sign-in with the device token -----------------------------------------------------


def test_sign_in_with_the_device_token(app: Application, clara: Any) -> None:
    device = device_token()
    response = sign_in(device["access_token"])
    assert response.status_code == 200, response.content
    token = AccessToken.objects.get(user=clara)
    assert token.application == app
    stored = Device.objects.get()
    assert stored.user == clara
    assert set(stored.tokens.values_list("access_token__user", flat=True)) == {None, clara.pk}
    assert RefreshToken.objects.get(user=clara).access_token == token


def test_sign_in_with_the_device_token_and_its_own_client_id(app: Application, clara: Any) -> None:
    response = sign_in(device_token()["access_token"], client_id="dch.android")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("device_scope", "asked", "granted"),
    [("read write", {"scope": "read"}, "read"), ("read", {}, "read write")],
)
def test_sign_in_scopes_are_the_requests_not_the_device_tokens(
    app: Application, clara: Any, device_scope: str, asked: dict[str, str], granted: str
) -> None:
    device = device_token(scope=device_scope)
    assert device["scope"] == device_scope
    response = sign_in(device["access_token"], **asked)
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == granted
    assert AccessToken.objects.get(user=clara).scope == granted


@pytest.mark.parametrize(
    "case",
    ["unknown", "expired", "revoked", "user token", "other app", "disconnected", "no device"],
)
def test_sign_in_refuses_a_bad_device_token(app: Application, clara: Any, case: str) -> None:
    fields: dict[str, str] = {}
    token = device_token()["access_token"]
    stored = AccessToken.objects.get()
    if case == "unknown":
        token = "not-a-token"
    elif case == "expired":
        AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    elif case == "revoked":
        stored.revoke()
    elif case == "user token":
        token = sign_in(token).json()["access_token"]
    elif case == "other app":
        SignInApplicationFactory(client_id="dch.webapp")
        fields = {"client_id": "dch.webapp"}
    elif case == "disconnected":
        Device.objects.get().disconnect()
        token_count = 0
        assert AccessToken.objects.count() == token_count
    elif case == "no device":
        token = "plain-device-token-0123456789"
        AccessTokenFactory(user=None, application=app, token=token)
    before = AccessToken.objects.filter(user=clara).count()

    response = sign_in(token, **fields)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "invalid_client"}
    assert AccessToken.objects.filter(user=clara).count() == before


def test_a_wrong_password_with_a_good_device_token(app: Application, clara: Any) -> None:
    response = sign_in(device_token()["access_token"], password="wrong")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid credentials given.",
    }
    assert Device.objects.get().user is None


# -- refresh ---------------------------------------------------------------------------


def refresh(refresh_token: str, bearer: str | None = None) -> Any:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {bearer}"} if bearer else {}
    return Client().post(
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "dch.android",
            "client_secret": APP_SECRET,
        },
        **extra,
    )


def test_a_listener_refresh_keeps_the_token_on_its_device(app: Application, clara: Any) -> None:
    signed_in = sign_in(device_token()["access_token"]).json()
    response = refresh(signed_in["refresh_token"], bearer=signed_in["access_token"])
    assert response.status_code == 200, response.content
    renewed = response.json()
    assert renewed["refresh_token"] != signed_in["refresh_token"]
    token = AccessToken.objects.get(user=clara)
    assert DeviceToken.objects.get(access_token=token).device == Device.objects.get()
    # Reuse protection (RFC 9700 gate): the old refresh token is refused, its family revoked.
    replay = refresh(signed_in["refresh_token"])
    assert (replay.status_code, replay.json()) == (400, {"error": "invalid_grant"})
    assert not AccessToken.objects.filter(user=clara).exists()


def test_a_device_refresh_renews_the_device_token(app: Application, clara: Any) -> None:
    first = device_token()
    signed_in = sign_in(first["access_token"])
    assert signed_in.status_code == 200

    response = refresh(first["refresh_token"])

    assert response.status_code == 200, response.content
    renewed = response.json()
    assert renewed["refresh_token"] != first["refresh_token"]
    device = Device.objects.get()
    device_tokens = AccessToken.objects.filter(dch_device_link__device=device, user=None)
    assert device_tokens.count() == 1  # the old device token is revoked
    assert AccessToken.objects.filter(user=clara).count() == 1  # the listener's stays
    assert sign_in(first["access_token"]).status_code == 401
    assert sign_in(renewed["access_token"]).status_code == 200
    assert refresh(first["refresh_token"]).json() == {"error": "invalid_grant"}


def test_a_device_refresh_token_of_another_app_is_refused(app: Application) -> None:
    first = device_token()
    SignInApplicationFactory(client_id="dch.webapp")
    response = Client().post(
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": "dch.webapp",
            "client_secret": APP_SECRET,
        },
    )
    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})


# -- disconnecting ---------------------------------------------------------------------


def test_disconnect_revokes_every_token_at_once(app: Application, clara: Any) -> None:
    first = device_token()
    signed_in = sign_in(first["access_token"]).json()
    other = device_token()  # another device of the same app
    device = Device.objects.get(user=clara)

    assert device.disconnect() == 2

    assert device.disconnected is not None
    assert not AccessToken.objects.filter(dch_device_link__device=device).exists()
    assert not RefreshToken.objects.filter(user=clara, revoked__isnull=True).exists()
    assert AccessToken.objects.filter(dch_device_link__device__user=None).count() == 1
    api = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {signed_in['access_token']}")
    assert (api.status_code, api.json()) == (401, LEGACY_401)
    assert refresh(signed_in["refresh_token"]).status_code == 400
    assert refresh(first["refresh_token"]).status_code == 400
    assert sign_in(other["access_token"]).status_code == 200


def test_admin_disconnect_action(app: Application, clara: Any) -> None:
    sign_in(device_token()["access_token"])
    device_token()
    staff = UserFactory(username="support", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    devices = list(Device.objects.values_list("pk", flat=True))

    page = admin.get("/admin/dch_favourites/device/")
    assert page.status_code == 200
    response = admin.post(
        "/admin/dch_favourites/device/",
        {"action": "disconnect_devices", ACTION_CHECKBOX_NAME: [str(pk) for pk in devices]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Disconnected 2 devices. 3 tokens revoked." in response.content.decode()
    assert not Device.objects.filter(disconnected__isnull=True).exists()
    assert not AccessToken.objects.exists()
    assert admin.get(f"/admin/dch_favourites/device/{devices[0]}/change/").status_code == 200
    assert admin.get("/admin/dch_favourites/device/add/").status_code == 403


def test_admin_disconnect_needs_the_change_permission(app: Application) -> None:
    from django.contrib.auth.models import Permission

    device_token()
    staff = UserFactory(username="viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_device"))
    admin = Client()
    admin.force_login(staff)
    response = admin.post(
        "/admin/dch_favourites/device/",
        {"action": "disconnect_devices", ACTION_CHECKBOX_NAME: [str(Device.objects.get().pk)]},
    )
    assert response.status_code == 200  # the list again: the action is not offered
    assert Device.objects.get().disconnected is None
    assert AccessToken.objects.count() == 1


# -- GET /v2/user ----------------------------------------------------------------------


def test_profile(app: Application, clara: Any, django_assert_num_queries: Any) -> None:
    token = sign_in(device_token()["access_token"]).json()["access_token"]
    client = Client()
    with django_assert_num_queries(1):  # the token's, which loads its user
        response = client.get("/v2/user", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {
        "uid": clara.pk,
        "username": "clara",
        "email": "clara@example.com",
        "first_name": "Clara",
        "last_name": "",
        "_links": {"favourites": {"href": "//testserver/v2/user/favourites"}},
    }
    head = client.head("/v2/user", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (head.status_code, head.content) == (200, b"")


def test_profile_refuses_a_device_token(app: Application) -> None:
    response = Client().get(
        "/v2/user", HTTP_AUTHORIZATION=f"Bearer {device_token()['access_token']}"
    )
    assert (response.status_code, response.json()) == (401, LEGACY_401)
    assert Client().get("/v2/user").status_code == 401


def test_profile_needs_the_read_scope(clara: Any) -> None:
    token = AccessTokenFactory(user=clara, scope="write", application=ApplicationFactory())
    response = Client().get("/v2/user", HTTP_AUTHORIZATION=f"Bearer {token.token}")
    assert response.status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_profile_other_methods_are_405(method: str, clara: Any) -> None:
    token = AccessTokenFactory(user=clara)
    response = getattr(Client(), method)("/v2/user", HTTP_AUTHORIZATION=f"Bearer {token.token}")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    message = f'No route found for "{method.upper()} /v2/user": Method Not Allowed (Allow: GET)'
    assert response.json() == {"error": {"message": message}}


def test_profile_post_body_is_the_spec_example_byte_for_byte() -> None:
    response = Client().post("/v2/user")
    assert response.status_code == 405
    # Without a token too: the original router answered before the firewall.
    assert json.loads(response.content) == {
        "error": {"message": 'No route found for "POST /v2/user": Method Not Allowed (Allow: GET)'}
    }
