"""The third outside battery: the sign-in endpoints under hostile input.

Through the real endpoints of the example site, with real applications, users and tokens:
every answer at a token endpoint is JSON with ``Cache-Control: no-store``, never a 500.
"""

from __future__ import annotations

import base64
import io
import logging
from typing import Any
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher, make_password
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from oauth2_provider.models import AccessToken, Application, RefreshToken

from dch_favourites.models import Device
from dch_favourites.oauth2.throttling import SignInThrottle
from factories import APP_SECRET, ApplicationFactory, SignInApplicationFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URLS = ["/v2/oauth2/token", "/oauth2/token", "/oauth2/token/"]
TOKEN_URL = TOKEN_URLS[0]
PASSWORD = {"grant_type": "password", "username": "clara", "password": "clara-password"}
CREDENTIALS = {"client_id": "dch.android", "client_secret": APP_SECRET}
DEVICE = {"grant_type": "device", "app_id": "dch.android", "client_secret": APP_SECRET}
INVALID_CLIENT = {"error": "invalid_client"}
MALFORMED = {"error": "invalid_request", "error_description": "The request body is malformed."}


@pytest.fixture
def app(db: Any) -> Application:
    return SignInApplicationFactory(client_id="dch.android")


@pytest.fixture
def clara(db: Any) -> Any:
    return UserFactory(username="clara", password="clara-password")


def post(data: Any, url: str = TOKEN_URL, address: str = "203.0.113.7", **extra: Any) -> Any:
    return Client(REMOTE_ADDR=address).post(url, data, **extra)


def assert_json(response: Any, status: int, body: dict[str, str]) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == body


def basic(client_id: str, secret: str = APP_SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def signed_in() -> dict[str, str]:
    response = post({**PASSWORD, **CREDENTIALS})
    assert response.status_code == 200, response.content
    body: dict[str, str] = response.json()
    return body


# -- 1. the password grant is for clients that authenticate ------------------------------


def test_a_public_application_gets_no_token_by_the_password_grant_without_credentials(
    clara: Any,
) -> None:
    ApplicationFactory(
        client_id="public.app",
        client_type=Application.CLIENT_PUBLIC,
        client_secret=APP_SECRET,
    )
    for wrong in ({}, {"client_secret": "not-the-secret"}):
        response = post({**PASSWORD, "client_id": "public.app", **wrong})
        assert_json(response, 401, INVALID_CLIENT)
    assert not AccessToken.objects.exists()


def test_a_public_application_that_authenticates_signs_in_as_the_toolkit_lets_it(
    clara: Any,
) -> None:
    """django-oauth-toolkit lets an application with a secret authenticate, public or not."""
    ApplicationFactory(
        client_id="public.app",
        client_type=Application.CLIENT_PUBLIC,
        client_secret=APP_SECRET,
    )
    in_body = post({**PASSWORD, "client_id": "public.app", "client_secret": APP_SECRET})
    by_basic = post(PASSWORD, HTTP_AUTHORIZATION=basic("public.app"))
    assert in_body.status_code == by_basic.status_code == 200
    assert AccessToken.objects.filter(user=clara).count() == 2


def test_a_confidential_application_still_signs_in(app: Application, clara: Any) -> None:
    assert post({**PASSWORD, **CREDENTIALS}).status_code == 200
    basic_auth = post(PASSWORD, HTTP_AUTHORIZATION=basic("dch.android"))
    assert basic_auth.status_code == 200
    assert AccessToken.objects.filter(user=clara).count() == 2


# -- 2, 3. bodies Django cannot read -----------------------------------------------------


@pytest.mark.parametrize("url", TOKEN_URLS)
@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary"],
)
def test_a_multipart_body_without_a_boundary_is_invalid_request(
    url: str, content_type: str
) -> None:
    response = Client().generic("POST", url, b"grant_type=password", content_type=content_type)
    assert_json(response, 400, MALFORMED)


@pytest.mark.parametrize("url", TOKEN_URLS)
def test_a_form_body_in_another_charset_is_invalid_request(url: str) -> None:
    content_type = "application/x-www-form-urlencoded; charset=latin-1"
    response = Client().generic("POST", url, "username=j\xf6rg".encode("latin-1"), content_type)
    assert_json(response, 400, MALFORMED)


# -- 4. a username longer than any ------------------------------------------------------


def test_a_256_character_username_is_invalid_grant(app: Application) -> None:
    response = post({**PASSWORD, **CREDENTIALS, "username": "u" * 256})
    assert_json(
        response, 400, {"error": "invalid_grant", "error_description": "Invalid credentials given."}
    )
    assert not AccessAttempt.objects.exists()


def test_a_256_character_username_is_a_form_error_at_the_admin_login(db: Any) -> None:
    response = Client().post("/admin/login/", {"username": "u" * 256, "password": "x"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "username": ["Ensure this value has at most 150 characters (it has 256)."]
    }
    assert not AccessAttempt.objects.exists()


# -- 5. a password change signs the listener out -----------------------------------------


def change_in_the_admin(user: Any) -> None:
    admin = Client()
    admin.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    response = admin.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": "new-password-1", "password2": "new-password-1"},
    )
    assert response.status_code == 302


def change_by_command(user: Any) -> None:
    with mock.patch("getpass.getpass", return_value="new-password-1"):
        call_command("changepassword", user.username, stdout=io.StringIO())


def change_in_code(user: Any) -> None:
    user.set_password("new-password-1")
    user.save()


@pytest.mark.parametrize("change", [change_in_the_admin, change_by_command, change_in_code])
def test_a_password_change_revokes_the_listeners_tokens(
    app: Application, clara: Any, change: Any
) -> None:
    tokens = signed_in()
    robert = UserFactory(username="robert", password="robert-password")
    others = post({**PASSWORD, **CREDENTIALS, "username": "robert", "password": "robert-password"})
    assert others.status_code == 200

    change(clara)

    assert not AccessToken.objects.filter(user=clara).exists()
    assert RefreshToken.objects.get(user=clara).revoked is not None
    assert AccessToken.objects.filter(user=robert).count() == 1
    bearer = f"Bearer {tokens['access_token']}"
    assert Client().get("/v2/user/favourites", HTTP_AUTHORIZATION=bearer).status_code == 401
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert_json(post({**refresh, **CREDENTIALS}), 400, {"error": "invalid_grant"})


def test_a_rehash_at_sign_in_is_no_password_change(app: Application, clara: Any) -> None:
    signed_in()
    # A salt too short for the hasher: Django rehashes the password at the next sign-in.
    clara.password = make_password("clara-password", salt="short", hasher="md5")
    clara.save(update_fields=["password"])
    signed_in()
    clara.refresh_from_db()
    assert not clara.password.startswith("md5$short$")
    assert AccessToken.objects.filter(user=clara).count() == 2


def test_a_site_may_keep_tokens_across_password_changes(app: Application, clara: Any) -> None:
    signed_in()
    with override_settings(AUTH_PASSWORD_VALIDATORS=[]):
        change_in_code(clara)
    assert AccessToken.objects.filter(user=clara).count() == 1


# -- 5. repeated parameters ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["grant_type", "client_secret", "app_id", "username"])
def test_a_repeated_parameter_is_invalid_request(app: Application, clara: Any, name: str) -> None:
    data = {**DEVICE, **PASSWORD} if name == "app_id" else {**PASSWORD, **CREDENTIALS}
    if name == "app_id":
        data["grant_type"] = "device"
    body = "&".join(f"{key}={value}" for key, value in data.items()) + f"&{name}=other"
    response = Client().post(TOKEN_URL, body, content_type="application/x-www-form-urlencoded")
    assert_json(
        response,
        400,
        {"error": "invalid_request", "error_description": f"Parameter {name} is repeated."},
    )
    assert not AccessToken.objects.exists()
    assert not Device.objects.exists()


def test_a_repeated_resource_is_rfc_8707s(app: Application, clara: Any) -> None:
    body = "&".join(f"{key}={value}" for key, value in {**PASSWORD, **CREDENTIALS}.items())
    body += "&resource=https://a.example/v2&resource=https://b.example/v2"
    response = Client().post(TOKEN_URL, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content


# -- 5. one token endpoint, with or without the slash ------------------------------------


def test_the_token_endpoint_with_a_slash_is_the_apps(app: Application, clara: Any) -> None:
    assert_json(
        Client().get("/oauth2/token/"),
        405,
        {
            "error": "invalid_request",
            "error_description": "The token endpoint accepts POST, not GET.",
        },
    )
    device = post(DEVICE, url="/oauth2/token/")
    assert device.status_code == 200
    assert device["Content-Type"] == "application/json"
    assert Device.objects.count() == 1


# -- 5. client-secret guessing and device grants are rated ------------------------------

RATES = {
    "dch_favourites_client_failures_client": "4/min",
    "dch_favourites_client_failures_address": "2/min",
    "dch_favourites_device_grants_client": "3/hour",
    "dch_favourites_device_grants_address": "2/hour",
}
LOCKED_CLIENT = {
    "error": "invalid_client",
    "error_description": "Too many failed client authentications: try again in 60 seconds.",
}


@pytest.fixture
def rates(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES}


def guess(address: str, **extra: str) -> Any:
    data = {"grant_type": "client_credentials", "client_id": "dch.android", "client_secret": "x"}
    return post({**data, **extra}, address=address)


@pytest.mark.usefixtures("rates")
def test_secret_guessing_locks_the_address_out(cache_backend: str, app: Application) -> None:
    app.authorization_grant_type = Application.GRANT_CLIENT_CREDENTIALS
    app.save()
    with mock.patch.object(SignInThrottle, "timer", return_value=1_800_000_000.0):
        assert_json(guess("203.0.113.7"), 401, INVALID_CLIENT)
        assert_json(guess("203.0.113.7"), 401, INVALID_CLIENT)
        locked = guess("203.0.113.7", client_secret=APP_SECRET)
        assert_json(locked, 429, LOCKED_CLIENT)
        assert locked["Retry-After"] == "60"
        # The client is not locked yet (4 a minute): its right secret from elsewhere works.
        assert guess("198.51.100.9", client_secret=APP_SECRET).status_code == 200
        # Unknown client ids count against the address too.
        assert guess("198.51.100.20", client_id="nobody").status_code == 401
        assert guess("198.51.100.20", client_id="nobody").status_code == 401
        assert guess("198.51.100.20", client_secret=APP_SECRET).status_code == 429


@pytest.mark.usefixtures("rates")
def test_a_locked_out_client_at_the_toolkits_introspection_endpoint_is_403(
    app: Application,
) -> None:
    """django-oauth-toolkit's client-protected views call the validator outside oauthlib."""
    app.authorization_grant_type = Application.GRANT_CLIENT_CREDENTIALS
    app.save()
    with mock.patch.object(SignInThrottle, "timer", return_value=1_800_000_000.0):
        for _ in range(2):
            assert guess("203.0.113.7").status_code == 401
        introspected = Client(raise_request_exception=False).post(
            "/oauth2/introspect/",
            {"token": "anything"},
            HTTP_AUTHORIZATION=basic(app.client_id),
            REMOTE_ADDR="203.0.113.7",
        )
    assert introspected.status_code == 403


@pytest.mark.usefixtures("rates")
def test_secret_guessing_over_http_basic_locks_the_client_out(app: Application) -> None:
    """The toolkit forgets the client a failed HTTP Basic attempt named; the count does not."""
    app.authorization_grant_type = Application.GRANT_CLIENT_CREDENTIALS
    app.save()
    grant = {"grant_type": "client_credentials"}
    with mock.patch.object(SignInThrottle, "timer", return_value=1_800_000_000.0):
        for n in range(4):
            address = f"198.51.100.{n}"
            wrong = post(grant, address=address, HTTP_AUTHORIZATION=basic(app.client_id, "x"))
            assert_json(wrong, 401, INVALID_CLIENT)
        right = post(grant, address="198.51.100.99", HTTP_AUTHORIZATION=basic(app.client_id))
        assert_json(right, 429, LOCKED_CLIENT)


@pytest.mark.usefixtures("rates")
def test_bearer_tokens_at_the_toolkits_introspection_endpoint_are_no_failed_sign_ins(
    app: Application,
) -> None:
    """It asks for client credentials first, then takes a bearer token: none were guessed."""
    app.authorization_grant_type = Application.GRANT_CLIENT_CREDENTIALS
    app.save()
    with mock.patch.object(SignInThrottle, "timer", return_value=1_800_000_000.0):
        for _ in range(3):
            introspected = Client(REMOTE_ADDR="203.0.113.7").post(
                "/oauth2/introspect/", {"token": "anything"}, HTTP_AUTHORIZATION="Bearer nope"
            )
            assert introspected.status_code == 403
        right = guess("203.0.113.7", client_secret=APP_SECRET)
    assert right.status_code == 200, right.content


@pytest.mark.usefixtures("rates")
def test_secret_guessing_with_get_at_the_introspection_endpoint_counts(
    app: Application,
) -> None:
    app.authorization_grant_type = Application.GRANT_CLIENT_CREDENTIALS
    app.save()
    with mock.patch.object(SignInThrottle, "timer", return_value=1_800_000_000.0):
        for _ in range(2):
            introspected = Client(REMOTE_ADDR="203.0.113.7").get(
                "/oauth2/introspect/", {"token": "x"}, HTTP_AUTHORIZATION=basic(app.client_id, "x")
            )
            assert introspected.status_code == 403
        locked = guess("203.0.113.7", client_secret=APP_SECRET)
    assert_json(locked, 429, LOCKED_CLIENT)


@pytest.mark.usefixtures("rates")
def test_secret_guessing_from_many_addresses_locks_the_client_out(app: Application) -> None:
    app.authorization_grant_type = Application.GRANT_CLIENT_CREDENTIALS
    app.save()
    with mock.patch.object(SignInThrottle, "timer", return_value=1_800_000_000.0):
        for n in range(4):
            assert guess(f"198.51.100.{n}").status_code == 401
        assert_json(guess("198.51.100.99", client_secret=APP_SECRET), 429, LOCKED_CLIENT)
        # Another client is not affected.
        SignInApplicationFactory(
            client_id="dch.webapp", authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS
        )
        other = guess("198.51.100.99", client_secret=APP_SECRET, client_id="dch.webapp")
        assert other.status_code == 200
    with mock.patch.object(
        SignInThrottle, "timer", return_value=1_800_000_060.0
    ):  # the next minute
        assert guess("198.51.100.99", client_secret=APP_SECRET).status_code == 200


def test_an_unknown_client_costs_the_hashing_of_a_wrong_secret(app: Application) -> None:
    real = MD5PasswordHasher.encode
    with mock.patch.object(MD5PasswordHasher, "encode", autospec=True, side_effect=real) as encode:
        assert guess("203.0.113.7", client_id="nobody").status_code == 401
        unknown = encode.call_count
        encode.reset_mock()
        assert guess("203.0.113.8").status_code == 401
        known = encode.call_count
    assert unknown == known == 1


@pytest.mark.usefixtures("rates")
@mock.patch.object(SignInThrottle, "timer", return_value=1_800_000_000.0)
def test_device_grants_are_rated_per_address_and_per_client(timer: Any, app: Application) -> None:
    assert post(DEVICE, address="203.0.113.7").status_code == 200
    assert post(DEVICE, address="203.0.113.7").status_code == 200
    refused = post(DEVICE, address="203.0.113.7")
    assert refused.status_code == 429
    assert refused.json()["error"] == "invalid_request"
    assert refused.json()["error_description"].startswith("Too many new devices: try again in ")
    assert refused["Retry-After"] == "3600"
    # The client's fourth, from another address (the refused one counted too).
    assert post(DEVICE, address="198.51.100.9").status_code == 429
    assert Device.objects.count() == 2


# -- 5. credentials of one application, the body naming another -------------------------


def test_basic_credentials_of_another_application_are_invalid_client(
    app: Application, clara: Any
) -> None:
    SignInApplicationFactory(client_id="dch.webapp")
    device = post({**DEVICE, "app_id": "dch.webapp"}, HTTP_AUTHORIZATION=basic("dch.android"))
    assert_json(device, 401, INVALID_CLIENT)
    password = post(
        {**PASSWORD, "client_id": "dch.webapp"}, HTTP_AUTHORIZATION=basic("dch.android")
    )
    assert_json(password, 401, INVALID_CLIENT)
    assert not AccessToken.objects.exists()


# -- 5. a NUL character in a client id (PostgreSQL cannot compare one) --------------------


@pytest.mark.parametrize(
    ("data", "authorization"),
    [
        ({**PASSWORD, "client_id": "dch.android\x00", "client_secret": APP_SECRET}, None),
        ({**PASSWORD, "client_id": "\x00"}, None),
        ({"grant_type": "refresh_token", "refresh_token": "r", "client_id": "a\x00"}, None),
        ({"grant_type": "client_credentials", "client_id": "a\x00", "client_secret": "s"}, None),
        ({**DEVICE, "app_id": "dch.android\x00"}, None),
        (PASSWORD, basic("dch.android\x00")),
        ({**PASSWORD, "client_id": "dch.android\x00"}, basic("dch.android")),
    ],
)
def test_a_client_id_with_a_nul_character_is_invalid_client(
    app: Application, clara: Any, data: dict[str, str], authorization: str | None
) -> None:
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    assert_json(post(data, **extra), 401, INVALID_CLIENT)
    revoke = {"token": "t", "client_id": "a\x00"}
    assert_json(post(revoke, "/oauth2/revoke_token/"), 401, INVALID_CLIENT)
    assert not AccessToken.objects.exists()


# -- 5. a device's rotated refresh token replayed ---------------------------------------


def device_refresh(refresh_token: str) -> Any:
    return post({"grant_type": "refresh_token", "refresh_token": refresh_token, **CREDENTIALS})


def test_a_replayed_device_refresh_token_disconnects_the_device(
    app: Application, clara: Any, caplog: Any
) -> None:
    first = post(DEVICE).json()
    listener = post(PASSWORD, HTTP_AUTHORIZATION=f"Bearer {first['access_token']}")
    assert listener.status_code == 200
    renewed = device_refresh(first["refresh_token"])
    assert renewed.status_code == 200

    with caplog.at_level(logging.WARNING, logger="dch_favourites"):
        replay = device_refresh(first["refresh_token"])

    assert_json(replay, 400, {"error": "invalid_grant"})
    device = Device.objects.get()
    assert device.disconnected is not None
    assert not AccessToken.objects.exists()  # the device token and the listener's
    assert device_refresh(renewed.json()["refresh_token"]).status_code == 400
    assert [r.getMessage() for r in caplog.records if r.name == "dch_favourites"] == [
        f"A rotated refresh token of {device} came back: disconnected"
    ]


def test_an_unknown_device_refresh_token_disconnects_nothing(app: Application) -> None:
    first = post(DEVICE).json()
    forged = first["refresh_token"][:-1] + ("A" if first["refresh_token"][-1] != "A" else "B")
    assert_json(device_refresh(forged), 400, {"error": "invalid_grant"})
    assert Device.objects.get().disconnected is None
    assert device_refresh(first["refresh_token"]).status_code == 200


# -- 5. DOT's application views are for who may add applications -----------------------


@pytest.mark.parametrize(
    "path",
    ["/oauth2/applications/", "/oauth2/applications/register/", "/oauth2/authorized_tokens/"],
)
def test_application_views_are_refused_to_plain_staff(db: Any, path: str) -> None:
    staff = Client()
    staff.force_login(UserFactory(username="staff", is_staff=True))
    assert staff.get(path).status_code == 403
    assert staff.post(path, {"name": "mine"}).status_code == 403
    assert Client().get(path).status_code == 403
    superuser = Client()
    superuser.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert superuser.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/oauth2/device-authorization/", "/oauth2/device/"])
def test_the_toolkits_rfc_8628_device_flow_is_not_mounted(app: Application, path: str) -> None:
    # Its device-authorization view (django-oauth-toolkit 3.4.1) answers a valid client with
    # a 500 under oauthlib 4; the apps' own device grant is at the token endpoint.
    client = Client(raise_request_exception=False)
    assert client.post(path, CREDENTIALS).status_code == 404
    assert client.post(TOKEN_URL, DEVICE).status_code == 200


# -- 6. a table missing: migrate not run ------------------------------------------------


def test_a_missing_table_is_503_with_the_databases_message(
    app: Application, clara: Any, caplog: Any
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE oauth2_provider_application RENAME TO h24_moved")
    with caplog.at_level(logging.ERROR, logger="dch_favourites"):
        response = post({**PASSWORD, **CREDENTIALS})
    assert_json(
        response,
        503,
        {
            "error": "temporarily_unavailable",
            "error_description": "The service is temporarily unavailable.",
        },
    )
    assert response["Retry-After"] == "5"
    (record,) = [r for r in caplog.records if r.name == "dch_favourites"]
    message = record.getMessage()
    assert message.startswith("Database unavailable at the token endpoint: ")
    assert "oauth2_provider_application" in message
    assert message.endswith(" (run `manage.py migrate`)")
