"""The HTTP layer: ``/user/favourites`` (GET, POST), ``/<type>/<id>`` and ``/user`` (GET).

The views pin every DRF policy they rely on (authentication, permissions, throttles,
parsers, renderers, negotiation, exception handling), so a site's ``REST_FRAMEWORK``
defaults cannot change the contract.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import nullcontext
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, cast

from django.db import router
from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSetMixin

from dch_favourites.api.authentication import (
    BearerTokenAuthentication,
    DeviceTokenAuthentication,
)
from dch_favourites.api.cache import (
    CATALOGUE_KEY,
    add_states,
    cached,
    cached_document,
    document_key,
    state_key,
    store_document,
)
from dch_favourites.api.errors import (
    MethodNotAllowed,
    PreconditionFailed,
    exception_handler,
    excerpt,
)
from dch_favourites.api.negotiation import RENDERER_CLASSES, AcceptNegotiation, negotiate_language
from dch_favourites.api.parsers import PARSER_CLASSES, request_body_length
from dch_favourites.api.permissions import HasMethodScope
from dch_favourites.api.serializers import (
    CatalogueItemSerializer,
    FavouriteChangeSerializer,
    FavouritesDocument,
    FavouritesSerializer,
    entry_plan,
)
from dch_favourites.api.throttling import WriteRateThrottle
from dch_favourites.conf import app_settings
from dch_favourites.documents import (
    DocumentState,
    document_rows,
    document_state,
    entry_queryset,
    entry_values,
)
from dch_favourites.models import (
    ITEM_ID_PATTERN,
    CatalogueItem,
    Favourite,
    FavouriteListState,
    ItemType,
)
from dch_favourites.routers import read_routed
from dch_favourites.services import Source, add_favourites, remove_favourites

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

VARY_HEADER = "Accept, Authorization, Accept-Language"
CACHE_CONTROL = "private, no-cache"


class ContractView(APIView):
    """Policies shared by the app's views, pinned against the site's DRF defaults."""

    authentication_classes: Any = ()
    permission_classes: Any = ()
    throttle_classes: Any = ()
    parser_classes: Any = ()
    renderer_classes = RENDERER_CLASSES
    content_negotiation_class = AcceptNegotiation
    versioning_class = None
    language: str

    def get_exception_handler(self) -> Any:
        return exception_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Everything the view raises (parsers, serializers, the write path) is translated
        # into the negotiated language, whether or not the site runs LocaleMiddleware.
        self.language = negotiate_language(request)
        # Activated only when another language is active (LocaleMiddleware often chose it).
        with nullcontext() if get_language() == self.language else override(self.language):
            return super().dispatch(request, *args, **kwargs)

    @property
    def default_response_headers(self) -> dict[str, str]:
        return {**super().default_response_headers, "Cache-Control": CACHE_CONTROL}


class ContractViewSet(ViewSetMixin, ContractView):
    """The app's endpoints: a route's actions, the API's base URL and ETags."""

    authentication_classes = (BearerTokenAuthentication,)
    parser_classes = PARSER_CLASSES
    # DRF's allowed_methods (the Allow header) lists those of these the route serves.
    http_method_names = ["get", "post", "head"]
    #: How many path segments the route adds to the API's base.
    route_suffix_parts = 0

    @property
    def default_response_headers(self) -> dict[str, str]:
        # With the rest of the Vary header: DRF's finalize_response merges it into what the
        # response already varies on.
        return {**super().default_response_headers, "Vary": VARY_HEADER}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The original router answered a wrong method before looking at the token.
        if request.method is None or request.method.lower() not in self.action_map:
            raise MethodNotAllowed(request.method or "", request.path_info, self.allowed_methods)
        super().initial(request, *args, **kwargs)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code < 400:
            response["Content-Language"] = self.language
        if request.method == "HEAD":
            # Django's handler sends what the view returns: a HEAD's body goes here.
            if isinstance(response, Response):
                response.render()
            response.content = b""
        return response

    @cached_property
    def base_url(self) -> str:
        """``API_BASE_URL``, or ``//<host><mount path>`` of this request."""
        if app_settings.API_BASE_URL:
            return str(app_settings.API_BASE_URL)
        path = self.request.path.rstrip("/").rsplit("/", self.route_suffix_parts)[0]
        return f"//{self.request.get_host()}{path}"

    def etag(self, *parts: Any) -> str:
        """A strong ETag over what the body depends on, plus media type, language and base."""
        media_type = self.request.accepted_media_type
        raw = ":".join(map(str, (*parts, media_type, self.language, self.base_url)))
        return '"' + hashlib.blake2b(raw.encode(), digest_size=12).hexdigest() + '"'


def conditional_response(
    request: Request, headers: dict[str, str], updated: int | None = None
) -> HttpResponse | None:
    """Django's answer to the request's preconditions: a 304, or None to serve the body.

    ``If-Modified-Since`` is compared with the resource's own ``updated``, which may run
    ahead of the clock (``Last-Modified`` never does): a change in the second the client
    was served in always makes ``updated`` later than what it holds. A failed
    ``If-Match`` or ``If-Unmodified-Since`` is a 412 in the API's envelope.
    """
    served = HttpResponse(headers=headers)
    answer = get_conditional_response(request, headers["ETag"], updated, served)
    if answer is not None and answer.status_code == 412:
        raise PreconditionFailed
    return None if answer is served else answer


def document_response(request: Request, body: bytes, headers: dict[str, str]) -> HttpResponse:
    """A rendered document as the response, with its validators."""
    content_type = f"{request.accepted_media_type}; charset=utf-8"
    return HttpResponse(body, content_type=content_type, headers=headers)


def last_modified(updated: int) -> str:
    """``Last-Modified`` for ``updated``: never later than now (RFC 9110 8.8.2.1)."""
    return _http_date(min(updated, int(time.time())))


# Lists are served again and again in the same state: format each second once.
_http_date = lru_cache(maxsize=4096)(http_date)


class FavouritesViewSet(ContractViewSet):
    """``GET`` the listener's favourites; ``POST action=add|delete&id=...`` to change them."""

    permission_classes = (HasMethodScope,)
    throttle_classes = (WriteRateThrottle,)
    route_suffix_parts = 2

    def get_throttles(self) -> list[Any]:
        # The throttle counts changes alone: a read never builds it.
        if self.request.method in SAFE_METHODS:
            return []
        return cast("list[Any]", super().get_throttles())

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST" and "HTTP_AUTHORIZATION" in request.META:
            # Before the token is judged: the toolkit reads a form body to do so. Without
            # credentials the 401 comes first and the body is never read.
            request_body_length(request)
        super().initial(request, *args, **kwargs)

    def list(self, request: Request) -> HttpResponse | Response:
        """The listener's favourites, newest first: a 304 when the client's copy is current,
        else the document from the cache, else read (state and rows in one statement)."""
        user_pk = request.user.pk
        keys = (state_key(user_pk), CATALOGUE_KEY, self.document_key)
        # A conditional GET asks for the document only when it is not answered by a 304.
        conditional = {"HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE"} & request.META.keys()
        found = cached(*(keys[:2] if conditional else keys))
        listed = found.get(keys[0])
        # A listener who never had a favourite has a document that depends on nothing else.
        if listed is not None and (CATALOGUE_KEY in found or not listed[0]):
            state = DocumentState.of((*listed, *found.get(CATALOGUE_KEY, (0, 0))))
        else:
            # The state is read where it is written: a replica may lag behind the list.
            state = document_state(user_pk, router.db_for_write(FavouriteListState))
            states: dict[str, tuple[int, ...]] = {keys[0]: state.list_values}
            if state.list_version:  # else the catalogue's state was not read
                states[CATALOGUE_KEY] = state.catalogue_values
            add_states(states)
        headers = self.list_validators(state)
        answer = conditional_response(request, headers, state.updated)
        if answer is not None:
            return answer
        if conditional:
            found = cached(keys[2])
        body = cached_document(found, keys[2], headers["ETag"])
        if body is None:
            return self.document(router.db_for_write(FavouriteListState), state)
        return document_response(request, body, headers)

    def create(self, request: Request) -> HttpResponse:
        """Apply ``action`` to every ``id`` at once, then answer with the whole list."""
        serializer = FavouriteChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = serializer.validated_data
        apply = add_favourites if change.action == "add" else remove_favourites
        # HasMethodScope lets through only a token with a user.
        user = cast("AbstractBaseUser", request.user)
        # The answer is read in the change's transaction, on the database written to (never
        # a replica that may lag), so it shows the change, and nothing if the read fails.
        applied = apply(user, change.item_ids, source=Source.API, read_back=self.document)
        return cast(HttpResponse, applied.answer)

    def document(self, db: str, state: DocumentState | None = None) -> HttpResponse:
        """Read the listener's state and rows in one statement on ``db``, the database written
        to (or, given the ``state`` the request holds, where the routers read them unless that
        replica is behind it); render and cache them."""
        plan = entry_plan()

        def read(using: str) -> tuple[DocumentState, list[tuple[Any, ...]]]:
            return document_rows(self.request.user.pk, self.language, plan.columns, using)

        if state is None:
            state, rows = read(db)
        else:
            state, rows = read_routed(FavouriteListState, read, lambda found: found[0] == state)
        headers = self.list_validators(state)
        serializer = FavouritesSerializer(
            FavouritesDocument(updated=state.updated, rows=rows),
            context={"base_url": self.base_url},
        )
        request = self.request
        rendered = request.accepted_renderer.render(serializer.data, request.accepted_media_type)
        body = rendered.encode() if isinstance(rendered, str) else rendered
        store_document(self.document_key, headers["ETag"], body, db)
        return document_response(request, body, headers)

    @cached_property
    def document_key(self) -> str:
        """The cache key of the listener's document in this request's variant."""
        variant = self.etag(app_settings.DEFAULT_LANGUAGE, entry_plan().format)
        return document_key(self.request.user.pk, variant.strip('"'))

    def list_validators(self, state: DocumentState) -> dict[str, str]:
        """``ETag`` and ``Last-Modified`` of the listener's document in this state."""
        user_pk = self.request.user.pk
        versions = (user_pk, state.list_version, state.catalogue_version, state.updated)
        etag = self.etag(*versions, app_settings.DEFAULT_LANGUAGE, entry_plan().format)
        return {"ETag": etag, "Last-Modified": last_modified(state.updated)}


class CatalogueItemViewSet(ContractViewSet):
    """``GET <base>/<type>/<id>``: the resource each favourites ``href`` points to."""

    authentication_classes = (DeviceTokenAuthentication,)
    route_suffix_parts = 2

    def get_permissions(self) -> list[Any]:
        # Anyone when ITEM_ENDPOINT_PUBLIC; else a token with the read scope.
        return [] if app_settings.ITEM_ENDPOINT_PUBLIC else [HasMethodScope()]

    def retrieve(self, request: Request, item_type: str, item_id: str) -> HttpResponse | Response:
        """One item, in the negotiated language; ``favourited`` for a listener's token.

        The item and, for a listener, whether it is on their list come back in one query.
        """
        if item_type not in ItemType.values:
            raise NotFound(
                _("Unknown catalogue type '%(type)s': use one of %(types)s.")
                % {"type": excerpt(item_type, 64), "types": ", ".join(ItemType.values)}
            )
        plan = entry_plan()
        columns = entry_values("", self.language, plan.columns)
        listener = request.user.pk if request.user.is_authenticated else None
        if listener is not None:
            on_list = Favourite.objects.filter(user_id=listener, item_id=OuterRef("pk"))
            columns.append(Exists(on_list))

        def read(db: str) -> Any:
            items = CatalogueItem.objects.using(db).filter(pk=item_id, type=item_type)
            return entry_queryset(items, "", self.language, plan.columns).values_list(*columns)

        # A listener's `favourited` on the primary: it shows their own changes at once.
        if not ITEM_ID_PATTERN.match(item_id):
            found = None
        elif listener is None:
            found = read_routed(CatalogueItem, lambda db: read(db).first(), lambda row: True)
        else:
            found = read(router.db_for_write(Favourite)).first()
        if found is None:
            raise NotFound(
                _("No %(type)s with id '%(id)s'.") % {"type": item_type, "id": excerpt(item_id, 64)}
            )
        row = plan.row_mapping(found[: len(plan.columns)])
        if listener is not None:
            row["favourited"] = bool(found[-1])
        # The row is everything the body is made of (timestamps in whole seconds).
        etag = self.etag(repr(sorted(row.items())), plan.format)
        headers = {"ETag": etag, "Last-Modified": last_modified(row["updated"])}
        answer = conditional_response(request, headers)
        if answer is not None:
            return answer
        serializer = CatalogueItemSerializer(row, context={"base_url": self.base_url})
        return Response(serializer.data, headers=headers)


class ProfileViewSet(ContractViewSet):
    """``GET /user``: the signed-in listener's own profile, which the apps read after sign-in.

    Minimal on purpose (the body is in docs/signin.md): ``uid`` is the user's primary key,
    ``username`` its ``USERNAME_FIELD``, and a custom user model without names gets ``""``.
    """

    permission_classes = (HasMethodScope,)
    route_suffix_parts = 1
    schema = None  # not in the OpenAPI document yet

    def retrieve(self, request: Request) -> Response:
        """The listener's profile: the user django-oauth-toolkit loaded with the token."""
        user: Any = request.user
        return Response(
            {
                "uid": user.pk,
                "username": user.get_username(),
                "email": getattr(user, user.get_email_field_name(), "") or "",
                "first_name": getattr(user, "first_name", "") or "",
                "last_name": getattr(user, "last_name", "") or "",
                "_links": {"favourites": {"href": f"{self.base_url}/user/favourites"}},
            }
        )


class UnknownPathView(ContractView):
    """The last route: ``404 {"error": {"message": "Not found."}}`` for any other path below
    the API's mount, whatever the method, token or body, where Django would answer with its
    own page (the URLconf with ``DEBUG = True``, else the site's ``handler404``)."""

    schema = None  # not an operation of the API: left out of the OpenAPI description

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A client that accepts none of the JSON types still learns the path is unknown.
        return super().perform_content_negotiation(request, force=True)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound(_("Not found."))
