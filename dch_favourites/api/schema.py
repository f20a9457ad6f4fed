"""The API's OpenAPI 3 description, for drf-spectacular.

drf-spectacular is optional: this module is imported by
:meth:`dch_favourites.apps.DchFavouritesConfig.ready` only when ``drf_spectacular`` is in
``INSTALLED_APPS``, and the app runs without it. It registers drf-spectacular extensions,
so the views carry no schema code, and the app's operations are described by
:class:`ContractAutoSchema` whatever the site's ``DEFAULT_SCHEMA_CLASS``. A site sets up
drf-spectacular as its documentation says (``DEFAULT_SCHEMA_CLASS``, and
``drf_spectacular_sidecar`` for a docs page without a CDN) and serves the schema with its
views::

    path("v2/schema/openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),

Every status the endpoints answer is described with its exact body, including the original
service's 401 body and the router's 405 message.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from dch_favourites.api.errors import LEGACY_401_MESSAGE
from dch_favourites.api.serializers import (
    ACTIONS,
    ENTRY_LAYOUTS,
    CatalogueItemSerializer,
    FavouriteChangeSerializer,
    FavouritesSerializer,
)
from dch_favourites.conf import app_settings
from dch_favourites.models import ITEM_ID_PATTERN, ItemType

SECURITY_SCHEME = "bearerAuth"
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An access token of django-oauth-toolkit (POST /oauth2/token). "
    "GET /user/favourites needs the read scope, POST the write scope.",
}

#: :data:`dch_favourites.models.ITEM_ID_PATTERN` as an ECMA-262 pattern (``^...$``).
ITEM_ID_PATTERN_TEXT = ITEM_ID_PATTERN.pattern.replace("\\A", "^").replace("\\Z", "$")
ITEM_ID = {
    "type": "string",
    "pattern": ITEM_ID_PATTERN_TEXT,
    "minLength": 1,
    "maxLength": 64,
    "example": "23427-1",
}
# A JSON body may give an id as a non-negative integer (``"id": 301``).
ITEM_ID_NUMBER = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "example": 301}
UNIX_SECONDS = {"type": "integer", "minimum": 0, "description": "Unix seconds."}
NULLABLE_UNIX_SECONDS = {**UNIX_SECONDS, "nullable": True}
IMAGE_TEMPLATE = {
    "type": "string",
    "nullable": True,
    "description": "URL template with the literal placeholders {width}x{height}.",
    "example": "//www.example.com/cms/thumbnails/{width}x{height}/images/core/a.jpg",
}


def _entry_schema(types: list[str], *, short_title: bool, begin: bool) -> dict[str, Any]:
    date: dict[str, Any] = {"published": UNIX_SECONDS}
    if begin:
        date["begin"] = NULLABLE_UNIX_SECONDS
    properties: dict[str, Any] = {
        "href": {"type": "string", "example": "//api.example.com/v2/work/23427-1"},
        "updated": UNIX_SECONDS,
        "id": {"type": "string", "example": "23427-1"},
        "title": {"type": "string"},
    }
    if short_title:
        properties["short_title"] = {"type": "string", "nullable": True}
    properties.update(
        is_free={"type": "boolean"},
        date={
            "type": "object",
            "properties": date,
            "required": list(date),
            "additionalProperties": False,
        },
        image={
            "type": "object",
            "properties": {"overview": IMAGE_TEMPLATE, "detail": IMAGE_TEMPLATE},
            "required": ["overview", "detail"],
            "additionalProperties": False,
        },
        # Wrapped in allOf so that drf-spectacular's enum post-processing, which names enums
        # by property, does not merge the per-layout type sets into one component.
        type={"allOf": [{"type": "string", "enum": types}]},
    )
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def entry_schemas() -> list[dict[str, Any]]:
    """One schema per entry layout of :data:`ENTRY_LAYOUTS` (the keys depend on the type)."""
    by_layout: dict[Any, list[str]] = {}
    for item_type, layout in ENTRY_LAYOUTS.items():
        by_layout.setdefault(layout, []).append(str(item_type))
    return [
        _entry_schema(types, short_title=layout.short_title, begin=layout.begin)
        for layout, types in by_layout.items()
    ]


def _with_links(schema: dict[str, Any]) -> dict[str, Any]:
    properties = {
        **schema["properties"],
        "_links": {
            "type": "object",
            "properties": {
                "self": {
                    "type": "object",
                    "properties": {"href": {"type": "string"}},
                    "required": ["href"],
                    "additionalProperties": False,
                }
            },
            "required": ["self"],
            "additionalProperties": False,
        },
        "favourited": {
            "type": "boolean",
            "description": "Whether the item is on the list of the token's listener; "
            "only when a token was sent.",
        },
    }
    return {**schema, "properties": properties, "required": [*schema["required"], "_links"]}


COMPONENTS: dict[str, dict[str, Any]] = {
    "Favourites": {
        "type": "object",
        "description": "The listener's favourites, newest first. `updated` is the time of "
        "the list's last change (0 for a listener who never had a favourite).",
        "properties": {
            "updated": UNIX_SECONDS,
            "_links": {
                "type": "object",
                "properties": {
                    "favourites": {
                        "type": "array",
                        "items": {"oneOf": entry_schemas()},
                    }
                },
                "required": ["favourites"],
                "additionalProperties": False,
            },
        },
        "required": ["updated", "_links"],
        "additionalProperties": False,
    },
    "CatalogueItem": {
        "description": "One catalogue item: its favourites entry plus `_links.self`.",
        "oneOf": [_with_links(schema) for schema in entry_schemas()],
    },
    "FavouriteChange": {
        "type": "object",
        "description": "`action` applied to every `id` at once; `id` may be repeated "
        "(`id=a&id=b`, or a JSON list). One unknown id refuses the whole request.",
        "properties": {
            "action": {"type": "string", "enum": list(ACTIONS)},
            "id": {
                "anyOf": [
                    ITEM_ID,
                    ITEM_ID_NUMBER,
                    {"type": "array", "items": {"anyOf": [ITEM_ID, ITEM_ID_NUMBER]}, "minItems": 1},
                ]
            },
        },
        "required": ["action", "id"],
    },
    "Error": {
        "type": "object",
        "description": "Every error but the 401.",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "required": ["message"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    },
    "TokenNotFound": {
        "type": "object",
        "description": "The original service's 401 body, kept as it was.",
        "properties": {"message": {"type": "string", "enum": [LEGACY_401_MESSAGE]}},
        "required": ["message"],
        "additionalProperties": False,
    },
}


class ErrorBody(serializers.BaseSerializer[Any]):
    """Stands for ``{"error": {"message": ...}}`` in the schema; never used on the wire."""


class TokenNotFoundBody(serializers.BaseSerializer[Any]):
    """Stands for the legacy 401 body in the schema; never used on the wire."""


class _ComponentExtension(OpenApiSerializerExtension):
    """A serializer drf-spectacular cannot read, described by a schema of :data:`COMPONENTS`."""

    component: str

    def get_name(self, auto_schema: AutoSchema, direction: Any) -> str:
        return self.component

    def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        # A copy: drf-spectacular's post-processing rewrites enums in place.
        return copy.deepcopy(COMPONENTS[self.component])


class FavouritesComponent(_ComponentExtension):
    target_class = FavouritesSerializer
    component = "Favourites"


class CatalogueItemComponent(_ComponentExtension):
    target_class = CatalogueItemSerializer
    component = "CatalogueItem"


class FavouriteChangeComponent(_ComponentExtension):
    target_class = FavouriteChangeSerializer
    component = "FavouriteChange"


class ErrorComponent(_ComponentExtension):
    target_class = ErrorBody
    component = "Error"


class TokenNotFoundComponent(_ComponentExtension):
    target_class = TokenNotFoundBody
    component = "TokenNotFound"


def _error(description: str, *examples: tuple[str, str]) -> OpenApiResponse:
    return OpenApiResponse(
        response=ErrorBody,
        description=description,
        examples=[
            OpenApiExample(name, value={"error": {"message": message}}, response_only=True)
            for name, message in examples
        ],
    )


def _method_not_allowed(path: str, allowed: str) -> OpenApiResponse:
    return _error(
        "Any other method on this path (PUT, PATCH, DELETE, OPTIONS, ...), answered before "
        f"the token is looked at, with `Allow: {allowed}, HEAD`.",
        (
            "PUT",
            f'No route found for "PUT {path}": Method Not Allowed (Allow: {allowed})',
        ),
    )


UNAUTHORIZED = OpenApiResponse(
    response=TokenNotFoundBody,
    description="The token is missing, malformed, unknown, expired or revoked, has no user, "
    "or its user is inactive. `WWW-Authenticate` carries the RFC 6750 detail.",
    examples=[
        OpenApiExample("TokenNotFound", value={"message": LEGACY_401_MESSAGE}, response_only=True)
    ],
)
NOT_ACCEPTABLE = _error(
    "`Accept` admits none of application/hal+json, application/json, text/json.",
    (
        "NotAcceptable",
        "Not acceptable: this endpoint serves application/hal+json, application/json, text/json.",
    ),
)
UNAVAILABLE = _error(
    "The database is unreachable; retry after `Retry-After` seconds.",
    ("Unavailable", "Service temporarily unavailable."),
)
SERVER_ERROR = _error("An unexpected error (logged).", ("ServerError", "Internal server error."))
NOT_MODIFIED = OpenApiResponse(description="The client's copy (If-None-Match) is current.")


def _header(name: str, description: str, codes: list[int], **kwargs: Any) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, OpenApiParameter.HEADER, description=description, response=codes, **kwargs
    )


def _request_headers(*, conditional_since: bool) -> list[OpenApiParameter]:
    headers = [
        OpenApiParameter(
            "Accept-Language",
            str,
            OpenApiParameter.HEADER,
            description="Language of the titles (en, de); anything else falls back to English.",
        ),
        OpenApiParameter(
            "If-None-Match",
            str,
            OpenApiParameter.HEADER,
            description="An ETag of an earlier answer: 304 while it is current.",
        ),
    ]
    if conditional_since:
        headers.append(
            OpenApiParameter(
                "If-Modified-Since",
                str,
                OpenApiParameter.HEADER,
                description="HTTP date: 304 when the list did not change since.",
            )
        )
    return headers


def _response_headers(*, write: bool) -> list[OpenApiParameter]:
    headers = [
        _header("ETag", "Strong validator of this answer.", [200, 304]),
        _header("Last-Modified", "HTTP date of the body's `updated`.", [200, 304]),
        _header("WWW-Authenticate", "RFC 6750 challenge.", [401, 403]),
        _header("Allow", "The methods the path serves.", [405]),
        _header("Retry-After", "Seconds to wait before retrying.", [429, 503] if write else [503]),
    ]
    return headers


@dataclass(frozen=True)
class Operation:
    """What the schema says of one view action, beyond what drf-spectacular finds itself."""

    operation_id: str
    summary: str
    description: str
    parameters: list[OpenApiParameter]
    responses: dict[int, OpenApiResponse]
    request: Any = None
    examples: tuple[OpenApiExample, ...] = ()


def favourites_operations() -> dict[str, Operation]:
    """``GET`` and ``POST /user/favourites``, by view action."""
    path = "/v2/user/favourites"
    common = {
        401: UNAUTHORIZED,
        405: _method_not_allowed(path, "GET, POST"),
        406: NOT_ACCEPTABLE,
        500: SERVER_ERROR,
        503: UNAVAILABLE,
    }
    read = Operation(
        operation_id="favourites_list",
        summary="The listener's favourites",
        description="The whole list, newest first (no pagination). Needs the read scope.",
        parameters=[*_request_headers(conditional_since=True), *_response_headers(write=False)],
        responses={
            200: OpenApiResponse(response=FavouritesSerializer, description="The list."),
            304: NOT_MODIFIED,
            403: _error(
                "The token lacks the read scope.",
                ("InsufficientScope", "The access token does not grant the 'read' scope."),
            ),
            **common,
        },
    )
    write = Operation(
        operation_id="favourites_change",
        summary="Add or delete favourites",
        description=(
            "`action=add|delete` with one or more `id`, form-encoded as the original service "
            "took it; multipart and JSON with the same fields work too. Answers with the whole "
            "updated list. An add of a listed item and a delete of an unlisted one change "
            "nothing. Needs the write scope."
        ),
        request=FavouriteChangeSerializer,
        examples=(
            OpenApiExample("Add one", value={"action": "add", "id": "301"}, request_only=True),
            OpenApiExample(
                "Delete two",
                value={"action": "delete", "id": ["301", "23427-1"]},
                request_only=True,
            ),
        ),
        parameters=[
            OpenApiParameter(
                "Accept-Language",
                str,
                OpenApiParameter.HEADER,
                description="Language of the titles in the answer.",
            ),
            *_response_headers(write=True),
        ],
        responses={
            200: OpenApiResponse(
                response=FavouritesSerializer, description="The list after the change."
            ),
            400: _error(
                "A parameter is missing, blank, repeated or malformed, the body is not valid "
                "UTF-8 or JSON, or it carries more ids than allowed.",
                ("MissingAction", "Missing parameter 'action': use add or delete."),
                ("UnknownAction", "Unknown action 'ADD': use add or delete."),
                ("TooManyIds", "Too many ids: at most 50 per request."),
            ),
            403: _error(
                "The token lacks the write scope.",
                ("InsufficientScope", "The access token does not grant the 'write' scope."),
            ),
            404: _error(
                "An id of an add names no catalogue item; nothing was changed.",
                ("UnknownId", "Unknown catalogue id: 99999."),
            ),
            409: _error(
                "The add would take the list past its maximum length; nothing was changed.",
                ("ListFull", "The favourites list is full: it holds at most 1000 items."),
            ),
            413: _error(
                "The body is larger than allowed.",
                ("TooLarge", "Request body too large: at most 16384 bytes."),
            ),
            415: _error(
                "The body is not form-encoded, multipart or JSON.",
                ("Unsupported", 'Unsupported media type "text/plain" in request.'),
            ),
            429: _error(
                "Too many changes in a short time; retry after `Retry-After` seconds.",
                ("Throttled", "Request was throttled. Expected available in 30 seconds."),
            ),
            **common,
        },
    )
    return {"list": read, "create": write}


def catalogue_item_operations() -> dict[str, Operation]:
    """``GET /<type>/<id>``, by view action."""
    retrieve = Operation(
        operation_id="catalogue_item",
        summary="One catalogue item",
        description="The resource each favourites `href` points to. Public unless "
        "ITEM_ENDPOINT_PUBLIC is off; with a token it also says whether the item is on the "
        "listener's list.",
        parameters=[
            OpenApiParameter(
                "item_type",
                str,
                OpenApiParameter.PATH,
                enum=[str(value) for value in ItemType.values],
                examples=[OpenApiExample("Film", value="film")],
            ),
            OpenApiParameter(
                "item_id",
                str,
                OpenApiParameter.PATH,
                pattern=ITEM_ID_PATTERN_TEXT,
                examples=[OpenApiExample("Film", value="301")],
            ),
            *_request_headers(conditional_since=False),
            *_response_headers(write=False),
        ],
        responses={
            200: OpenApiResponse(response=CatalogueItemSerializer, description="The item."),
            304: NOT_MODIFIED,
            401: UNAUTHORIZED,
            403: _error(
                "A token was sent but lacks the read scope.",
                ("InsufficientScope", "The access token does not grant the 'read' scope."),
            ),
            404: _error(
                "No item of that type and id.",
                ("UnknownItem", "No film with id '99999'."),
                (
                    "UnknownType",
                    "Unknown catalogue type 'song': use one of concert, work, interview, "
                    "film, playlist.",
                ),
            ),
            405: _method_not_allowed("/v2/film/301", "GET"),
            406: NOT_ACCEPTABLE,
            500: SERVER_ERROR,
            503: UNAVAILABLE,
        },
    )
    return {"retrieve": retrieve}


class ContractAutoSchema(AutoSchema):
    """Reads each action's :class:`Operation`; the views carry no schema code themselves."""

    operations: dict[str, Operation] = {}

    def _operation(self) -> Operation:
        return self.operations[self._action()]

    def _action(self) -> str:
        return str(getattr(self.view, "action", ""))

    def get_operation_id(self) -> str:
        return self._operation().operation_id

    def get_summary(self) -> str:
        return self._operation().summary

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature
        return self._operation().description

    def get_tags(self) -> list[str]:
        return ["favourites"]

    def get_override_parameters(self) -> list[Any]:
        return list(self._operation().parameters)

    def get_examples(self) -> list[OpenApiExample]:
        return list(self._operation().examples)

    def get_request_serializer(self) -> Any:
        return self._operation().request

    def get_response_serializers(self) -> Any:
        return dict(sorted(self._operation().responses.items()))

    def _get_format_parameters(self) -> list[dict[str, Any]]:
        # The views ignore ?format=: the Accept header alone picks the renderer.
        return []

    def _is_list_view(self, serializer: Any = None) -> bool:
        # `list` answers one document (the whole list), not an array of resources.
        return False

    def get_auth(self) -> list[dict[str, Any]]:
        # Every view takes django-oauth-toolkit's bearer tokens (with or without device
        # tokens); one security scheme describes them all.
        self.registry.register_on_missing(
            ResolvedComponent(
                name=SECURITY_SCHEME,
                type=ResolvedComponent.SECURITY_SCHEMA,
                object=SECURITY_SCHEME,
                schema=dict(BEARER_SCHEME),
            )
        )
        auths: list[dict[str, Any]] = [{SECURITY_SCHEME: []}]
        if self._action() == "retrieve" and app_settings.ITEM_ENDPOINT_PUBLIC:
            auths.append({})
        return auths


class FavouritesSchema(ContractAutoSchema):
    operations = favourites_operations()


class CatalogueItemSchema(ContractAutoSchema):
    operations = catalogue_item_operations()


class FavouritesViewSchema(OpenApiViewExtension):
    """Documents :class:`~dch_favourites.api.views.FavouritesViewSet`."""

    target_class = "dch_favourites.api.views.FavouritesViewSet"

    def view_replacement(self) -> Any:
        class Documented(self.target_class):  # type: ignore[name-defined,misc]
            schema = FavouritesSchema()

        return Documented


class CatalogueItemViewSchema(OpenApiViewExtension):
    """Documents :class:`~dch_favourites.api.views.CatalogueItemViewSet`."""

    target_class = "dch_favourites.api.views.CatalogueItemViewSet"

    def view_replacement(self) -> Any:
        class Documented(self.target_class):  # type: ignore[name-defined,misc]
            schema = CatalogueItemSchema()

        return Documented
