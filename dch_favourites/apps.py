"""App configuration: pins the primary key type and connects the write path and its hooks."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class DchFavouritesConfig(AppConfig):
    """``dch_favourites``: catalogue, favourites and the ``/user/favourites`` API."""

    name = "dch_favourites"
    verbose_name = _("DCH favourites")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, once the models are loaded, for what importing them registers: the
        # system checks, and the write path's receivers of the models' signals (cascades).
        from dch_favourites import checks, services

        del checks, services
        if apps.is_installed("drf_spectacular"):
            # The OpenAPI description registers itself with drf-spectacular, an optional
            # dependency: without it the app runs the same, just undocumented.
            from dch_favourites.api import schema

            del schema
