"""The API's OpenAPI 3 description, for drf-spectacular (optional: imported by
:meth:`dch_favourites.apps.DchFavouritesConfig.ready` only when ``drf_spectacular`` is in
``INSTALLED_APPS``). A site serves it with drf-spectacular's own views::

    path("v2/schema/openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),

The bodies come from the serializers; this module adds what introspection cannot see (each
type's entry layout, ``id`` as one id or a list, the bearer scheme) and each operation's
statuses, with the messages of the API's own exceptions as examples. Operations are
described at each generation, so they follow the settings and the URLconf.
"""

from __future__ import annotations

from typing import Any, cast

from django.urls import get_script_prefix, reverse
from django.utils.translation import get_language_info
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    Direction,
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from oauth2_provider.settings import oauth2_settings
from rest_framework import exceptions, serializers
from rest_framework.settings import api_settings

from dch_favourites.api.errors import (
    LEGACY_401_MESSAGE,
    InsufficientScope,
    MethodNotAllowed,
    PayloadTooLarge,
    error_body,
)
from dch_favourites.api.serializers import (
    ENTRY_LAYOUTS,
    ITEM_LAYOUTS,
    MISSING_ACTION,
    MISSING_ACTION_JSON_HINT,
    ActionField,
    EntriesField,
    FavouriteChangeSerializer,
    FavouritesSerializer,
    ItemIdsField,
    ItemTypeField,
)
from dch_favourites.conf import app_settings
from dch_favourites.exceptions import ListFull, UnknownItems
from dch_favourites.models import ITEM_ID_PATTERN, ItemType

#: An id, as an ECMA-262 pattern (anchored with ``^``/``$`` where Python has ``\A``/``\Z``).
ID_PATTERN = ITEM_ID_PATTERN.pattern.replace("\\A", "^").replace("\\Z", "$")


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The app's views take django-oauth-toolkit's access tokens as bearer tokens."""

    target_class = "dch_favourites.api.authentication.BearerTokenAuthentication"
    match_subclasses = True
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token of django-oauth-toolkit. Reading needs the "
            f"'{oauth2_settings.READ_SCOPE}' scope, changing the list also the "
            f"'{oauth2_settings.WRITE_SCOPE}' scope.",
        }


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
        one = {"type": "string", "pattern": ID_PATTERN, "example": "23427-1"}
        # A JSON body may give an id as a non-negative integer (`"id": 301`).
        number = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "example": 301}
        many = {"type": "array", "items": {"anyOf": [one, number]}, "minItems": 1}
        many["maxItems"] = self.target.max_length  # MAX_IDS_PER_REQUEST when the field was made
        return {
            "anyOf": [one, number, many],
            "description": "One id, or several: a repeated form field or a JSON list.",
        }


# A favourites entry is the layout ENTRY_LAYOUTS gives its type.
entries = PolymorphicProxySerializer(
    component_name="Entry",
    serializers=cast("dict[str, Any]", ENTRY_LAYOUTS),
    resource_type_field_name="type",
    many=True,
)
extend_schema_field(entries)(EntriesField)
# The body of a `list` action, yet one object.
extend_schema_serializer(many=False)(FavouritesSerializer)

# Every error but the 401, and the original service's 401 body.
ERROR = inline_serializer(
    "ErrorBody", {"error": inline_serializer("ErrorMessage", {"message": serializers.CharField()})}
)
TOKEN_NOT_FOUND = inline_serializer(
    "TokenNotFound", {"message": serializers.ChoiceField([LEGACY_401_MESSAGE])}
)


def error(description: str, **messages: Any) -> OpenApiResponse:
    """An error response with an example body for each message, by example name."""
    examples = [
        OpenApiExample(name, error_body(message), response_only=True)
        for name, message in messages.items()
    ]
    return OpenApiResponse(ERROR, description, examples)


def header(name: str, description: str, response: Any = False) -> OpenApiParameter:
    """A request header, or a header of the answers of the ``response`` codes."""
    return OpenApiParameter(
        name, str, OpenApiParameter.HEADER, description=description, response=response
    )


def operation(
    route: str,
    allowed: list[str],
    *,
    responses: dict[int, OpenApiResponse],
    parameters: tuple[OpenApiParameter, ...] = (),
    route_kwargs: dict[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    """``extend_schema`` of an operation, with what every operation has in common.

    ``Accept-Language``, the response headers, no ``?format=`` (Accept alone decides), and
    the answers every operation may give: 401, the router's 405, 406, 500 and 503.
    """
    # As the router words it, with the path as the request's `path_info`.
    url = reverse(f"dch_favourites:{route}", kwargs=route_kwargs)
    put = MethodNotAllowed("PUT", "/" + url.removeprefix(get_script_prefix()), allowed)
    try:
        default = str(get_language_info(app_settings.DEFAULT_LANGUAGE)["name"])
    except KeyError:  # a code Django does not know
        default = app_settings.DEFAULT_LANGUAGE
    no_format = api_settings.URL_FORMAT_OVERRIDE
    common = {
        401: OpenApiResponse(
            TOKEN_NOT_FOUND,
            "The token is missing, malformed, unknown, expired or revoked, has no user, or "
            "its user is inactive. `WWW-Authenticate` carries the RFC 6750 detail.",
            [OpenApiExample("TokenNotFound", {"message": LEGACY_401_MESSAGE}, response_only=True)],
        ),
        405: error(
            "Any other method on this path (PUT, PATCH, DELETE, OPTIONS, ...), answered before "
            f"the token is looked at, with `Allow: {', '.join(allowed)}, HEAD`.",
            PUT=put.detail,
        ),
        406: error(
            "`Accept` admits none of application/hal+json, application/json, text/json.",
            NotAcceptable="Not acceptable: this endpoint serves application/hal+json, "
            "application/json, text/json.",
        ),
        500: error("An unexpected error (logged).", ServerError="Internal server error."),
        503: error(
            "The database is unreachable; retry after `Retry-After` seconds.",
            Unavailable="Service temporarily unavailable.",
        ),
    }
    responses = dict(sorted({**responses, **common}.items()))
    retry = [code for code in (429, 503) if code in responses]
    return extend_schema(
        tags=["favourites"],
        parameters=[
            header(
                "Accept-Language",
                f"Language of the titles ({', '.join(app_settings.LANGUAGES)}); anything else "
                f"falls back to {default}.",
            ),
            *parameters,
            *([OpenApiParameter(no_format, exclude=True)] if no_format else []),
            header("ETag", "Strong validator of this answer.", [200, 304]),
            header("Last-Modified", "HTTP date of the body's `updated`.", [200, 304]),
            header("WWW-Authenticate", "RFC 6750 challenge.", [401, 403]),
            header("Allow", "The methods the path serves.", [405]),
            header("Retry-After", "Seconds to wait before retrying.", retry),
        ],
        responses=responses,
        **kwargs,
    )


NOT_MODIFIED = OpenApiResponse(description="The client's copy (If-None-Match) is current.")
IF_NONE_MATCH = header("If-None-Match", "An ETag of an earlier answer: 304 while it is current.")


def scope_refused(description: str, scope: str) -> OpenApiResponse:
    """The 403 of a token without ``scope``."""
    return error(description, InsufficientScope=InsufficientScope(scope).detail)


def favourites_list() -> Any:
    read = oauth2_settings.READ_SCOPE
    return operation(
        "favourites",
        ["GET", "POST"],
        operation_id="favourites_list",
        summary="The listener's favourites",
        description=f"The whole list, newest first (no pagination). Needs the '{read}' scope.",
        parameters=(
            IF_NONE_MATCH,
            header("If-Modified-Since", "HTTP date: 304 when the list did not change since."),
        ),
        responses={
            200: OpenApiResponse(FavouritesSerializer, description="The list."),
            304: NOT_MODIFIED,
            403: scope_refused(f"The token lacks the '{read}' scope.", read),
        },
    )


def favourites_change() -> Any:
    read, write = oauth2_settings.READ_SCOPE, oauth2_settings.WRITE_SCOPE
    unknown_action = str(ActionField.default_error_messages["invalid_choice"])
    too_many = str(ItemIdsField.default_error_messages["max_length"])
    return operation(
        "favourites",
        ["GET", "POST"],
        operation_id="favourites_change",
        summary="Add or delete favourites",
        description="`action=add|delete` (or `remove`, the same as `delete`) with one or more "
        "`id`, form-encoded as the original service took it; multipart and JSON with the same "
        "fields work too. Answers with the whole updated list. An add of a listed item and a "
        f"delete of an unlisted one change nothing. Needs the '{read}' and '{write}' scopes.",
        request=FavouriteChangeSerializer,
        examples=[
            OpenApiExample("Add one", {"action": "add", "id": "301"}, request_only=True),
            OpenApiExample(
                "Delete two", {"action": "delete", "id": ["301", "23427-1"]}, request_only=True
            ),
        ],
        responses={
            200: OpenApiResponse(FavouritesSerializer, description="The list after the change."),
            400: error(
                "A parameter is missing, blank, repeated or malformed, the body is not valid "
                "UTF-8 or JSON, or it carries more ids than allowed.",
                MissingAction=MISSING_ACTION,
                JSONWithoutContentType=MISSING_ACTION_JSON_HINT,
                UnknownAction=unknown_action % {"action": "ADD"},
                TooManyIds=too_many % {"limit": app_settings.MAX_IDS_PER_REQUEST},
            ),
            403: scope_refused(f"The token lacks the '{write}' scope.", write),
            404: error(
                "An id of an add names no catalogue item; nothing was changed.",
                UnknownId=UnknownItems(["99999"]).message,
            ),
            409: error(
                "The add would take the list past its maximum length; nothing was changed.",
                ListFull=ListFull(app_settings.MAX_FAVOURITES_PER_USER).message,
            ),
            413: error(
                "The body is larger than allowed.",
                TooLarge=PayloadTooLarge(app_settings.MAX_BODY_SIZE).detail,
            ),
            415: error(
                "The body is not form-encoded, multipart or JSON.",
                Unsupported=exceptions.UnsupportedMediaType("text/plain").detail,
            ),
            429: error(
                "Too many changes in a short time; retry after `Retry-After` seconds.",
                Throttled=exceptions.Throttled(30).detail,
            ),
        },
    )


def catalogue_item() -> Any:
    read = oauth2_settings.READ_SCOPE
    types = [str(value) for value in ItemType.values]
    item_layouts: dict[str, Any] = {
        item_type: ITEM_LAYOUTS[entry] for item_type, entry in ENTRY_LAYOUTS.items()
    }
    # Given here: the token scheme's extension would register the scheme a second time for
    # the item view's authentication class. `{}`: callable without a token.
    security: Any = [{BearerTokenScheme.name: []}]
    if app_settings.ITEM_ENDPOINT_PUBLIC:
        security.append({})
    return operation(
        "catalogue-item",
        ["GET"],
        route_kwargs={"item_type": "film", "item_id": "301"},
        operation_id="catalogue_item",
        summary="One catalogue item",
        description="The resource each favourites `href` points to. Public unless "
        "ITEM_ENDPOINT_PUBLIC is off; with a token it also says whether the item is on the "
        "listener's list.",
        auth=security,
        parameters=(
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
                pattern=ID_PATTERN,
                examples=[OpenApiExample("Film", value="301")],
            ),
            IF_NONE_MATCH,
        ),
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer("CatalogueItem", item_layouts, "type"), "The item."
            ),
            304: NOT_MODIFIED,
            403: scope_refused(f"A token was sent but lacks the '{read}' scope.", read),
            404: error(
                "No item of that type and id.",
                UnknownItem="No film with id '99999'.",
                UnknownType=f"Unknown catalogue type 'song': use one of {', '.join(types)}.",
            ),
        },
    )


class FavouritesViewDocumentation(OpenApiViewExtension):
    """``GET`` and ``POST`` of :class:`~dch_favourites.api.views.FavouritesViewSet`."""

    target_class = "dch_favourites.api.views.FavouritesViewSet"

    def view_replacement(self) -> Any:
        # A subclass carries the operations: the view itself stays as it is.
        operations = extend_schema_view(list=favourites_list(), create=favourites_change())
        return operations(type(self.target.__name__, (self.target,), {}))


class CatalogueItemViewDocumentation(OpenApiViewExtension):
    """``GET`` of :class:`~dch_favourites.api.views.CatalogueItemViewSet`."""

    target_class = "dch_favourites.api.views.CatalogueItemViewSet"

    def view_replacement(self) -> Any:
        operations = extend_schema_view(retrieve=catalogue_item())
        return operations(type(self.target.__name__, (self.target,), {}))
