"""The last route of the API's URLconf: every other path below its mount is a JSON 404.

Django answers a path that no route matches with its own page: with ``DEBUG = True`` an
HTML page that lists the URLconf, and otherwise whatever the site's ``handler404`` does.
Below the API's mount the answer is the API's envelope instead, whatever those say.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from dch_favourites.api.views import ContractView


class UnknownPathView(ContractView):
    """``404 {"error": {"message": "Not found."}}`` for any method, token or body."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    parser_classes = ()
    schema = None  # not an operation of the API: left out of the OpenAPI description

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A client that accepts none of the JSON types still learns the path is unknown.
        return super().perform_content_negotiation(request, force=True)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound(_("Not found."))
