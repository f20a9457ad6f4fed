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
INVALID_TOKEN = 'error="invalid_token", error_description'  # noqa: S105  (RFC 6750 code)


class MethodNotAllowed(exceptions.MethodNotAllowed):
    """405 with the original router's message and the methods the route serves."""

    def __init__(self, method: str, path: str, allowed: Sequence[str]) -> None:
        self.allowed = allowed
        listed = ", ".join(m for m in allowed if m != "HEAD")
        super().__init__(
            method,
            detail=f'No route found for "{method} {path}": Method Not Allowed (Allow: {listed})',
        )


class InvalidToken(exceptions.AuthenticationFailed):
    """A bearer token was sent but is not usable (RFC 6750 ``invalid_token``)."""


class InsufficientScope(exceptions.PermissionDenied):
    """The token lacks the scope the method needs (RFC 6750 ``insufficient_scope``)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(
            _("The access token does not grant the '%(scope)s' scope.") % {"scope": scope}
        )


class PayloadTooLarge(exceptions.APIException):
    """413: the body is longer than ``MAX_BODY_SIZE``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("Request body too large.")


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


#: The answer to an exception from outside DRF: status, and message (None: its own message).
STATUSES: tuple[tuple[type[Exception], int, Promise | None], ...] = (
    (UnknownItems, status.HTTP_404_NOT_FOUND, None),
    (ListFull, status.HTTP_409_CONFLICT, None),
    (FavouritesError, status.HTTP_400_BAD_REQUEST, None),
    (Http404, status.HTTP_404_NOT_FOUND, gettext_lazy("Not found.")),
    (DjangoPermissionDenied, status.HTTP_403_FORBIDDEN, gettext_lazy("Permission denied.")),
    (
        RequestDataTooBig,
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        gettext_lazy("Request body too large."),
    ),
    (SuspiciousOperation, status.HTTP_400_BAD_REQUEST, gettext_lazy("Bad request.")),
)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: every exception becomes an envelope, never a stack trace."""
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        challenge = REALM
        if isinstance(exc, exceptions.AuthenticationFailed):
            description = str(exc.detail).replace('"', "'")
            challenge += f', {INVALID_TOKEN}="{description}"'
        # The original service's 401 body, kept byte for byte.
        body = {"message": LEGACY_401_MESSAGE}
        return Response(body, status=401, headers={"WWW-Authenticate": challenge})
    headers: dict[str, str] = {}
    if isinstance(exc, InsufficientScope):
        headers["WWW-Authenticate"] = f'{REALM}, error="insufficient_scope", scope="{exc.scope}"'
    if isinstance(exc, MethodNotAllowed):
        headers["Allow"] = ", ".join(exc.allowed)
    if isinstance(exc, exceptions.Throttled):
        # DRF sets `wait` (whole seconds or None); the stubs do not declare it.
        wait: float | None = exc.wait  # type: ignore[attr-defined]
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    known = next((entry for entry in STATUSES if isinstance(exc, entry[0])), None)
    if isinstance(exc, exceptions.APIException):
        code, message = exc.status_code, _message(exc.detail)
    elif known is not None:
        code, message = known[1], str(getattr(exc, "message", "") if known[2] is None else known[2])
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("Database unavailable: %s", type(exc).__name__)
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


def _api_prefix() -> str | None:
    try:
        return reverse("dch_favourites:favourites").removesuffix("user/favourites")
    except NoReverseMatch:
        return None


def _site_handler(code: int, message: str | Promise, fallback: Any) -> Any:
    def handler(request: Any, exception: Exception | None = None) -> Any:
        prefix = _api_prefix()
        if prefix is None or not request.path.startswith(prefix):
            return fallback(request) if exception is None else fallback(request, exception)
        response = HttpResponse(
            orjson.dumps(error_body(str(message))),
            status=code,
            content_type="application/hal+json; charset=utf-8",
        )
        response["Cache-Control"] = "private, no-cache"
        return response

    return handler


# Lazy: the message is translated into the language of the request being answered.
handler400 = _site_handler(400, gettext_lazy("Bad request."), defaults.bad_request)
handler404 = _site_handler(404, gettext_lazy("Not found."), defaults.page_not_found)
handler500 = _site_handler(500, gettext_lazy("Internal server error."), defaults.server_error)
