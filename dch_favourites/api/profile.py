"""``GET /v2/user``: the signed-in listener's own profile, which the apps read after sign-in.

Minimal on purpose (the body is in docs/signin.md): ``uid`` is the user's primary key,
``username`` its ``USERNAME_FIELD``, and a custom user model without names gets ``""``.
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
