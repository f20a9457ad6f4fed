"""The error bodies of the API, built in one place.

Every error is ``{"error": {"message": "..."}}`` except the 401, which keeps the original
service's ``{"message": "A Token was not found in the TokenStorage."}``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

from dch_favourites.exceptions import FavouritesError, ListFull, UnknownItems

logger = logging.getLogger("dch_favourites")

LEGACY_401_MESSAGE = "A Token was not found in the TokenStorage."
REALM = 'Bearer realm="api"'
HAL_JSON = "application/hal+json; charset=utf-8"


class MethodNotAllowed(exceptions.MethodNotAllowed):
    """405 with the original router's message (DRF's view sets the ``Allow`` header)."""

    def __init__(self, method: str, path: str, allowed: Sequence[str]) -> None:
        listed = ", ".join(m for m in allowed if m != "HEAD")
        super().__init__(
            method,
            detail=f'No route found for "{method} {path}": Method Not Allowed (Allow: {listed})',
        )


class InsufficientScope(exceptions.PermissionDenied):
    """The token lacks the scope the method needs (RFC 6750 ``insufficient_scope``)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(
            _("The access token does not grant the '%(scope)s' scope.") % {"scope": scope}
        )


class PayloadTooLarge(exceptions.APIException):
    """413: the body is longer than ``MAX_BODY_SIZE`` (``limit``, when given)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("Request body too large.")

    def __init__(self, limit: int | None = None) -> None:
        message = _("Request body too large: at most %(limit)d bytes.")
        super().__init__(None if limit is None else message % {"limit": limit})


class PreconditionFailed(exceptions.APIException):
    """412: an ``If-Match`` or ``If-Unmodified-Since`` the resource does not meet."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = gettext_lazy("The resource does not meet the request's preconditions.")


class LengthRequired(exceptions.APIException):
    """411: a body sent without ``Content-Length`` (chunked) that the server did not read."""

    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = gettext_lazy("A request body needs a Content-Length header.")


def excerpt(value: str, limit: int) -> str:
    """At most ``limit`` characters of client input for a message, unprintable ones as �."""
    printable = "".join(ch if ch.isprintable() else "\ufffd" for ch in value[:limit])
    return printable + ("\u2026" if len(value) > limit else "")


def error_body(message: str) -> dict[str, Any]:
    """The one error envelope."""
    return {"error": {"message": str(message)}}


def _message(detail: Any) -> str:
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_message(value) for value in detail)
    return str(detail)


def missing_table(exc: DatabaseError) -> bool:
    """Whether the database lacks a table or column: ``migrate`` has not been run."""
    # PostgreSQL's undefined_table and undefined_column; SQLite says it in words.
    if getattr(exc.__cause__, "sqlstate", None) in {"42P01", "42703"}:
        return True
    return str(exc).startswith(("no such table", "no such column"))


def database_message(exc: Exception) -> str:
    """The database's own message without the statement (its ``LINE 1: ...`` context may show
    a token): psycopg's primary message, else the first line of the driver's text."""
    diag = getattr(exc.__cause__, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return str(primary) if primary else (str(exc).splitlines() or [type(exc).__name__])[0]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: every exception becomes an envelope, never a stack trace."""
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        challenge = REALM
        if isinstance(exc, exceptions.AuthenticationFailed):
            description = str(exc.detail).replace('"', "'")
            challenge += f', error="invalid_token", error_description="{description}"'
        # The original service's 401 body, kept byte for byte.
        body = {"message": LEGACY_401_MESSAGE}
        return Response(body, status=401, headers={"WWW-Authenticate": challenge})
    headers: dict[str, str] = {}
    if isinstance(exc, InsufficientScope):
        headers["WWW-Authenticate"] = f'{REALM}, error="insufficient_scope", scope="{exc.scope}"'
    # DRF's Throttled rounds `wait` up to whole seconds (or None); the stubs do not say it.
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        headers["Retry-After"] = str(max(1, wait))
    if isinstance(exc, exceptions.APIException):
        code, message = exc.status_code, _message(exc.detail)
    elif isinstance(exc, UnknownItems):
        code, message = status.HTTP_404_NOT_FOUND, exc.message
    elif isinstance(exc, ListFull):
        code, message = status.HTTP_409_CONFLICT, exc.message
    elif isinstance(exc, FavouritesError):
        code, message = status.HTTP_400_BAD_REQUEST, exc.message
    elif isinstance(exc, Http404):
        code, message = status.HTTP_404_NOT_FOUND, _("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        code, message = status.HTTP_403_FORBIDDEN, _("Permission denied.")
    elif isinstance(exc, RequestDataTooBig):
        code, message = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, _("Request body too large.")
    elif isinstance(exc, SuspiciousOperation):
        code, message = status.HTTP_400_BAD_REQUEST, _("Bad request.")
    elif isinstance(exc, DatabaseError) and missing_table(exc):
        logger.error(
            "Database not migrated: %s. Run `python manage.py migrate`.", database_message(exc)
        )
        code, message = status.HTTP_503_SERVICE_UNAVAILABLE, _("Service temporarily unavailable.")
        headers["Retry-After"] = "5"
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("Database unavailable: %s", database_message(exc))
        code, message = status.HTTP_503_SERVICE_UNAVAILABLE, _("Service temporarily unavailable.")
        headers["Retry-After"] = "5"
    else:
        if isinstance(exc, DatabaseError):
            logger.error("Database error in the favourites API: %s", type(exc).__name__)
        else:
            logger.exception("Unhandled error in the favourites API")
        code, message = status.HTTP_500_INTERNAL_SERVER_ERROR, _("Internal server error.")
    return Response(error_body(message), status=code, headers=headers)


# Site-level handlers: errors raised before the API's view runs (a disallowed Host header
# in CommonMiddleware, an unknown path under the API's prefix, a crash in middleware).
# A site opts in with handler400 = "dch_favourites.api.errors.handler400" and so on; paths
# outside the API keep Django's own pages.


def _site_handler(code: int, message: str | Promise, fallback: Any) -> Any:
    def handler(request: Any, exception: Exception | None = None) -> Any:
        try:
            prefix = reverse("dch_favourites:favourites").removesuffix("user/favourites")
        except NoReverseMatch:  # a site without the API
            prefix = None
        if prefix is None or not request.path.startswith(prefix):
            return fallback(request) if exception is None else fallback(request, exception)
        body = orjson.dumps(error_body(str(message)))
        headers = {"Cache-Control": "private, no-cache"}
        return HttpResponse(body, status=code, content_type=HAL_JSON, headers=headers)

    return handler


# Lazy: the message is translated into the language of the request being answered.
handler400 = _site_handler(400, gettext_lazy("Bad request."), defaults.bad_request)
handler404 = _site_handler(404, gettext_lazy("Not found."), defaults.page_not_found)
handler500 = _site_handler(500, gettext_lazy("Internal server error."), defaults.server_error)
