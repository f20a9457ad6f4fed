"""A password change signs the listener out of every app."""

from __future__ import annotations

from typing import Any

from django.db import router, transaction
from django.utils.translation import gettext as _
from oauth2_provider.models import get_access_token_model, get_refresh_token_model


class RevokeTokensOnPasswordChange:
    """Revokes a user's access and refresh tokens when their password changes.

    Listed in ``AUTH_PASSWORD_VALIDATORS``, it validates nothing: Django calls its
    ``password_changed()`` from ``AbstractBaseUser.save()`` after ``set_password()``,
    whichever door the change came through (the admin, ``manage.py changepassword``, a
    listener's own form, code), and not when Django only rehashes a password at sign-in.
    """

    def validate(self, password: str, user: Any = None) -> None:
        """Every password is acceptable."""

    def password_changed(self, password: str, user: Any = None) -> None:
        """Revoke the tokens of ``user``, as django-oauth-toolkit revokes them."""
        if user is None or user.pk is None:
            return
        access_tokens = get_access_token_model()
        with transaction.atomic(using=router.db_for_write(access_tokens)):
            for refresh_token in get_refresh_token_model().objects.filter(
                user=user, revoked__isnull=True
            ):
                refresh_token.revoke()  # and its access token
            for access_token in access_tokens.objects.filter(user=user):
                access_token.revoke()  # one without a refresh token

    def get_help_text(self) -> str:
        """Said under the password fields of Django's forms."""
        return _("Changing the password signs the account out of every app.")
