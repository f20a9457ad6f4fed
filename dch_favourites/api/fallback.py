"""The last route of the API's URLconf: every other path below its mount is a JSON 404.

Django answers a path that no route matches with its own page: with ``DEBUG = True`` an
HTML page that lists the URLconf, and otherwise whatever the site's ``handler404`` does.
Below the API's mount the answer is the API's envelope instead, whatever those say.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import override
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dch_favourites.api.errors import exception_handler
from dch_favourites.api.negotiation import RENDERER_CLASSES, AcceptNegotiation, negotiate_language
from dch_favourites.api.views import CACHE_CONTROL


class UnknownPathView(APIView):
    """``404 {"error": {"message": "Not found."}}`` for any method, token or body."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    parser_classes = ()
    renderer_classes = RENDERER_CLASSES
    content_negotiation_class = AcceptNegotiation
    metadata_class = None
    versioning_class = None
    schema = None  # not an operation of the API: left out of the OpenAPI description

    def get_exception_handler(self) -> Any:
        return exception_handler

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A client that accepts none of the JSON types still learns the path is unknown.
        return super().perform_content_negotiation(request, force=True)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound(_("Not found."))

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with override(negotiate_language(request)):
            return super().dispatch(request, *args, **kwargs)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = CACHE_CONTROL
        return response
