"""The catalogue: items, their translations and the catalogue's clock.

Every edit moves the clock through :mod:`dch_favourites.services`: by queryset here, by
``save()`` and ``delete()`` through its receivers of the models' signals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models, router, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dch_favourites.conf import app_settings

M = TypeVar("M", bound=models.Model)

ITEM_ID_PATTERN = re.compile(r"\A[0-9A-Za-z][0-9A-Za-z_-]{0,63}\Z")
PART_ID_PATTERN = re.compile(r"\A([0-9]+)-[0-9]+\Z")


class ItemType(models.TextChoices):
    """The favouritable content types of the catalogue."""

    CONCERT = "concert", _("concert")
    WORK = "work", _("work")
    INTERVIEW = "interview", _("interview")
    FILM = "film", _("film")
    PLAYLIST = "playlist", _("playlist")


#: Types whose items are parts of a concert, numbered ``<concert id>-<n>``.
CONCERT_PART_TYPES = frozenset({ItemType.WORK, ItemType.INTERVIEW})


def concert_id_of(item_id: str) -> str | None:
    """The concert id named by a work's or interview's id prefix (``"23427-1"`` -> ``"23427"``)."""
    match = PART_ID_PATTERN.match(item_id)
    return match.group(1) if match else None


def default_manager(model: type[M]) -> models.Manager[M]:
    """``model._meta.default_manager``, which every concrete model has."""
    manager = model._meta.default_manager
    if manager is None:  # only abstract models have none
        raise TypeError(f"{model._meta.label} has no default manager")
    return manager


class CatalogueQuerySet(models.QuerySet[M]):
    """Catalogue rows whose writes by queryset move the catalogue clock (lists show them)."""

    def update(self, **kwargs: Any) -> int:
        from dch_favourites import services  # imports the models: on use

        updated = super().update(**kwargs)
        if updated:
            services.catalogue_changed(db=self.db)
        return updated

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_update(
        self, objs: Iterable[M], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        from dch_favourites import services  # imports the models: on use

        # One move of the clock for all the batches (Django may update each with update()),
        # in the same transaction as the rows.
        with transaction.atomic(using=self.db), services.catalogue_batch():
            updated = super().bulk_update(objs, fields, batch_size=batch_size)
            if updated:
                services.catalogue_changed(db=self.db)
        return updated

    bulk_update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Iterable[M], *args: Any, **kwargs: Any) -> list[M]:
        from dch_favourites import services  # imports the models: on use

        created = super().bulk_create(objs, *args, **kwargs)
        # A new item is on no list, but an upsert may change listed items, and a new
        # concert gives its parts their begin; a new translation changes a title.
        if created and (
            not issubclass(self.model, CatalogueItem)
            or kwargs.get("update_conflicts")
            or any(getattr(item, "type", None) == ItemType.CONCERT for item in created)
        ):
            services.catalogue_changed(db=self.db)
        return created

    bulk_create.alters_data = True  # type: ignore[attr-defined]


class CatalogueItemQuerySet(CatalogueQuerySet["CatalogueItem"]):
    """Catalogue items, with the favourites ranking."""

    def popular(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> CatalogueItemQuerySet:
        """The items most favourited now among the favourites added in ``[since, until)``
        (``None``: open), each with ``favourite_count``, most first, ties by id; one query."""
        period: dict[str, Any] = {"favourites__isnull": False}
        if since is not None:
            period["favourites__added__gte"] = since
        if until is not None:
            period["favourites__added__lt"] = until
        # One filter() call: the period and the count use the same join.
        ranked = (
            self.filter(**period)
            .annotate(favourite_count=Count("favourites"))
            .order_by("-favourite_count", "id")
        )
        return ranked[:limit] if limit is not None else ranked


class CatalogueItem(models.Model):
    """A concert, work, interview, film or playlist a listener can keep as a favourite.

    Works and interviews belong to the concert their id prefix names. ``concert`` is
    derived from the id and is not a database constraint, so a part may arrive before its
    concert. While the concert exists its ``begin`` is the part's ``begin`` (the API reads
    the concert's value); the part's own ``begin`` is only the fallback for a missing concert.
    """

    id = models.CharField(
        _("id"),
        primary_key=True,
        max_length=64,
        validators=[
            RegexValidator(
                ITEM_ID_PATTERN,
                _("An id is 1 to 64 letters, digits, '-' or '_', starting with a letter or digit."),
            )
        ],
        help_text=_("Unique across all types, e.g. 23427 (concert), 23427-1 (work), 301 (film)."),
    )
    type = models.CharField(_("type"), max_length=16, choices=ItemType.choices)
    concert = models.ForeignKey(
        "self",
        verbose_name=_("concert"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        editable=False,
        related_name="parts",
        help_text=_("Derived from the id of a work or interview."),
    )
    title = models.CharField(_("title"), max_length=500)
    short_title = models.CharField(_("short title"), max_length=200, null=True, blank=True)
    is_free = models.BooleanField(_("free"), default=False)
    published = models.DateTimeField(_("published"))
    begin = models.DateTimeField(
        _("begin"),
        null=True,
        blank=True,
        help_text=_("For works and interviews the concert's begin is used while it exists."),
    )
    overview_image = models.CharField(
        _("overview image"),
        max_length=1000,
        null=True,
        blank=True,
        help_text=_("URL template with literal {width}x{height}, e.g. //host/{width}x{height}/a"),
    )
    detail_image = models.CharField(
        _("detail image"),
        max_length=1000,
        null=True,
        blank=True,
        help_text=_("URL template with literal {width}x{height}."),
    )
    updated = models.DateTimeField(_("updated"), editable=False)
    listeners = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Favourite",
        related_name="favourite_items",
        verbose_name=_("listeners"),
        blank=True,
    )

    objects = CatalogueItemQuerySet.as_manager()

    #: Set by ``save()`` of a concert whose ``begin`` changed (its parts show that begin).
    begin_changed: bool = False

    class Meta:
        verbose_name = _("catalogue item")
        verbose_name_plural = _("catalogue items")
        ordering = ("-published", "id")
        indexes = [
            models.Index(fields=["type", "-published"], name="dch_fav_item_type_pub_idx"),
            models.Index(fields=["concert"], name="dch_fav_item_concert_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=ItemType.values), name="dch_fav_item_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.id}: {self.title}"

    def save(self, *args: Any, keep_updated: bool = False, **kwargs: Any) -> None:
        """Save, deriving ``concert`` from the id and stamping ``updated`` (unless kept)."""
        self.concert_id = concert_id_of(self.id) if self.type in CONCERT_PART_TYPES else None
        if self.type == ItemType.CONCERT:
            # Its parts show this begin: the post-save hook renews their documents when it
            # changed. Read where the save writes, never a replica.
            db = kwargs.get("using") or router.db_for_write(type(self), instance=self)
            stored = default_manager(type(self)).using(db).filter(pk=self.pk)
            self.begin_changed = list(stored.values_list("begin", flat=True)) != [self.begin]
        if not keep_updated or self.updated is None:
            self.updated = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated", "concert"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.type in CONCERT_PART_TYPES and self.id and concert_id_of(self.id) is None:
            raise ValidationError(
                {"id": _("A work or interview id is '<concert id>-<number>', e.g. 23427-1.")}
            )
        if self.type == ItemType.CONCERT and self.id and not self.id.isdigit():
            raise ValidationError({"id": _("A concert id is a number, e.g. 23427.")})


class CatalogueItemTranslation(models.Model):
    """The title and short title of an item in a language other than the default one."""

    item = models.ForeignKey(
        CatalogueItem,
        verbose_name=_("catalogue item"),
        on_delete=models.CASCADE,
        related_name="translations",
    )
    language = models.CharField(_("language"), max_length=16)
    title = models.CharField(_("title"), max_length=500)
    short_title = models.CharField(_("short title"), max_length=200, null=True, blank=True)

    objects = CatalogueQuerySet["CatalogueItemTranslation"].as_manager()

    class Meta:
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [
            models.UniqueConstraint(
                fields=["item", "language"], name="dch_fav_translation_unique_item_language"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} [{self.language}]: {self.title}"

    def clean(self) -> None:
        """A translation is in one of ``LANGUAGES`` other than the default (the item's own)."""
        default = app_settings.DEFAULT_LANGUAGE
        others = [code for code in app_settings.LANGUAGES if code != default]
        if self.language not in others:
            message = _("Use one of %(languages)s; the item itself holds the %(default)s text.")
            names = {"languages": ", ".join(others) or "-", "default": default}
            raise ValidationError({"language": message % names})


CATALOGUE_STATE_ID = 1


class CatalogueState(models.Model):
    """The catalogue's clock: one row, moved by every edit that can change a listed entry
    instead of every holder's list state; a document names it in its ETag and cache key."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=CATALOGUE_STATE_ID)
    version = models.PositiveBigIntegerField(_("version"), default=0)
    updated = models.PositiveBigIntegerField(
        _("updated"), default=0, help_text=_("Unix seconds of the last change.")
    )

    class Meta:
        verbose_name = _("catalogue state")
        verbose_name_plural = _("catalogue states")

    def __str__(self) -> str:
        return f"catalogue v{self.version} @{self.updated}"
