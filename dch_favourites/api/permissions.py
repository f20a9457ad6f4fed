"""Who may do what: scopes of django-oauth-toolkit's ``READ_SCOPE`` and ``WRITE_SCOPE``."""

from __future__ import annotations

from typing import Any

from oauth2_provider.settings import oauth2_settings
from rest_framework import permissions
from rest_framework.request import Request

from dch_favourites.api.errors import InsufficientScope


class HasMethodScope(permissions.BasePermission):
    """A token with ``READ_SCOPE``; a change needs ``WRITE_SCOPE`` too.

    A POST answers with the whole list, so a write-only token must not read through it.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        token: Any = request.auth  # the access token the authentication class returned
        if token is None:
            return False
        scopes = [oauth2_settings.READ_SCOPE]
        if request.method not in permissions.SAFE_METHODS:
            scopes.append(oauth2_settings.WRITE_SCOPE)
        for scope in scopes:
            if not token.allow_scopes([scope]):
                raise InsufficientScope(scope)
        return True
