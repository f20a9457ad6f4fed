"""One listener's list is theirs alone, and tokens stay secret.

Two listeners, Ada and Ben, each with a list. Whatever Ada's app puts in the query string,
the body, the headers or the cookies, she reads and changes only her own list. Tokens that
are no longer good get the legacy 401, tokens without the scope a 403, and no token shows
up in a log line or an error body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from database_state import database_state
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone
from endpoints import URL
from oauth2_provider.models import AccessToken, Application, RefreshToken

from dch_favourites.api.errors import LEGACY_401_MESSAGE
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, ApplicationFactory, CatalogueItemFactory, UserFactory

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def two(db: Any) -> dict[str, Any]:
    """Ada holds 301; Ben holds 302 and 303. Each has a token."""
    for item_id in ("301", "302", "303", "304"):
        CatalogueItemFactory(id=item_id)
    ada = UserFactory(username="ada", password="ada-password")
    ben = UserFactory(username="ben", password="ben-password")
    add_favourites(ada, ["301"])
    add_favourites(ben, ["302"])
    add_favourites(ben, ["303"])
    return {
        "ada": ada,
        "ben": ben,
        "ada_token": AccessTokenFactory(user=ada, token="ada-token-0123456789abcdef").token,
        "ben_token": AccessTokenFactory(user=ben, token="ben-token-0123456789abcdef").token,
    }


def listed(response: Any) -> list[str]:
    return [entry["id"] for entry in json.loads(response.content)["_links"]["favourites"]]


def ada_client(two: dict[str, Any]) -> tuple[Client, dict[str, str]]:
    return Client(), {"HTTP_AUTHORIZATION": f"Bearer {two['ada_token']}"}


@pytest.mark.parametrize(
    "query",
    [
        "user=ben",
        "user_id={ben_pk}",
        "username=ben",
        "user={ben_pk}&user_id={ben_pk}&owner={ben_pk}",
        "token={ben_token}",
    ],
)
def test_query_parameters_do_not_open_another_list(two: dict[str, Any], query: str) -> None:
    client, auth = ada_client(two)
    query = query.format(ben_pk=two["ben"].pk, ben_token=two["ben_token"])

    response = client.get(f"{URL}?{query}", **auth)

    assert response.status_code == 200
    assert listed(response) == ["301"]


@pytest.mark.parametrize(
    "header",
    [
        {"HTTP_X_USER_ID": "{ben_pk}"},
        {"HTTP_X_FORWARDED_USER": "ben"},
        {"HTTP_X_REMOTE_USER": "ben"},
        {"REMOTE_USER": "ben"},
        {"HTTP_X_AUTHORIZATION": "Bearer {ben_token}"},
        {"HTTP_X_ACCESS_TOKEN": "{ben_token}"},
        {"HTTP_COOKIE": "access_token={ben_token}"},
    ],
)
def test_headers_do_not_open_another_list(two: dict[str, Any], header: dict[str, str]) -> None:
    client, auth = ada_client(two)
    extra = {
        key: value.format(ben_pk=two["ben"].pk, ben_token=two["ben_token"])
        for key, value in header.items()
    }

    response = client.get(URL, **auth, **extra)

    assert response.status_code == 200
    assert listed(response) == ["301"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("action=delete&id=302&user={ben_pk}", FORM),
        ("action=delete&id=302&user_id={ben_pk}&username=ben", FORM),
        ("action=delete&id=302&access_token={ben_token}", FORM),
        ('{{"action": "delete", "id": ["302", "303"], "user": {ben_pk}}}', "application/json"),
        ('{{"action": "delete", "id": "303", "user": {{"id": {ben_pk}}}}}', "application/json"),
    ],
)
def test_body_fields_do_not_change_another_list(
    two: dict[str, Any], body: str, content_type: str
) -> None:
    client, auth = ada_client(two)
    before = database_state()

    response = client.post(
        URL,
        body.format(ben_pk=two["ben"].pk, ben_token=two["ben_token"]),
        content_type=content_type,
        **auth,
    )

    # Ada deletes what is not on her list: nothing changes, for her or for Ben.
    assert response.status_code == 200
    assert listed(response) == ["301"]
    assert database_state() == before


def test_add_by_one_listener_leaves_the_other_list_alone(two: dict[str, Any]) -> None:
    client, auth = ada_client(two)
    ben_before = list(two["ben"].dch_favourites.values_list("item_id", "added"))
    ben_state = (two["ben"].dch_favourites_state.version, two["ben"].dch_favourites_state.updated)

    response = client.post(URL, "action=add&id=302&id=304", content_type=FORM, **auth)

    assert response.status_code == 200
    assert sorted(listed(response)) == ["301", "302", "304"]
    two["ben"].refresh_from_db()
    assert list(two["ben"].dch_favourites.values_list("item_id", "added")) == ben_before
    state = type(two["ben"].dch_favourites_state).objects.get(user=two["ben"])
    assert (state.version, state.updated) == ben_state


def test_another_session_does_not_count(two: dict[str, Any]) -> None:
    """Ben logged into the site (session cookie): the API looks at bearer tokens only."""
    client = Client()
    client.force_login(two["ben"])

    without_token = client.get(URL)
    with_adas_token = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {two['ada_token']}")
    post_without_token = client.post(URL, "action=delete&id=302", content_type=FORM)

    assert without_token.status_code == 401
    assert json.loads(without_token.content) == {"message": LEGACY_401_MESSAGE}
    assert listed(with_adas_token) == ["301"]
    assert post_without_token.status_code == 401
    assert sorted(two["ben"].dch_favourites.values_list("item_id", flat=True)) == ["302", "303"]


def test_basic_credentials_of_another_listener_are_refused(two: dict[str, Any]) -> None:
    import base64

    credentials = base64.b64encode(b"ben:ben-password").decode()
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Basic {credentials}")

    assert response.status_code == 401
    assert json.loads(response.content) == {"message": LEGACY_401_MESSAGE}


@pytest.mark.parametrize(
    "path",
    ["/v2/user/{ben_pk}/favourites", "/v2/users/ben/favourites", "/v2/user/favourites/{ben_pk}"],
)
def test_other_paths_do_not_reach_another_list(two: dict[str, Any], path: str) -> None:
    client, auth = ada_client(two)

    response = client.get(path.format(ben_pk=two["ben"].pk), **auth)

    assert response.status_code == 404
    assert json.loads(response.content) == {"error": {"message": "Not found."}}


def test_another_listeners_etag_is_not_a_match(two: dict[str, Any]) -> None:
    client = Client()
    ben = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {two['ben_token']}")
    # Give Ada a list equal to Ben's, so only the listener tells the two apart.
    add_favourites(two["ada"], ["302", "303"])

    ada = client.get(
        URL, HTTP_AUTHORIZATION=f"Bearer {two['ada_token']}", HTTP_IF_NONE_MATCH=ben["ETag"]
    )

    assert ada.status_code == 200
    assert sorted(listed(ada)) == ["301", "302", "303"]
    assert ada["ETag"] != ben["ETag"]
    for response in (ben, ada):
        assert "Authorization" in response["Vary"]
        assert response["Cache-Control"] == "private, no-cache"


def test_favourited_flag_is_the_askers_own(two: dict[str, Any]) -> None:
    client = Client()

    as_ada = client.get("/v2/film/302", HTTP_AUTHORIZATION=f"Bearer {two['ada_token']}")
    as_ben = client.get("/v2/film/302", HTTP_AUTHORIZATION=f"Bearer {two['ben_token']}")
    anonymous = client.get("/v2/film/302")

    assert json.loads(as_ada.content)["favourited"] is False
    assert json.loads(as_ben.content)["favourited"] is True
    assert "favourited" not in json.loads(anonymous.content)
    assert as_ada["ETag"] != as_ben["ETag"]


# Tokens that are no longer good.


def expired(two: dict[str, Any]) -> str:
    AccessToken.objects.filter(token=two["ada_token"]).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    return two["ada_token"]


def revoked(two: dict[str, Any]) -> str:
    AccessToken.objects.get(token=two["ada_token"]).revoke()
    return two["ada_token"]


def deleted(two: dict[str, Any]) -> str:
    AccessToken.objects.filter(token=two["ada_token"]).delete()
    return two["ada_token"]


def user_deactivated(two: dict[str, Any]) -> str:
    two["ada"].is_active = False
    two["ada"].save(update_fields=["is_active"])
    return two["ada_token"]


def user_deleted(two: dict[str, Any]) -> str:
    two["ada"].delete()
    return two["ada_token"]


def without_user(two: dict[str, Any]) -> str:
    application = ApplicationFactory(authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS)
    return AccessTokenFactory(
        user=None, application=application, token="device-token-0123456789"
    ).token


def application_deleted(two: dict[str, Any]) -> str:
    AccessToken.objects.get(token=two["ada_token"]).application.delete()
    return two["ada_token"]


def refresh_token_as_access_token(two: dict[str, Any]) -> str:
    access = AccessToken.objects.get(token=two["ada_token"])
    refresh = RefreshToken.objects.create(
        user=two["ada"],
        application=access.application,
        token="refresh-token-0123456789",
        access_token=access,
    )
    return refresh.token


DEAD_TOKENS: list[Callable[[dict[str, Any]], str]] = [
    expired,
    revoked,
    deleted,
    user_deactivated,
    user_deleted,
    without_user,
    application_deleted,
    refresh_token_as_access_token,
]


@pytest.mark.parametrize("make_token", DEAD_TOKENS, ids=[f.__name__ for f in DEAD_TOKENS])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_tokens_no_longer_good_are_401_with_the_legacy_body(
    two: dict[str, Any], make_token: Callable[[dict[str, Any]], str], method: str
) -> None:
    token = make_token(two)
    before = database_state()

    response = Client().generic(
        method, URL, "action=delete&id=301", content_type=FORM, HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert response.status_code == 401
    assert response.content == b'{"message":"A Token was not found in the TokenStorage."}'
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api", error="invalid_token", error_description="')
    assert token not in challenge
    assert database_state() == before


def test_a_token_in_the_query_string_is_refused_even_beside_a_valid_header(
    two: dict[str, Any],
) -> None:
    # django-oauth-toolkit's RFC 9700 gate (COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT),
    # on in the example site: a token in the URI is never accepted, not even as a bystander.
    client, auth = ada_client(two)

    response = client.get(f"{URL}?access_token={two['ben_token']}", **auth)

    assert response.status_code == 401
    assert response.content == b'{"message":"A Token was not found in the TokenStorage."}'
    assert two["ben_token"] not in response["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("scope", "method", "status", "missing"),
    [
        ("read", "GET", 200, None),
        ("read", "POST", 403, "write"),
        ("write", "GET", 403, "read"),
        # A POST answers with the whole list: a write-only token must not read through it.
        ("write", "POST", 403, "read"),
        ("read write", "POST", 200, None),
        ("", "GET", 403, "read"),
        ("", "POST", 403, "read"),
        ("profile", "POST", 403, "read"),
        ("READ WRITE", "GET", 403, "read"),
    ],
)
def test_scopes(
    two: dict[str, Any], scope: str, method: str, status: int, missing: str | None
) -> None:
    AccessToken.objects.filter(token=two["ada_token"]).update(scope=scope)
    before = database_state()

    response = Client().generic(
        method,
        URL,
        "action=add&id=302",
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Bearer {two['ada_token']}",
    )

    assert response.status_code == status
    if missing is not None:
        assert json.loads(response.content) == {
            "error": {"message": f"The access token does not grant the '{missing}' scope."}
        }
        assert response["WWW-Authenticate"] == (
            f'Bearer realm="api", error="insufficient_scope", scope="{missing}"'
        )
        assert database_state() == before
    elif method == "POST":
        assert sorted(listed(response)) == ["301", "302"]


@pytest.mark.usefixtures("cache_backend")
@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": "3/min"})
def test_no_token_in_logs_or_error_bodies(
    two: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from django.core.cache import cache

    cache.clear()
    caplog.set_level(logging.DEBUG)
    ada, ben = two["ada_token"], two["ben_token"]
    expired_token = AccessTokenFactory(
        user=two["ada"],
        token="expired-token-0123456789",
        expires=timezone.now() - timedelta(days=1),
    ).token
    readonly_token = AccessTokenFactory(
        user=two["ben"], token="readonly-token-0123456789", scope="read"
    ).token
    tokens = [ada, ben, expired_token, readonly_token, "unknown-token-0123456789"]
    client = Client()
    requests_made = [
        client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ada}"),
        client.post(
            URL, "action=add&id=302", content_type=FORM, HTTP_AUTHORIZATION=f"Bearer {ada}"
        ),
        client.post(
            URL, "action=add&id=nope", content_type=FORM, HTTP_AUTHORIZATION=f"Bearer {ada}"
        ),  # 404
        client.post(
            URL, "action=ADD&id=302", content_type=FORM, HTTP_AUTHORIZATION=f"Bearer {ada}"
        ),  # 400
        client.post(
            URL, "action=add&id=303", content_type=FORM, HTTP_AUTHORIZATION=f"Bearer {ada}"
        ),  # 429
        client.get(URL, HTTP_AUTHORIZATION=f"Bearer {expired_token}"),  # 401
        client.get(URL, HTTP_AUTHORIZATION="Bearer unknown-token-0123456789"),  # 401
        client.get(URL, HTTP_AUTHORIZATION=f"Basic {ada}"),  # 401
        client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ada} {ben}"),  # 401
        client.post(
            URL,
            "action=add&id=302",
            content_type=FORM,
            HTTP_AUTHORIZATION=f"Bearer {readonly_token}",
        ),  # 403
        client.put(URL, HTTP_AUTHORIZATION=f"Bearer {ada}"),  # 405
        client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ada}", HTTP_ACCEPT="text/html"),  # 406
        client.post(URL, "x", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {ben}"),  # 415
        client.get(f"{URL}?access_token={ada}"),  # 401
        client.get("/v2/film/nope", HTTP_AUTHORIZATION=f"Bearer {ben}"),  # 404
    ]
    with connection.execute_wrapper(_explode_on_entry_rows):
        requests_made.append(client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ben}"))  # 500

    assert sorted({response.status_code for response in requests_made}) == [
        200,
        400,
        401,
        403,
        404,
        405,
        406,
        415,
        429,
        500,
    ]
    assert any(record.levelno >= logging.ERROR for record in caplog.records)  # the 500 was logged
    for token in tokens:
        assert token not in caplog.text
        for response in requests_made:
            assert token.encode() not in response.content
            assert all(token not in value for _name, value in response.items())


def _explode_on_entry_rows(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    if 'JOIN "dch_favourites_favourite"' in sql:
        raise RuntimeError("boom")
    return execute(sql, params, many, context)
