"""The API's exception handler: every exception becomes one envelope with its status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, OperationalError
from django.http import Http404
from django.test import override_settings
from rest_framework import exceptions

from dch_favourites.api.errors import PayloadTooLarge, exception_handler
from dch_favourites.services import FavouritesError, ListFull, UnknownItems

HANDLED: list[tuple[str, Exception, int, str]] = [
    (
        "drf-validation-list",
        exceptions.ValidationError(["First.", "Second."]),
        400,
        "First. Second.",
    ),
    (
        "drf-validation-dict",
        exceptions.ValidationError({"id": ["Bad."], "action": ["Worse."]}),
        400,
        "id: Bad. action: Worse.",
    ),
    ("drf-not-found", exceptions.NotFound(), 404, "Not found."),
    ("payload-too-large", PayloadTooLarge(), 413, "Request body too large."),
    ("unknown-items", UnknownItems(["301", "x"]), 404, "Unknown catalogue id: 301, x."),
    ("list-full", ListFull(2), 409, "The favourites list is full: it holds at most 2 items."),
    ("other-refusal", FavouritesError("Not today."), 400, "Not today."),
    ("django-404", Http404("secret detail"), 404, "Not found."),
    ("django-permission", PermissionDenied("secret detail"), 403, "Permission denied."),
    ("django-too-big", RequestDataTooBig("secret detail"), 413, "Request body too large."),
    ("django-suspicious", SuspiciousOperation("secret detail"), 400, "Bad request."),
    ("database-down", OperationalError("secret detail"), 503, "Service temporarily unavailable."),
    ("database-error", DatabaseError("secret detail"), 500, "Internal server error."),
    ("anything-else", KeyError("secret detail"), 500, "Internal server error."),
]


@pytest.mark.parametrize(
    ("exc", "status", "message"),
    [row[1:] for row in HANDLED],
    ids=[row[0] for row in HANDLED],
)
def test_each_exception_becomes_the_envelope(exc: Exception, status: int, message: str) -> None:
    response = exception_handler(exc, {})

    assert response.status_code == status
    assert response.data == {"error": {"message": message}}
    assert "secret" not in json.dumps(response.data)


def test_an_unavailable_database_asks_to_retry_later(caplog: pytest.LogCaptureFixture) -> None:
    response = exception_handler(OperationalError("connection refused"), {})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "Database unavailable: connection refused")
    ]


def test_an_unexpected_error_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        raise KeyError("boom")
    except KeyError as error:
        response = exception_handler(error, {})

    assert response.status_code == 500
    (record,) = caplog.records
    assert record.getMessage() == "Unhandled error in the favourites API"
    assert record.exc_info is not None
    assert record.exc_info[0] is KeyError


@pytest.mark.parametrize(
    ("wait", "retry_after"), [(None, None), (0.2, "1"), (1, "1"), (2.2, "3"), (59, "59")]
)
def test_a_throttled_request_says_when_to_retry(wait: float | None, retry_after: str) -> None:
    response = exception_handler(exceptions.Throttled(wait=wait), {})

    assert response.status_code == 429
    assert response.get("Retry-After") == retry_after
    expected = "Request was throttled."
    if wait is not None:
        expected += f" Expected available in {retry_after} second{'s' * (retry_after != '1')}."
    assert response.data == {"error": {"message": expected}}


def test_a_disallowed_host_reaching_the_view_is_400(api: Any) -> None:
    # Without CommonMiddleware the Host header is first checked when the view builds hrefs.
    middleware = [name for name in settings.MIDDLEWARE if not name.endswith(".CommonMiddleware")]
    with override_settings(MIDDLEWARE=middleware):
        response = api.get(HTTP_HOST="evil.example.com")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"
    assert json.loads(response.content) == {"error": {"message": "Bad request."}}
