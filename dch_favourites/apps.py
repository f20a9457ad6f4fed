"""App configuration: pins the primary key type and connects the write path and its hooks."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.conf import settings
from django.db.models.signals import post_delete, post_save, pre_delete
from django.utils.translation import gettext_lazy as _


class DchFavouritesConfig(AppConfig):
    """``dch_favourites``: catalogue, favourites and the ``/user/favourites`` API."""

    name = "dch_favourites"
    verbose_name = _("DCH favourites")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, once the models are loaded: services builds on them.
        from dch_favourites import checks, services
        from dch_favourites.models import CatalogueItem, CatalogueItemTranslation

        del checks  # imported for its @register side effect
        for signal, receiver, sender in (
            (post_save, services.catalogue_item_saved, CatalogueItem),
            (pre_delete, services.catalogue_item_deleting, CatalogueItem),
            (post_save, services.catalogue_translation_changed, CatalogueItemTranslation),
            (post_delete, services.catalogue_translation_changed, CatalogueItemTranslation),
            (pre_delete, services.user_deleting, settings.AUTH_USER_MODEL),
        ):
            uid = f"dch_favourites.{receiver.__name__}"
            signal.connect(receiver, sender=sender, dispatch_uid=uid)
        if apps.is_installed("drf_spectacular"):
            # The OpenAPI description registers itself with drf-spectacular, an optional
            # dependency: without it the app runs the same, just undocumented.
            from dch_favourites.api import schema

            del schema
