"""A password change signs the listener out of every app.

:class:`RevokeTokensOnPasswordChange` is listed in ``AUTH_PASSWORD_VALIDATORS``. It
validates nothing: Django calls its ``password_changed()`` from
``AbstractBaseUser.save()`` after ``set_password()``, whichever door the change came
through (the admin's password form, ``manage.py changepassword``, a listener's own form,
``set_password()`` and ``save()`` in code), and not when Django only rehashes a password
at sign-in. A site that keeps tokens across password changes leaves it out.
"""

from __future__ import annotations

from typing import Any

from django.db import router, transaction
from django.utils.translation import gettext as _
from oauth2_provider.models import get_access_token_model, get_refresh_token_model


def revoke_tokens(user: Any) -> None:
    """Revoke every access and refresh token of ``user``, as django-oauth-toolkit does."""
    access_tokens = get_access_token_model()
    with transaction.atomic(using=router.db_for_write(access_tokens)):
        for refresh_token in get_refresh_token_model().objects.filter(
            user=user, revoked__isnull=True
        ):
            refresh_token.revoke()  # and its access token
        for access_token in access_tokens.objects.filter(user=user):
            access_token.revoke()  # one without a refresh token


class RevokeTokensOnPasswordChange:
    """Revokes a user's access and refresh tokens when their password changes."""

    def validate(self, password: str, user: Any = None) -> None:
        """Every password is acceptable."""

    def password_changed(self, password: str, user: Any = None) -> None:
        """Revoke the tokens of ``user``, whose password has just been saved."""
        if user is not None and user.pk is not None:
            revoke_tokens(user)

    def get_help_text(self) -> str:
        """Said under the password fields of Django's forms."""
        return _("Changing the password signs the account out of every app.")
