"""Hostile and malformed requests: each gets its exact status and body, and changes nothing.

One table, one row per request. Every row runs against the same database (two listeners with
lists, a few catalogue items) and asserts the status, the exact body, that the body is JSON
in the API's media type (no HTML, no stack trace) and that the database is as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from database_state import database_state
from django.test import Client, override_settings
from endpoints import URL

from dch_favourites.api.errors import LEGACY_401_MESSAGE
from dch_favourites.services import add_favourites
from factories import (
    AccessTokenFactory,
    CatalogueItemFactory,
    ConcertFactory,
    UserFactory,
    WorkFactory,
)

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MULTIPART = "multipart/form-data; boundary=b0undary"
TOKEN = "{token}"  # replaced by the listener's token when the row runs


@dataclass(frozen=True)
class Row:
    """One hostile request and what must come back."""

    id: str
    body: bytes | str = b""
    content_type: str | None = FORM
    method: str = "POST"
    path: str = URL
    authorization: str | None = f"Bearer {TOKEN}"
    headers: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    status: int = 400
    message: str | None = None  # the error envelope's message; None: the legacy 401 body
    response_headers: dict[str, str] = field(default_factory=dict)


def invalid_id(shown: str) -> str:
    return f"Invalid id '{shown}': an id is 1 to 64 letters, digits, '-' or '_'."


def not_allowed(method: str) -> str:
    return f'No route found for "{method} {URL}": Method Not Allowed (Allow: GET, POST)'


def multipart(*fields: tuple[str, bytes]) -> bytes:
    parts = [
        b'--b0undary\r\nContent-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value
        + b"\r\n"
        for name, value in fields
    ]
    return b"".join(parts) + b"--b0undary--\r\n"


NOT_ACCEPTABLE = (
    "Not acceptable: this endpoint serves application/hal+json, application/json, text/json."
)
LONG_ID = "7" * 10_000
MISSING_ACTION = "Missing parameter 'action': use add or delete."
WRONG_SHAPE = "The request body must be an object with 'action' and 'id'."
NOT_UTF8 = "The request body is not valid UTF-8."

ROWS = [
    # action
    Row("action-missing", "id=301", message=MISSING_ACTION),
    Row(
        "action-blank", "action=&id=302", message="Parameter 'action' is blank: use add or delete."
    ),
    Row(
        "action-spaces",
        "action=%20%09&id=302",
        message="Parameter 'action' is blank: use add or delete.",
    ),
    Row(
        "action-unknown",
        "action=drop&id=301",
        message="Unknown action 'drop': use add or delete.",
    ),
    Row(
        "action-upper-case-add",
        "action=ADD&id=302",
        message="Unknown action 'ADD': use add or delete.",
    ),
    Row(
        "action-upper-case-delete",
        "action=Delete&id=301",
        message="Unknown action 'Delete': use add or delete.",
    ),
    Row(
        "action-repeated-same",
        "action=delete&action=delete&id=301",
        message="Parameter 'action' must be given once.",
    ),
    Row(
        "action-repeated-different",
        "action=add&action=delete&id=301",
        message="Parameter 'action' must be given once.",
    ),
    Row(
        "action-padded",
        "action=%20delete&id=301",
        message="Unknown action ' delete': use add or delete.",
    ),
    # id
    Row("id-missing", "action=delete", message="Missing parameter 'id'."),
    Row("id-blank", "action=add&id=", message="Parameter 'id' is blank."),
    Row("id-blank-among-valid", "action=delete&id=301&id=", message="Parameter 'id' is blank."),
    Row("id-10kB", f"action=add&id={LONG_ID}", message=invalid_id("7" * 40 + "\u2026")),
    Row("id-non-ascii", "action=add&id=" + quote("été"), message=invalid_id("été")),
    Row("id-nul", "action=delete&id=301%00", message=invalid_id("301\ufffd")),
    Row(
        "id-sql",
        "action=delete&id=" + quote("301' OR '1'='1"),
        message=invalid_id("301' OR '1'='1"),
    ),
    Row(
        "id-sql-comment",
        "action=delete&id=" + quote("301;DELETE FROM dch_favourites_favourite;--"),  # noqa: S608
        message=invalid_id("301;DELETE FROM dch_favourites_favourite\u2026"),
    ),
    Row(
        "id-path",
        "action=add&id=" + quote("../../etc/passwd"),
        message=invalid_id("../../etc/passwd"),
    ),
    Row("id-path-type", "action=delete&id=" + quote("film/301"), message=invalid_id("film/301")),
    Row(
        "id-invalid-after-valid",
        "action=delete&id=301&id=23427-1&id=%2A",
        message=invalid_id("*"),
    ),
    Row(
        "ids-over-the-cap",
        "action=delete&" + "&".join(f"id={n}" for n in range(300, 351)),
        message="Too many ids: at most 50 per request.",
    ),
    Row(
        "ids-over-a-configured-cap",
        "action=delete&id=301&id=23427-1&id=302",
        settings={"MAX_IDS_PER_REQUEST": 2},
        message="Too many ids: at most 2 per request.",
    ),
    Row(
        "id-unknown-among-known",
        "action=add&id=302&id=99999",
        status=404,
        message="Unknown catalogue id: 99999.",
    ),
    Row(
        "list-full",
        "action=add&id=302",
        settings={"MAX_FAVOURITES_PER_USER": 2},
        status=409,
        message="The favourites list is full: it holds at most 2 items.",
    ),
    # body encoding and shape
    Row("form-not-utf8", b"action=add&id=30\xff2", message=NOT_UTF8),
    Row("form-not-utf8-in-an-ignored-field", b"action=add&id=302&note=\xe9t\xe9", message=NOT_UTF8),
    Row("form-utf16", "action=add&id=302".encode("utf-16"), message=NOT_UTF8),
    Row("json-not-utf8", b'{"action": "add", "id": "30\xff2"}', JSON, message=NOT_UTF8),
    Row(
        "json-malformed",
        '{"action": "add", "id": ',
        JSON,
        message="The request body is not valid JSON (line 1, column 25).",
    ),
    Row(
        "json-nan",
        '{"action": "add", "id": NaN}',
        JSON,
        message="The request body is not valid JSON (line 1, column 25).",
    ),
    Row(
        "json-nested-too-deep",
        '{"action": "add", "id": ' + "[" * 2000 + "]" * 2000 + "}",
        JSON,
        message="The request body is not valid JSON (line 1, column 1049).",
    ),
    Row("json-list", '["add", "302"]', JSON, message=WRONG_SHAPE),
    Row("json-number", "302", JSON, message=WRONG_SHAPE),
    Row("json-string", '"action=add&id=302"', JSON, message=WRONG_SHAPE),
    Row("json-null", "null", JSON, message=WRONG_SHAPE),
    Row(
        "json-action-object",
        '{"action": {"add": true}, "id": "302"}',
        JSON,
        message="Parameter 'action' must be a string: add or delete.",
    ),
    Row(
        "json-id-object",
        '{"action": "add", "id": {"id": "302"}}',
        JSON,
        message="Parameter 'id' number 1 must be a string.",
    ),
    Row(
        "json-id-nested-list",
        '{"action": "delete", "id": ["23427-1", ["301"]]}',
        JSON,
        message="Parameter 'id' number 2 must be a string.",
    ),
    Row(
        "json-id-boolean",
        '{"action": "add", "id": true}',
        JSON,
        message="Parameter 'id' number 1 must be a string.",
    ),
    Row(
        "json-id-negative",
        '{"action": "add", "id": -302}',
        JSON,
        message="Parameter 'id' number 1 must be a string.",
    ),
    Row(
        "json-id-empty-list",
        '{"action": "delete", "id": []}',
        JSON,
        message="Missing parameter 'id'.",
    ),
    Row("json-empty-object", "{}", JSON, message=MISSING_ACTION),
    Row(
        "multipart-not-utf8",
        multipart(("action", b"delete"), ("id", b"301\xff")),
        MULTIPART,
        message=invalid_id("301\ufffd"),
    ),
    Row(
        "multipart-without-boundary",
        b"action=delete&id=301",
        "multipart/form-data",
        message="Multipart form parse error - Invalid boundary in multipart: None",
    ),
    Row(
        "too-many-form-fields",
        "action=delete&id=301&" + "&".join("x=1" for _ in range(1000)),
        message="The request body has too many fields.",
    ),
    Row(
        "too-many-multipart-fields",
        multipart(("action", b"delete"), ("id", b"301"), *[("x", b"1")] * 1000),
        MULTIPART,
        settings={"MAX_BODY_SIZE": 100_000},
        message="The request body has too many fields.",
    ),
    Row(
        # A site allowing bodies larger than Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
        "multipart-over-djangos-upload-limit",
        multipart(("action", b"delete"), ("id", b"7" * 2_700_000)),
        MULTIPART,
        settings={"MAX_BODY_SIZE": 3_000_000},
        status=413,
        message="Request body too large.",
    ),
    # content type and size
    Row(
        "content-type-text",
        "action=delete&id=301",
        "text/plain",
        status=415,
        message='Unsupported media type "text/plain" in request.',
    ),
    Row(
        "content-type-xml",
        "<favourite action='delete' id='301'/>",
        "application/xml",
        status=415,
        message='Unsupported media type "application/xml" in request.',
    ),
    Row(
        "content-type-missing",
        "action=delete&id=301",
        "",
        status=415,
        message='Unsupported media type "" in request.',
    ),
    Row(
        "body-over-the-limit",
        "action=delete&id=301&pad=" + "x" * 16_384,
        status=413,
        message="Request body too large: at most 16384 bytes.",
    ),
    Row(
        "body-over-a-configured-limit",
        "action=delete&id=301&id=23427-1",
        settings={"MAX_BODY_SIZE": 20},
        status=413,
        message="Request body too large: at most 20 bytes.",
    ),
    Row(
        "content-length-not-a-number",
        "action=delete&id=301",
        headers={"CONTENT_LENGTH": "twenty"},
        message="The Content-Length header is not a number.",
    ),
    # Authorization
    Row("authorization-missing", "action=delete&id=301", authorization=None, status=401),
    Row("authorization-scheme-only", "action=delete&id=301", authorization="Bearer", status=401),
    Row(
        "authorization-basic",
        "action=delete&id=301",
        authorization="Basic bGlzdGVuZXI6eA==",
        status=401,
    ),
    Row(
        "authorization-token-scheme",
        "action=delete&id=301",
        authorization=f"Token {TOKEN}",
        status=401,
    ),
    Row("authorization-bare-token", "action=delete&id=301", authorization=TOKEN, status=401),
    Row(
        "authorization-two-tokens",
        "action=delete&id=301",
        authorization=f"Bearer {TOKEN} {TOKEN}",
        status=401,
    ),
    Row(
        "authorization-two-bearers",
        "action=delete&id=301",
        authorization=f"Bearer {TOKEN}, Bearer {TOKEN}",
        status=401,
    ),
    Row(
        "authorization-non-ascii",
        "action=delete&id=301",
        authorization="Bearer t\u00f6ken",
        status=401,
    ),
    Row(
        "authorization-huge",
        "action=delete&id=301",
        authorization="Bearer " + "a" * 5000,
        status=401,
    ),
    Row(
        "token-in-query-string",
        "action=delete&id=301",
        path=f"{URL}?access_token={TOKEN}",
        authorization=None,
        status=401,
    ),
    Row(
        "token-in-body",
        f"action=delete&id=301&access_token={TOKEN}",
        authorization=None,
        status=401,
    ),
    # methods
    *[
        Row(
            f"method-{method.lower()}",
            "action=delete&id=301",
            method=method,
            status=405,
            message=not_allowed(method),
            response_headers={"Allow": "GET, POST, HEAD"},
        )
        for method in ("PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PURGE")
    ],
    Row(
        "method-put-without-a-token",
        "action=delete&id=301",
        method="PUT",
        authorization=None,
        status=405,
        message=not_allowed("PUT"),
        response_headers={"Allow": "GET, POST, HEAD"},
    ),
    # Accept
    *[
        Row(
            f"accept-{name}",
            "action=delete&id=301",
            headers={"HTTP_ACCEPT": accept},
            status=406,
            message=NOT_ACCEPTABLE,
        )
        for name, accept in (
            ("html", "text/html"),
            ("xml", "application/xml, text/xml;q=0.9"),
            ("json-refused", "application/json;q=0, text/html"),
            ("image", "image/*"),
            ("nothing", "*/*;q=0"),
            ("garbage", "\u00fcber/wild"),
        )
    ],
    Row(
        "accept-html-on-get",
        method="GET",
        content_type=None,
        headers={"HTTP_ACCEPT": "text/html,application/xhtml+xml"},
        status=406,
        message=NOT_ACCEPTABLE,
    ),
]


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """Two listeners with lists; the first one's token is the one the rows use."""
    listener = UserFactory(username="hostile-listener")
    other = UserFactory(username="bystander")
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")
    ConcertFactory(id="23427")
    WorkFactory(id="23427-1")
    add_favourites(listener, ["301"])
    add_favourites(listener, ["23427-1"])
    add_favourites(other, ["302", "301"])
    token = AccessTokenFactory(user=listener, token="hostile-token-0123456789abcdef")
    AccessTokenFactory(user=other, token="bystander-token-0123456789abcdef")
    return {"token": token.token}


def test_the_table_covers_at_least_forty_requests() -> None:
    assert len(ROWS) >= 40
    assert len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_hostile_request_is_refused_and_changes_nothing(world: dict[str, Any], row: Row) -> None:
    token = world["token"]
    before = database_state()
    extra = {key: value.replace(TOKEN, token) for key, value in row.headers.items()}
    if row.authorization is not None:
        extra["HTTP_AUTHORIZATION"] = row.authorization.replace(TOKEN, token)
    body = row.body.replace(TOKEN, token) if isinstance(row.body, str) else row.body
    app_settings = {"WRITE_THROTTLE_RATE": None, **row.settings}

    with override_settings(DCH_FAVOURITES=app_settings):
        response = Client().generic(
            row.method,
            row.path.replace(TOKEN, token),
            body,
            content_type=row.content_type,
            **extra,
        )

    assert response.status_code == row.status
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"
    expected = (
        {"message": LEGACY_401_MESSAGE}
        if row.status == 401
        else {"error": {"message": row.message}}
    )
    assert json.loads(response.content) == expected
    assert b"Traceback" not in response.content
    assert b"<" not in response.content
    assert token.encode() not in response.content
    for name, value in row.response_headers.items():
        assert response[name] == value
    if row.status == 401:
        assert response["WWW-Authenticate"].startswith('Bearer realm="api"')
        assert token not in response["WWW-Authenticate"]
    assert database_state() == before
