"""``GET /v2/user``: the signed-in listener's own profile, which the apps read after sign-in.

Minimal on purpose: what the apps show and need to go on, nothing a content backend owns::

    {
      "uid": 42,
      "username": "listener",
      "email": "listener@example.com",
      "first_name": "Clara",
      "last_name": "Schumann",
      "_links": {"favourites": {"href": "//api.example.com/v2/user/favourites"}}
    }

``uid`` is the user's primary key (an integer with Django's default user model),
``username`` its ``USERNAME_FIELD``; a custom user model without names gets ``""``.
A device token (no user) gets the legacy 401, a token without the read scope 403, and
every method but GET and HEAD the original router's 405.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import get_user_model
from rest_framework.request import Request
from rest_framework.response import Response

from dch_favourites.api.permissions import HasMethodScope
from dch_favourites.api.views import ContractViewSet


class ProfileViewSet(ContractViewSet):
    """``GET`` (and ``HEAD``) the listener's profile."""

    permission_classes = (HasMethodScope,)
    route_suffix_parts = 1
    schema = None  # not in the OpenAPI document yet

    def retrieve(self, request: Request) -> Response:
        """The listener's profile (one query beyond the token's)."""
        # The authentication loads only what the favourites need; read the rest at once.
        user: Any = get_user_model().objects.get(pk=cast("int | str", request.user.pk))
        return Response(
            {
                "uid": user.pk,
                "username": user.get_username(),
                "email": getattr(user, user.get_email_field_name(), "") or "",
                "first_name": getattr(user, "first_name", "") or "",
                "last_name": getattr(user, "last_name", "") or "",
                "_links": {"favourites": {"href": f"{self.base_url(request)}/user/favourites"}},
            }
        )
