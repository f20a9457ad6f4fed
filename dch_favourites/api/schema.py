"""The API's OpenAPI 3 description, for drf-spectacular.

drf-spectacular is optional: this module is imported by
:meth:`dch_favourites.apps.DchFavouritesConfig.ready` only when ``drf_spectacular`` is in
``INSTALLED_APPS``, and the app runs without it. A site sets up drf-spectacular as its
documentation says (``DEFAULT_SCHEMA_CLASS``, and ``drf_spectacular_sidecar`` for a docs
page without a CDN) and serves the schema with its views::

    path("v2/schema/openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),

The bodies are generated from the serializers of :mod:`dch_favourites.api.serializers`.
This module adds, through drf-spectacular's extension points, only what introspection
cannot see: which entry layout each type has, that ``id`` is one id or a list, the
original service's 401 body, and each operation's statuses with examples of their bodies.
Everything that follows a setting (paths, limits, languages, scopes) is read when the
schema is generated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import get_language_info
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import (
    Direction,
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_serializer,
)
from oauth2_provider.settings import oauth2_settings
from rest_framework import serializers
from rest_framework.settings import api_settings

from dch_favourites.api.errors import LEGACY_401_MESSAGE
from dch_favourites.api.serializers import (
    ENTRY_LAYOUTS,
    ITEM_LAYOUTS,
    MISSING_ACTION,
    MISSING_ACTION_JSON_HINT,
    ActionField,
    CatalogueItemSerializer,
    EntrySerializer,
    FavouriteChangeSerializer,
    FavouritesSerializer,
    ItemIdField,
    ItemIdsField,
    ItemTypeField,
)
from dch_favourites.conf import app_settings
from dch_favourites.models import ITEM_ID_PATTERN, ItemType

SECURITY_SCHEME = "bearerAuth"


def ecma_pattern(regex: re.Pattern[str]) -> str:
    """A Python pattern anchored with ``\\A``/``\\Z`` as an ECMA-262 one (``^``/``$``)."""
    return regex.pattern.replace("\\A", "^").replace("\\Z", "$")


# Fields and serializers whose shape introspection cannot see.


class ItemTypeFieldSchema(OpenApiSerializerFieldExtension):
    """An entry's ``type``: the enum of its layout's types."""

    target_class = ItemTypeField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        # Wrapped in allOf (kept, with a sibling key): drf-spectacular's enum post-processing
        # names enums by property and would warn about the layouts' different `type` sets.
        return {
            "allOf": [{"type": "string", "enum": [str(c) for c in self.target.choices]}],
            "description": "The catalogue type; it decides which keys the object has.",
        }


class ItemIdsFieldSchema(OpenApiSerializerFieldExtension):
    """``id``: one id or a list of them (introspection sees only the list)."""

    target_class = ItemIdsField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        ids: ItemIdsField = self.target
        assert isinstance(ids.child, ItemIdField)
        one = {"type": "string", "pattern": ecma_pattern(ids.child.regex), "example": "23427-1"}
        # A JSON body may give an id as a non-negative integer (`"id": 301`).
        number = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "example": 301}
        many: dict[str, Any] = {"type": "array", "items": {"anyOf": [one, number]}, "minItems": 1}
        if ids.max_length is not None:
            many["maxItems"] = ids.max_length
        return {
            "anyOf": [one, number, many],
            "description": "One id, or several: a repeated form field or a JSON list.",
        }


def layouts_schema(
    auto_schema: AutoSchema, direction: Direction, layouts: dict[str, Any]
) -> dict[str, Any]:
    """One of the layout components, told apart by ``type``."""
    mapping = {
        item_type: auto_schema.resolve_serializer(layout, direction).ref["$ref"]
        for item_type, layout in layouts.items()
    }
    return {
        "oneOf": [{"$ref": ref} for ref in dict.fromkeys(mapping.values())],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }


class EntrySchema(OpenApiSerializerExtension):
    """A favourites entry: the layout of its type."""

    target_class = EntrySerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return {
            "description": "One favourite; which keys it has depends on its type.",
            **layouts_schema(auto_schema, direction, ENTRY_LAYOUTS),
        }


class CatalogueItemSchema(OpenApiSerializerExtension):
    """A catalogue item: the item layout of its type."""

    target_class = CatalogueItemSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        layouts = {item_type: ITEM_LAYOUTS[layout] for item_type, layout in ENTRY_LAYOUTS.items()}
        return {
            "description": "One catalogue item: its favourites entry plus `_links.self`.",
            **layouts_schema(auto_schema, direction, layouts),
        }


@extend_schema_serializer(many=False, component_name="Favourites")
class FavouritesBody(FavouritesSerializer):
    """The listener's favourites, newest first: the whole list, no pagination.

    `updated` is the time of the list's last change (0 for a listener who never had a
    favourite).
    """


@extend_schema_serializer(component_name="FavouriteChange")
class FavouriteChangeBody(FavouriteChangeSerializer):
    """`action` applied to every `id` at once; `remove` means `delete`.

    `id` may be repeated (`id=a&id=b`, or a JSON list). One unknown id refuses the whole
    request.
    """


class ErrorMessageSerializer(serializers.Serializer[Any]):
    """What went wrong, in the negotiated language where translated."""

    message = serializers.CharField()


class ErrorBody(serializers.Serializer[Any]):
    """Every error but the 401."""

    error = ErrorMessageSerializer()


class TokenNotFoundBody(serializers.BaseSerializer[Any]):
    """Stands for the legacy 401 body in the schema; never used on the wire."""


class TokenNotFoundSchema(OpenApiSerializerExtension):
    """The original service's 401 body, kept as it was."""

    target_class = TokenNotFoundBody

    def get_name(self, auto_schema: AutoSchema, direction: Direction) -> str:
        return "TokenNotFound"

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return {
            "type": "object",
            "description": "The original service's 401 body, kept as it was.",
            "properties": {"message": {"type": "string", "enum": [LEGACY_401_MESSAGE]}},
            "required": ["message"],
        }


# Operations: statuses, headers and examples, read from the settings at generation time.


def error(description: str, *examples: tuple[str, str]) -> OpenApiResponse:
    """An error response with example messages."""
    return OpenApiResponse(
        response=ErrorBody,
        description=description,
        examples=[
            OpenApiExample(name, value={"error": {"message": message}}, response_only=True)
            for name, message in examples
        ],
    )


def method_not_allowed(path: str, allowed: str) -> OpenApiResponse:
    """The router's 405, for ``path`` with its variables filled in."""
    concrete = path.replace("{item_type}", "film").replace("{item_id}", "301")
    return error(
        "Any other method on this path (PUT, PATCH, DELETE, OPTIONS, ...), answered before "
        f"the token is looked at, with `Allow: {allowed}, HEAD`.",
        ("PUT", f'No route found for "PUT {concrete}": Method Not Allowed (Allow: {allowed})'),
    )


def insufficient_scope(description: str, scope: str) -> OpenApiResponse:
    """The 403 of a token without ``scope``."""
    return error(
        description,
        ("InsufficientScope", f"The access token does not grant the '{scope}' scope."),
    )


UNAUTHORIZED = OpenApiResponse(
    response=TokenNotFoundBody,
    description="The token is missing, malformed, unknown, expired or revoked, has no user, "
    "or its user is inactive. `WWW-Authenticate` carries the RFC 6750 detail.",
    examples=[
        OpenApiExample("TokenNotFound", value={"message": LEGACY_401_MESSAGE}, response_only=True)
    ],
)
NOT_ACCEPTABLE = error(
    "`Accept` admits none of application/hal+json, application/json, text/json.",
    (
        "NotAcceptable",
        "Not acceptable: this endpoint serves application/hal+json, application/json, text/json.",
    ),
)
UNAVAILABLE = error(
    "The database is unreachable; retry after `Retry-After` seconds.",
    ("Unavailable", "Service temporarily unavailable."),
)
SERVER_ERROR = error("An unexpected error (logged).", ("ServerError", "Internal server error."))
NOT_MODIFIED = OpenApiResponse(description="The client's copy (If-None-Match) is current.")


def language_name(code: str) -> str:
    """The English name of a language code, or the code itself when Django does not know it."""
    try:
        return str(get_language_info(code)["name"])
    except KeyError:
        return code


def accept_language(description: str) -> OpenApiParameter:
    """``Accept-Language``, naming the languages the site serves."""
    languages = ", ".join(app_settings.LANGUAGES)
    default = language_name(app_settings.DEFAULT_LANGUAGE)
    return OpenApiParameter(
        "Accept-Language",
        str,
        OpenApiParameter.HEADER,
        description=f"{description} ({languages}); anything else falls back to {default}.",
    )


def request_headers(*, conditional_since: bool) -> list[OpenApiParameter]:
    """The headers a read may send."""
    headers = [
        accept_language("Language of the titles"),
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


def response_header(name: str, description: str, codes: list[int]) -> OpenApiParameter:
    """A header sent with the answers of ``codes``."""
    return OpenApiParameter(
        name, str, OpenApiParameter.HEADER, description=description, response=codes
    )


def response_headers(*, write: bool) -> list[OpenApiParameter]:
    """The headers an operation answers with."""
    return [
        response_header("ETag", "Strong validator of this answer.", [200, 304]),
        response_header("Last-Modified", "HTTP date of the body's `updated`.", [200, 304]),
        response_header("WWW-Authenticate", "RFC 6750 challenge.", [401, 403]),
        response_header("Allow", "The methods the path serves.", [405]),
        response_header(
            "Retry-After", "Seconds to wait before retrying.", [429, 503] if write else [503]
        ),
    ]


def no_format_parameter() -> list[OpenApiParameter]:
    """The views ignore ``?format=``: the Accept header alone picks the renderer."""
    name = api_settings.URL_FORMAT_OVERRIDE
    return [OpenApiParameter(name, exclude=True)] if name else []


@dataclass(frozen=True)
class Operation:
    """What the schema says of one view action, beyond what drf-spectacular finds itself."""

    operation_id: str
    summary: str
    description: str
    parameters: list[OpenApiParameter]
    responses: dict[int, OpenApiResponse]
    request: Any = None
    examples: list[OpenApiExample] = field(default_factory=list)


def favourites_operations(path: str) -> dict[str, Operation]:
    """``GET`` and ``POST`` of the favourites at ``path``, by view action."""
    read_scope, write_scope = oauth2_settings.READ_SCOPE, oauth2_settings.WRITE_SCOPE
    common = {
        401: UNAUTHORIZED,
        405: method_not_allowed(path, "GET, POST"),
        406: NOT_ACCEPTABLE,
        500: SERVER_ERROR,
        503: UNAVAILABLE,
    }
    read = Operation(
        operation_id="favourites_list",
        summary="The listener's favourites",
        description="The whole list, newest first (no pagination). "
        f"Needs the '{read_scope}' scope.",
        parameters=[
            *request_headers(conditional_since=True),
            *response_headers(write=False),
            *no_format_parameter(),
        ],
        responses={
            200: OpenApiResponse(response=FavouritesBody, description="The list."),
            304: NOT_MODIFIED,
            403: insufficient_scope(f"The token lacks the '{read_scope}' scope.", read_scope),
            **common,
        },
    )
    unknown_action = ActionField.default_error_messages["invalid_choice"]
    too_many = ItemIdsField.default_error_messages["max_length"]
    write = Operation(
        operation_id="favourites_change",
        summary="Add or delete favourites",
        description=(
            "`action=add|delete` (or `remove`, the same as `delete`) with one or more `id`, "
            "form-encoded as the original service took it; multipart and JSON with the same "
            "fields work too. Answers with the whole updated list. An add of a listed item "
            "and a delete of an unlisted one change nothing. "
            f"Needs the '{read_scope}' and '{write_scope}' scopes."
        ),
        request=FavouriteChangeBody,
        examples=[
            OpenApiExample("Add one", value={"action": "add", "id": "301"}, request_only=True),
            OpenApiExample(
                "Delete two",
                value={"action": "delete", "id": ["301", "23427-1"]},
                request_only=True,
            ),
        ],
        parameters=[
            accept_language("Language of the titles in the answer"),
            *response_headers(write=True),
            *no_format_parameter(),
        ],
        responses={
            200: OpenApiResponse(response=FavouritesBody, description="The list after the change."),
            400: error(
                "A parameter is missing, blank, repeated or malformed, the body is not valid "
                "UTF-8 or JSON, or it carries more ids than allowed.",
                ("MissingAction", str(MISSING_ACTION)),
                ("JSONWithoutContentType", str(MISSING_ACTION_JSON_HINT)),
                ("UnknownAction", str(unknown_action) % {"action": "ADD"}),
                ("TooManyIds", str(too_many) % {"limit": app_settings.MAX_IDS_PER_REQUEST}),
            ),
            403: insufficient_scope(f"The token lacks the '{write_scope}' scope.", write_scope),
            404: error(
                "An id of an add names no catalogue item; nothing was changed.",
                ("UnknownId", "Unknown catalogue id: 99999."),
            ),
            409: error(
                "The add would take the list past its maximum length; nothing was changed.",
                (
                    "ListFull",
                    "The favourites list is full: it holds at most "
                    f"{app_settings.MAX_FAVOURITES_PER_USER} items.",
                ),
            ),
            413: error(
                "The body is larger than allowed.",
                (
                    "TooLarge",
                    f"Request body too large: at most {app_settings.MAX_BODY_SIZE} bytes.",
                ),
            ),
            415: error(
                "The body is not form-encoded, multipart or JSON.",
                ("Unsupported", 'Unsupported media type "text/plain" in request.'),
            ),
            429: error(
                "Too many changes in a short time; retry after `Retry-After` seconds.",
                ("Throttled", "Request was throttled. Expected available in 30 seconds."),
            ),
            **common,
        },
    )
    return {"list": read, "create": write}


def catalogue_item_operations(path: str) -> dict[str, Operation]:
    """``GET`` of the catalogue items at ``path`` (``.../{item_type}/{item_id}``)."""
    read_scope = oauth2_settings.READ_SCOPE
    types = [str(value) for value in ItemType.values]
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
                enum=types,
                examples=[OpenApiExample("Film", value="film")],
            ),
            OpenApiParameter(
                "item_id",
                str,
                OpenApiParameter.PATH,
                pattern=ecma_pattern(ITEM_ID_PATTERN),
                examples=[OpenApiExample("Film", value="301")],
            ),
            *request_headers(conditional_since=False),
            *response_headers(write=False),
            *no_format_parameter(),
        ],
        responses={
            200: OpenApiResponse(response=CatalogueItemSerializer, description="The item."),
            304: NOT_MODIFIED,
            401: UNAUTHORIZED,
            403: insufficient_scope(
                f"A token was sent but lacks the '{read_scope}' scope.", read_scope
            ),
            404: error(
                "No item of that type and id.",
                ("UnknownItem", "No film with id '99999'."),
                (
                    "UnknownType",
                    f"Unknown catalogue type 'song': use one of {', '.join(types)}.",
                ),
            ),
            405: method_not_allowed(path, "GET"),
            406: NOT_ACCEPTABLE,
            500: SERVER_ERROR,
            503: UNAVAILABLE,
        },
    )
    return {"retrieve": retrieve}


class ContractAutoSchema(AutoSchema):
    """Describes each view action by its :class:`Operation`; the views carry no schema code."""

    contract: Operation

    def contract_operations(self, path: str) -> dict[str, Operation]:
        """The operations of the view at ``path``, by action."""
        raise NotImplementedError

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> Any:
        # Worked out per generation, so the schema follows the settings and the mount.
        action = str(getattr(self.view, "action", ""))
        self.contract = self.contract_operations(path)[action]
        return super().get_operation(path, path_regex, path_prefix, method, registry)

    def get_operation_id(self) -> str:
        return self.contract.operation_id

    def get_summary(self) -> str:
        return self.contract.summary

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature
        return self.contract.description

    def get_tags(self) -> list[str]:
        return ["favourites"]

    def get_override_parameters(self) -> list[Any]:
        return list(self.contract.parameters)

    def get_examples(self) -> list[OpenApiExample]:
        return list(self.contract.examples)

    def get_request_serializer(self) -> Any:
        return self.contract.request

    def get_response_serializers(self) -> Any:
        return dict(sorted(self.contract.responses.items()))

    def get_auth(self) -> list[dict[str, Any]]:
        # Every view takes django-oauth-toolkit's bearer tokens (with or without device
        # tokens); one security scheme describes them all.
        self.registry.register_on_missing(
            ResolvedComponent(
                name=SECURITY_SCHEME,
                type=ResolvedComponent.SECURITY_SCHEMA,
                object=SECURITY_SCHEME,
                schema={
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token of django-oauth-toolkit. Reading needs "
                    f"the '{oauth2_settings.READ_SCOPE}' scope, changing the list also "
                    f"the '{oauth2_settings.WRITE_SCOPE}' scope.",
                },
            )
        )
        auths: list[dict[str, Any]] = [{SECURITY_SCHEME: []}]
        if self.contract.operation_id == "catalogue_item" and app_settings.ITEM_ENDPOINT_PUBLIC:
            auths.append({})
        return auths


class FavouritesSchema(ContractAutoSchema):
    """``/user/favourites``."""

    def contract_operations(self, path: str) -> dict[str, Operation]:
        return favourites_operations(path)


class CatalogueItemViewSchema(ContractAutoSchema):
    """``/<type>/<id>``."""

    def contract_operations(self, path: str) -> dict[str, Operation]:
        return catalogue_item_operations(path)


class FavouritesViewDocumentation(OpenApiViewExtension):
    """Documents :class:`~dch_favourites.api.views.FavouritesViewSet`."""

    target_class = "dch_favourites.api.views.FavouritesViewSet"

    def view_replacement(self) -> Any:
        class Documented(self.target_class):  # type: ignore[name-defined,misc]
            schema = FavouritesSchema()

        return Documented


class CatalogueItemViewDocumentation(OpenApiViewExtension):
    """Documents :class:`~dch_favourites.api.views.CatalogueItemViewSet`."""

    target_class = "dch_favourites.api.views.CatalogueItemViewSet"

    def view_replacement(self) -> Any:
        class Documented(self.target_class):  # type: ignore[name-defined,misc]
            schema = CatalogueItemViewSchema()

        return Documented
