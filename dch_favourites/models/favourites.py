"""The listeners' favourites: the through-table and the state of each list.

Every door the ORM opens (``save()``, ``delete()``, ``QuerySet.delete()``, ``bulk_create()``
and so the many-to-many managers) goes through :mod:`dch_favourites.services`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models, router
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dch_favourites.exceptions import FavouritesError
from dch_favourites.models.catalogue import CatalogueItem, default_manager

NOT_EDITABLE = _(
    "A favourite is not edited in place: remove it and add the other item "
    "(dch_favourites.services)."
)


class FavouriteQuerySet(models.QuerySet["Favourite"]):
    """``delete()`` and ``bulk_create()`` (which the many-to-many managers use) go through
    the write path; ``update()`` and ``bulk_update()`` are refused."""

    def delete(self) -> tuple[int, dict[str, int]]:
        from dch_favourites import services  # imports the models: on use

        removed = services.remove_favourite_rows(self)
        return removed, {Favourite._meta.label: removed}

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Iterable[Favourite], *args: Any, **kwargs: Any) -> list[Favourite]:
        from dch_favourites import services  # imports the models: on use

        return services.add_favourite_rows(list(objs), db=self.db)

    bulk_create.alters_data = True  # type: ignore[attr-defined]

    def update(self, *args: Any, **kwargs: Any) -> int:
        raise FavouritesError(str(NOT_EDITABLE))

    update.alters_data = True  # type: ignore[attr-defined]
    bulk_update = update


class Favourite(models.Model):
    """An item on a listener's list: the through-table of ``CatalogueItem.listeners``."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("listener"),
        on_delete=models.CASCADE,
        related_name="dch_favourites",
    )
    item = models.ForeignKey(
        CatalogueItem,
        verbose_name=_("catalogue item"),
        on_delete=models.CASCADE,
        related_name="favourites",
    )
    added = models.DateTimeField(_("added"), default=timezone.now, editable=False)

    objects = FavouriteQuerySet.as_manager()

    class Meta:
        verbose_name = _("favourite")
        verbose_name_plural = _("favourites")
        ordering = ("-added", "-id")
        constraints = [
            models.UniqueConstraint(fields=["user", "item"], name="dch_fav_unique_user_item"),
        ]
        indexes = [
            # A listener's list, newest first, from the index alone (item_id last: the
            # order is decided before it): one listener's rows lie scattered over the table.
            models.Index(fields=["user", "-added", "-id", "item"], name="dch_fav_user_newest_item"),
            models.Index(fields=["item", "added"], name="dch_fav_item_added_idx"),
            # The admin's newest-first list and the "most favourited" period scan.
            models.Index(fields=["-added", "-id"], name="dch_fav_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} \u2665 {self.item_id}"

    def save(self, *args: Any, source: str | None = None, **kwargs: Any) -> None:
        """Add a new favourite through the write path (``source``: the signals' door, a
        :class:`~dch_favourites.services.Source`); a stored one cannot be edited."""
        from dch_favourites import services  # imports the models: on use

        if self.pk is None:
            services.add_favourite_instance(
                self, lambda: super(Favourite, self).save(*args, **kwargs), source=source
            )
            return
        db = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        rows = default_manager(type(self)).using(db)
        if not rows.filter(pk=self.pk, user_id=self.user_id, item_id=self.item_id).exists():
            raise FavouritesError(str(NOT_EDITABLE))

    def delete(
        self, *args: Any, source: str | None = None, **kwargs: Any
    ) -> tuple[int, dict[str, int]]:
        from dch_favourites import services  # imports the models: on use

        removed = services.remove_favourites(self.user, [self.item_id], source=source)
        return len(removed.item_ids), {Favourite._meta.label: len(removed.item_ids)}


class FavouriteListState(models.Model):
    """Where a listener's list stands: ``version`` counts its adds and removes, by any path;
    catalogue edits move :class:`CatalogueState` instead, and the document's ``updated`` comes
    from both (:attr:`~dch_favourites.documents.DocumentState.updated`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("listener"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="dch_favourites_state",
    )
    version = models.PositiveBigIntegerField(_("version"), default=0)
    updated = models.PositiveBigIntegerField(
        _("updated"), default=0, help_text=_("The top-level updated after the last change.")
    )
    catalogue_version = models.PositiveBigIntegerField(
        _("catalogue version"),
        default=0,
        db_default=0,
        help_text=_("The catalogue's version at that change."),
    )

    class Meta:
        verbose_name = _("favourites list state")
        verbose_name_plural = _("favourites list states")

    def __str__(self) -> str:
        return f"{self.user_id} v{self.version} @{self.updated}"
