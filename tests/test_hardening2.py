"""Hardening, round two: the body's length, concrete media types, duplicate JSON keys,
RFC 9110 negotiation of ``Accept`` and ``Accept-Language``, and logs without secrets.

Every refused request answers in the envelope with its status and changes nothing.
"""

from __future__ import annotations

import http.client
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from database_state import database_state
from django.test import Client, override_settings
from django.utils.module_loading import import_string
from endpoints import URL
from threaded_server import server_database, serving

from dch_favourites.models import CatalogueItem, Favourite
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, ApplicationFactory, CatalogueItemFactory, UserFactory

FORM = "application/x-www-form-urlencoded"
BODY = "action=add&id=302"
NOT_A_NUMBER = "The Content-Length header is not a number."
TOO_LARGE = "Request body too large: at most 16384 bytes."
LENGTH_REQUIRED = "A request body needs a Content-Length header."
BOTH_LENGTHS = "Content-Length and Transfer-Encoding cannot be sent together."
NOT_ACCEPTABLE = (
    "Not acceptable: this endpoint serves application/hal+json, application/json, text/json."
)


@pytest.fixture
def world(api: Any) -> Any:
    """The listener holds 301; 302 exists to be added."""
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")
    add_favourites(api.user, ["301"])
    return api


def held(api: Any) -> list[str]:
    return sorted(Favourite.objects.filter(user=api.user).values_list("item_id", flat=True))


def envelope(response: Any) -> Any:
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"
    return json.loads(response.content)


def refused(response: Any, status: int, message: str) -> None:
    assert response.status_code == status
    assert envelope(response) == {"error": {"message": message}}


# 1. Content-Length.


@pytest.mark.parametrize(
    "length",
    [
        "\u00b2",  # ² superscript two: isdigit() but not int()
        "\u00b9\u00b2",
        "\u2082",  # ₂ subscript two
        "\u2460",  # ① circled one
        "\u0663",  # Arabic-Indic three: int() reads it as 3
        "\u0661\u0667",  # Arabic-Indic 17, the body's real length
        "\u07c3",  # NKo three
        "\u0967\u096d",  # Devanagari 17
        "\uff11\uff17",  # fullwidth 17
        "\U0001d7cf\U0001d7d5",  # mathematical bold 17
        "-1",
        "+17",
        "1e3",
        "0x11",
        "17.0",
        "17, 17",
        "1 7",
        "17;",
        "seventeen",
        " ",
    ],
)
def test_a_malformed_content_length_is_400_and_nothing_changes(world: Any, length: str) -> None:
    before = database_state()

    response = world.post(BODY, CONTENT_LENGTH=length)

    refused(response, 400, NOT_A_NUMBER)
    assert database_state() == before


@pytest.mark.parametrize("length", [" 17", "17 ", "\t17\t", "00000000000000000000000017"])
def test_spaces_around_and_zeros_before_a_length_are_read(world: Any, length: str) -> None:
    assert len(BODY) == 17

    response = world.post(BODY, CONTENT_LENGTH=length)

    assert response.status_code == 200
    assert held(world) == ["301", "302"]


@pytest.mark.parametrize("length", ["16385", "9" * 20, "9" * 5000, "1" + "0" * 4400])
def test_a_length_past_the_limit_is_413_however_long_the_number(world: Any, length: str) -> None:
    before = database_state()

    response = world.post(BODY, CONTENT_LENGTH=length)

    refused(response, 413, TOO_LARGE)
    assert database_state() == before


@pytest.mark.parametrize("encoding", ["chunked", "gzip, chunked", "identity"])
def test_a_body_without_a_length_but_with_a_transfer_encoding_is_411(
    world: Any, encoding: str
) -> None:
    before = database_state()

    response = world.post(BODY, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING=encoding)

    refused(response, 411, LENGTH_REQUIRED)
    assert database_state() == before


def test_both_a_length_and_a_transfer_encoding_is_400(world: Any) -> None:
    before = database_state()

    response = world.post(BODY, HTTP_TRANSFER_ENCODING="chunked")

    refused(response, 400, BOTH_LENGTHS)
    assert database_state() == before


def test_the_length_is_checked_after_the_token(db: Any) -> None:
    response = Client().post(URL, BODY, content_type=FORM, CONTENT_LENGTH="\u00b2")

    assert response.status_code == 401


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The site under a real HTTP server; a listener with the token ``chunked-token-...``."""
    with server_database(tmp_path) as factory:
        user = UserFactory(username="chunked")
        AccessTokenFactory(user=user, token="chunked-token-0123456789abcdef")
        CatalogueItemFactory(id="301")
        CatalogueItemFactory(id="302")
        add_favourites(user, ["301"])
        with serving(factory) as base:
            yield base


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_under_a_real_server_is_411_in_the_envelope(served: str) -> None:
    before = database_state()

    response = requests.post(
        served + URL,
        data=(part for part in (b"action=add", b"&id=302")),
        headers={
            "Authorization": "Bearer chunked-token-0123456789abcdef",
            "Content-Type": FORM,
        },
        timeout=30,
    )

    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 411
    assert response.headers["Content-Type"] == "application/hal+json; charset=utf-8"
    assert response.json() == {"error": {"message": LENGTH_REQUIRED}}
    assert database_state() == before


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_smuggling_shaped_request_under_a_real_server_is_400(served: str) -> None:
    before = database_state()
    address = urlsplit(served)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    body = b"11\r\naction=add&id=302\r\n0\r\n\r\n"
    connection.putrequest("POST", URL)
    connection.putheader("Authorization", "Bearer chunked-token-0123456789abcdef")
    connection.putheader("Content-Type", FORM)
    connection.putheader("Content-Length", str(len(body)))
    connection.putheader("Transfer-Encoding", "chunked")
    connection.putheader("Connection", "close")
    connection.endheaders(body)
    response = connection.getresponse()

    assert response.status == 400
    assert json.loads(response.read()) == {"error": {"message": BOTH_LENGTHS}}
    connection.close()
    assert database_state() == before


# 2. Only concrete media types are parsed.


@pytest.mark.parametrize(
    "content_type",
    [
        "*/*",
        "*/*; charset=utf-8",
        "application/*",
        "Application/*",
        "*/x-www-form-urlencoded",
        "*/json",
        "*/form-data; boundary=b0undary",
        "multipart/*; boundary=b0undary",
        "text/*",
        "*",
        "application",
        "application/",
        "/x-www-form-urlencoded",
        "application/x-www-form-urlencoded/x",
        "application/x-www-form-urlencoded*",
        "application /x-www-form-urlencoded",
        "applic\u00e4tion/x-www-form-urlencoded",
        "application/x-www-form-urlencoded\x00",
    ],
)
def test_a_media_range_or_malformed_content_type_is_415(world: Any, content_type: str) -> None:
    before = database_state()

    response = world.post(BODY, content_type=content_type)

    refused(response, 415, f'Unsupported media type "{content_type}" in request.')
    assert database_state() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("Application/X-WWW-Form-Urlencoded", BODY),
        ("application/x-www-form-urlencoded;", BODY),
        ("application/x-www-form-urlencoded; charset=utf-8", BODY),
        (" application/x-www-form-urlencoded ", BODY),
        ("APPLICATION/JSON", '{"action": "add", "id": "302"}'),
        ("Application/JSON; charset=utf-8", '{"action": "add", "id": "302"}'),
        ('application/json; charset="utf-8"', '{"action": "add", "id": "302"}'),
    ],
)
def test_concrete_media_types_are_parsed_in_any_case(
    world: Any, content_type: str, body: str
) -> None:
    response = world.post(body, content_type=content_type)

    assert response.status_code == 200
    assert held(world) == ["301", "302"]


# 2. Accept, by RFC 9110 12.5.1.


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/*", "application/hal+json"),
        ("text/*", "text/json"),
        ("text/*, application/json;q=0.5", "text/json"),
        ("application/json;q=0.1, text/json", "text/json"),
        ("application/json;q=0.5, application/hal+json;q=0.4", "application/json"),
        ("*/*;q=0.5, application/hal+json;q=0", "application/json"),
        ("application/*;q=0.9, application/hal+json;q=0", "application/json"),
        ("*/*, application/hal+json;q=0, application/json;q=0", "text/json"),
        ("application/json;charset=utf-8;q=0.9, text/json;q=0.8", "application/json"),
        ("APPLICATION/JSON", "application/json"),
        ("text/html, */json, application/json;q=0.2", "application/json"),
        ("garbage, application/json", "application/json"),
        ("application/json;q=2, text/json;q=0.1", "text/json"),
        (",,, text/json ,", "text/json"),
        ("application/json;q=0.001", "application/json"),
    ],
)
def test_accept_picks_by_quality_and_precision(world: Any, accept: str, content_type: str) -> None:
    response = world.get(HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"


@pytest.mark.parametrize(
    "accept",
    [
        "*/json",
        "application/*;q=0, text/html",
        "*/*;q=0.000",
        "application/json;q=1.0001",
        "application/json;q=x",
        "application/json;q",
        "text/json;q=-1",
        "image/*, text/html;q=0.9",
        ", ,",
        "a/b," * 2000,
    ],
)
def test_accept_admitting_nothing_is_406(world: Any, accept: str) -> None:
    response = world.get(HTTP_ACCEPT=accept)

    refused(response, 406, NOT_ACCEPTABLE)


# 2. Accept-Language, by RFC 9110 12.5.4, without Django's private parser.


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de;q=0.5, fr;q=0.9, en;q=0.1", "de"),
        ("fr;q=0.9, de-CH;q=0.8", "de"),
        ("de-AT-x-wien", "de"),
        ("en;q=0, *", "de"),
        ("*;q=0.5, en;q=0", "de"),
        ("en;q=0, de;q=0, *", "en"),
        ("de;q=1.5, en", "en"),
        ("de;q=1.5", "en"),
        ("de;level=1", "en"),
        ("d\u00e9", "en"),
        ("\u0663", "en"),
        ("deutsch-language-tag", "en"),
        ("x" * 9, "en"),
        (" de ", "de"),
        ("de;q=0.001", "de"),
        ("en;q=0.5, de;q=0.5", "en"),
        ("de;q=0.5, en;q=0.5", "de"),
        (", , de", "de"),
    ],
)
def test_accept_language_neighbours(world: Any, header: str, language: str) -> None:
    response = world.get(HTTP_ACCEPT_LANGUAGE=header)

    assert response.status_code == 200
    assert response["Content-Language"] == language


@override_settings(DCH_FAVOURITES={"LANGUAGES": ["en", "pt-BR"], "WRITE_THROTTLE_RATE": None})
def test_a_regional_configured_language_is_matched_in_any_case(world: Any) -> None:
    response = world.get(HTTP_ACCEPT_LANGUAGE="pt-br, en;q=0.5")

    assert response["Content-Language"] == "pt-BR"


# 6. Duplicate JSON keys.


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"action": "delete", "action": "add", "id": "302"}', "action"),
        ('{"action": "add", "id": "301", "id": "302"}', "id"),
        ('{"action": "add", "\\u0061ction": "delete", "id": "302"}', "action"),
        ('{"act\\"ion": "add", "act\\u0022ion": "x", "action": "add", "id": "302"}', 'act"ion'),
        ('{"action": "add", "id": ["302"], "x": {"a": 1, "a": 2}}', "a"),
        ('{"action": "add", "id": ["302"], "x": [{"a": 1}, {"b": 1, "b": 1}]}', "b"),
        ('{"action": "add", "id": "302", "action": "add"}', "action"),
        ('{"\\u0000": 1, "\\u0000": 2}', "\ufffd"),
    ],
)
def test_a_duplicate_json_key_is_400_and_nothing_changes(world: Any, body: str, key: str) -> None:
    before = database_state()

    response = world.post(body, content_type="application/json")

    refused(response, 400, f"The request body gives the key '{key}' more than once.")
    assert database_state() == before


@pytest.mark.parametrize(
    "body",
    [
        '{"action": "add", "id": ["302"], "x": {"action": 1, "id": 2}}',
        '{"action": "add", "id": ["302"], "x": [{"a": 1}, {"a": 1}]}',
        '{"action": "add", "id": ["302"], "x": "\\"a\\": 1, \\"a\\": 2"}',
        '{"action": "add", "id": ["302"], "x": {"a:": 1, "a": 2, "{": 3, "[": "]"}}',
    ],
)
def test_equal_keys_in_different_objects_or_inside_strings_are_no_duplicates(
    world: Any, body: str
) -> None:
    response = world.post(body, content_type="application/json")

    assert response.status_code == 200
    assert held(world) == ["301", "302"]


@pytest.mark.parametrize(("inner", "duplicate"), [('{"k": 1, "k": 2}', True), ("{}", False)])
def test_a_duplicate_key_at_orjsons_deepest_nesting_is_found(
    world: Any, inner: str, duplicate: bool
) -> None:
    depth = 1022  # with the two objects around and inside: orjson's limit of 1024
    body = '{"action": "add", "id": "302", "x": ' + "[" * depth + inner + "]" * depth + "}"
    before = database_state()

    response = world.post(body, content_type="application/json")

    if sys.version_info < (3, 12):  # the standard library's parser recurses as deep as Python
        refused(response, 400, "The request body is nested too deeply.")
        assert database_state() == before
    elif duplicate:
        refused(response, 400, "The request body gives the key 'k' more than once.")
        assert database_state() == before
    else:
        assert response.status_code == 200
        assert held(world) == ["301", "302"]


def test_duplicate_keys_keep_json_strictness(world: Any) -> None:
    nan = world.post('{"action": "add", "action": NaN}', content_type="application/json")

    refused(nan, 400, "The request body is not valid JSON (line 1, column 29).")


# 10. Errors are logged, secrets never.

SECRET_TOKEN = "s3cret-bearer-token-never-logged-0123456789"
SECRET_PASSWORD = "S3cret-password-never-logged"


@pytest.fixture
def example_logging() -> Iterator[Callable[[], None]]:
    """Puts the example site's loggers and handlers in force until the test ends.

    Built as ``dictConfig`` builds them, without calling it (it would close every handler
    there is, pytest's log capture included), when the test calls it: a console handler
    writes to the ``sys.stderr`` of the moment it is made.
    """
    from demo_site import settings as example

    config = example.LOGGING
    assert set(config) <= {
        *("version", "disable_existing_loggers", "formatters", "filters", "handlers", "loggers")
    }
    saved = {}

    def install() -> None:
        formatters = {
            name: logging.Formatter(spec["format"], style=spec.get("style", "%"))
            for name, spec in config.get("formatters", {}).items()
        }
        filters = {
            name: import_string(spec["()"])() for name, spec in config.get("filters", {}).items()
        }
        handlers = {}
        for name, spec in config["handlers"].items():
            handler = import_string(spec["class"])()
            if "formatter" in spec:
                handler.setFormatter(formatters[spec["formatter"]])
            for name_of_filter in spec.get("filters", []):
                handler.addFilter(filters[name_of_filter])
            handlers[name] = handler
        for name, spec in config["loggers"].items():
            logger = logging.getLogger(name)
            saved[name] = (logger.handlers[:], logger.level, logger.propagate)
            logger.handlers[:] = [handlers[handler] for handler in spec["handlers"]]
            logger.setLevel(spec.get("level", logging.NOTSET))
            logger.propagate = spec.get("propagate", True)

    yield install
    for name, (previous, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = previous
        logger.setLevel(level)
        logger.propagate = propagate


def test_the_example_site_logs_request_errors_to_the_console() -> None:
    from demo_site import settings as example

    config = example.LOGGING["loggers"]["django.request"]
    assert config["handlers"] == ["console"]
    assert config["level"] == "ERROR"
    assert example.LOGGING["handlers"]["console"]["class"] == "logging.StreamHandler"


@pytest.mark.django_db
def test_errors_are_logged_without_tokens_or_passwords(
    example_logging: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example_logging()
    caplog.set_level(logging.DEBUG)
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    staff.set_password(SECRET_PASSWORD)
    staff.save()
    AccessTokenFactory(user=staff, token=SECRET_TOKEN)
    application = ApplicationFactory(client_id="logged-client")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {SECRET_TOKEN}"}
    bad_bearer = {"HTTP_AUTHORIZATION": f"Bearer {SECRET_TOKEN}x"}

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the popular view crashed")

    monkeypatch.setattr(type(CatalogueItem.objects), "popular", crash)
    admin = Client(raise_request_exception=False)
    admin.force_login(staff)
    crashed = admin.get(
        f"/admin/dch_favourites/catalogueitem/popular/?since=2020-01-01&password={SECRET_PASSWORD}"
        f"&access_token={SECRET_TOKEN}",
        **bearer,
    )
    anonymous = Client(raise_request_exception=False)
    answers = [
        crashed,
        anonymous.get(f"{URL}?access_token={SECRET_TOKEN}", **bad_bearer),
        anonymous.post(URL, {"password": SECRET_PASSWORD}, **bad_bearer),
        anonymous.post(
            "/oauth2/token",
            {
                "grant_type": "password",
                "username": "staff",
                "password": SECRET_PASSWORD + "-wrong",
                "client_id": application.client_id,
                "client_secret": SECRET_PASSWORD,
            },
        ),
        anonymous.post(
            "/admin/login/", {"username": "staff", "password": SECRET_PASSWORD + "-wrong"}
        ),
        anonymous.get(f"/admin/%00/?password={SECRET_PASSWORD}", **bearer),
    ]

    assert [answer.status_code for answer in answers] == [500, 401, 401, 401, 200, 302]
    console = capsys.readouterr().err
    assert "Internal Server Error: /admin/dch_favourites/catalogueitem/popular/" in console
    assert "RuntimeError: the popular view crashed" in console
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert "Internal Server Error" in logged
    for secret in (SECRET_TOKEN, SECRET_PASSWORD):
        assert secret not in console
        assert secret not in caplog.text
    # The records themselves (what a structured handler would ship) hold no secret either,
    # the request object attached by django.request aside.
    for record in caplog.records:
        fields = {k: v for k, v in record.__dict__.items() if k != "request"}
        assert SECRET_TOKEN not in str(fields)
        assert SECRET_PASSWORD not in str(fields)
