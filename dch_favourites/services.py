"""The one place where favourites change.

The API, the admin, management commands, Python callers and cascades (an item or a user
deleted, a listed item edited) all come through here, so every effective change moves
the listener's :class:`~dch_favourites.models.FavouriteListState` forward and sends
:mod:`dch_favourites.signals` after commit.

Locks are always taken in the same order, catalogue items first and list states second
(states in primary-key order), so concurrent writers queue instead of deadlocking. On
SQLite the whole transaction is serialised (``transaction_mode: IMMEDIATE``).
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Greatest
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from dch_favourites.conf import app_settings
from dch_favourites.models import (
    CONCERT_PART_TYPES,
    CatalogueItem,
    CatalogueItemTranslation,
    Favourite,
    FavouriteListState,
    ItemType,
)
from dch_favourites.signals import favourite_added, favourite_removed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class Source(StrEnum):
    """Which door a change came through; passed on to the signals."""

    API = "api"
    ADMIN = "admin"
    CASCADE = "cascade"
    COMMAND = "command"
    PYTHON = "python"


class FavouritesError(Exception):
    """A change that was refused; nothing was applied."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownItems(FavouritesError):
    """Ids that name no catalogue item."""

    def __init__(self, item_ids: Sequence[str]) -> None:
        self.item_ids = tuple(item_ids)
        super().__init__(_("Unknown catalogue id: %(ids)s.") % {"ids": ", ".join(self.item_ids)})


class ListFull(FavouritesError):
    """The add would take the list past ``MAX_FAVOURITES_PER_USER``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            _("The favourites list is full: it holds at most %(limit)d items.") % {"limit": limit}
        )


@dataclass(frozen=True)
class ListState:
    """The version and top-level ``updated`` of a listener's list."""

    version: int = 0
    updated: int = 0


@dataclass(frozen=True)
class ListChange:
    """What one call changed: the ids applied (in order) and the list's state after it."""

    state: ListState
    item_ids: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.item_ids)


def now_seconds() -> int:
    """The current time in Unix seconds."""
    return int(time.time())


def list_state(user: AbstractBaseUser) -> ListState:
    """The state of ``user``'s list; a listener who never had a favourite is at (0, 0)."""
    row = FavouriteListState.objects.filter(user_id=user.pk).values_list("version", "updated")
    found = row.first()
    return ListState(*found) if found else ListState()


def add_favourites(
    user: AbstractBaseUser, item_ids: Iterable[str], *, source: Source = Source.PYTHON
) -> ListChange:
    """Add items to ``user``'s list, all or nothing.

    Items already on the list are left as they are. Raises :class:`UnknownItems` when an id
    names no catalogue item and :class:`ListFull` past the configured length; in both
    cases nothing changes.
    """
    ids = _unique(item_ids)
    db = router.db_for_write(Favourite)
    with transaction.atomic(using=db):
        found = _lock_items_for_reference(ids, db)
        missing = [item_id for item_id in ids if item_id not in found]
        if missing:
            raise UnknownItems(missing)
        state = _lock_state(user, db)
        present = set(
            Favourite.objects.using(db)
            .filter(user_id=user.pk, item_id__in=ids)
            .values_list("item_id", flat=True)
        )
        new_ids = [item_id for item_id in ids if item_id not in present]
        if not new_ids:
            return ListChange(_as_state(state))
        limit = app_settings.MAX_FAVOURITES_PER_USER
        if Favourite.objects.using(db).filter(user_id=user.pk).count() + len(new_ids) > limit:
            raise ListFull(limit)
        added = timezone.now()
        Favourite.objects.using(db).bulk_create(
            [Favourite(user_id=user.pk, item_id=item_id, added=added) for item_id in new_ids]
        )
        _bump(state, db)
        _send_on_commit(favourite_added, user, new_ids, source, db)
    return ListChange(_as_state(state), tuple(new_ids))


def remove_favourites(
    user: AbstractBaseUser, item_ids: Iterable[str], *, source: Source = Source.PYTHON
) -> ListChange:
    """Remove items from ``user``'s list; ids not on it are ignored."""
    ids = _unique(item_ids)
    db = router.db_for_write(Favourite)
    with transaction.atomic(using=db):
        state = _lock_state(user, db)
        rows = Favourite.objects.using(db).filter(user_id=user.pk, item_id__in=ids)
        present = set(rows.values_list("item_id", flat=True))
        removed = [item_id for item_id in ids if item_id in present]
        if not removed:
            return ListChange(_as_state(state))
        rows._delete_rows()
        _bump(state, db)
        _send_on_commit(favourite_removed, user, removed, source, db)
    return ListChange(_as_state(state), tuple(removed))


def remove_all_favourites(user: AbstractBaseUser, *, source: Source = Source.PYTHON) -> ListChange:
    """Empty ``user``'s list."""
    db = router.db_for_write(Favourite)
    return remove_favourites(user, _listed_item_ids(user.pk, db), source=source)


def remove_favourite_rows(queryset: QuerySet[Favourite], *, source: Source = Source.PYTHON) -> int:
    """Delete the favourites a queryset selects (admin bulk delete, ``qs.delete()``).

    Each listener's part goes through :func:`remove_favourites`, in user order.
    Returns how many favourites were removed.
    """
    db = queryset.db
    by_user: dict[Any, list[str]] = defaultdict(list)
    with transaction.atomic(using=db):
        for user_id, item_id in queryset.order_by("user_id", "-added").values_list(
            "user_id", "item_id"
        ):
            by_user[user_id].append(item_id)
        users = get_user_model()._default_manager.using(db).in_bulk(list(by_user))
        return sum(
            len(remove_favourites(users[user_id], item_ids, source=source).item_ids)
            for user_id, item_ids in by_user.items()
        )


def add_favourite_instance(favourite: Favourite, *, source: Source = Source.PYTHON) -> None:
    """Save a new ``Favourite`` instance through :func:`add_favourites` (admin, ``create()``)."""
    add_favourites(favourite.user, [favourite.item_id], source=source)
    stored = Favourite.objects.get(user_id=favourite.user_id, item_id=favourite.item_id)
    favourite.pk, favourite.added = stored.pk, stored.added
    favourite._state.adding = False
    favourite._state.db = stored._state.db


def items_changed(item_ids: Sequence[str], *, db: str | None = None) -> int:
    """Move forward every list that holds one of ``item_ids`` (their entries changed).

    Returns the number of lists moved.
    """
    if not item_ids:
        return 0
    db = db or router.db_for_write(FavouriteListState)
    holders = Favourite.objects.using(db).filter(item_id__in=item_ids).values("user_id")
    # The save hooks call this in autocommit too (an item saved from a script): the row
    # locks need a transaction of their own then.
    with transaction.atomic(using=db):
        return _bump_many(FavouriteListState.objects.using(db).filter(user_id__in=holders), db)


# Cascades: connected in AppConfig.ready() to model signals.


def catalogue_item_saved(instance: CatalogueItem, created: bool, **kwargs: Any) -> None:
    """An item was saved: lists that hold it, or a part whose begin it gives, move forward."""
    db = kwargs.get("using") or router.db_for_write(CatalogueItem)
    if created and instance.type != ItemType.CONCERT:
        return
    changed = [] if created else [instance.pk]
    if instance.type == ItemType.CONCERT and instance._begin_changed:
        changed += _touch_parts(instance.pk, db)
    instance._begin_changed = False
    items_changed(changed, db=db)


def catalogue_item_deleting(instance: CatalogueItem, **kwargs: Any) -> None:
    """An item is about to be deleted (inside the delete's transaction).

    Its holders lose it; when it is a concert, its parts fall back to their own begin.
    The item row is locked first, so an add racing the delete either lands before it (and
    is removed with it) or finds the item gone.
    """
    db = kwargs.get("using") or router.db_for_write(CatalogueItem)
    CatalogueItem.objects.using(db).select_for_update().filter(pk=instance.pk).exists()
    holders = list(
        Favourite.objects.using(db)
        .filter(item_id=instance.pk)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )
    part_ids = _touch_parts(instance.pk, db) if instance.type == ItemType.CONCERT else []
    items_changed([instance.pk, *part_ids], db=db)
    if holders:
        users = get_user_model()._default_manager.using(db).in_bulk(holders)
        for user_id in holders:
            _send_on_commit(favourite_removed, users[user_id], [instance.pk], Source.CASCADE, db)


def catalogue_translation_changed(instance: CatalogueItemTranslation, **kwargs: Any) -> None:
    """A translation was saved or deleted: the item's entry changed in that language."""
    db = kwargs.get("using") or router.db_for_write(CatalogueItem)
    CatalogueItem.objects.using(db).filter(pk=instance.item_id).update(updated=timezone.now())
    items_changed([instance.item_id], db=db)


def user_deleting(instance: AbstractBaseUser, **kwargs: Any) -> None:
    """A listener is about to be deleted: their list goes with them; tell the receivers."""
    db = kwargs.get("using") or router.db_for_write(Favourite)
    item_ids = _listed_item_ids(instance.pk, db)
    if item_ids:
        # A copy: the delete sets the instance's pk to None before the receivers run.
        _send_on_commit(favourite_removed, copy.copy(instance), item_ids, Source.CASCADE, db)


# Internals.


def _unique(item_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item_ids))


def _listed_item_ids(user_pk: Any, db: str) -> list[str]:
    """The ids on a listener's list, newest first."""
    rows = Favourite.objects.using(db).filter(user_id=user_pk).order_by("-added", "-id")
    return list(rows.values_list("item_id", flat=True))


def _as_state(state: FavouriteListState) -> ListState:
    return ListState(version=state.version, updated=state.updated)


def _lock_items_for_reference(item_ids: Sequence[str], db: str) -> set[str]:
    """The ids of ``item_ids`` that exist, share-locked against deletion until commit.

    PostgreSQL takes ``FOR KEY SHARE`` (what a foreign key check takes), which waits for a
    delete in progress but not for edits or other adds. SQLite serialises writers already.
    """
    if not item_ids:
        return set()
    connection = connections[db]
    if connection.vendor == "postgresql":
        table = CatalogueItem._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT "id" FROM "{table}" WHERE "id" = ANY(%s) ORDER BY "id" FOR KEY SHARE',  # noqa: S608  (table name from the model)
                [list(item_ids)],
            )
            return {row[0] for row in cursor.fetchall()}
    return set(CatalogueItem.objects.using(db).filter(pk__in=item_ids).values_list("pk", flat=True))


def _lock_state(user: AbstractBaseUser, db: str) -> FavouriteListState:
    """The listener's state row, created when missing, locked until commit."""
    states = FavouriteListState.objects.using(db).select_for_update()
    try:
        return states.get(user_id=user.pk)
    except FavouriteListState.DoesNotExist:
        FavouriteListState.objects.using(db).bulk_create(
            [FavouriteListState(user_id=user.pk)], ignore_conflicts=True
        )
        return states.get(user_id=user.pk)


def _bump(state: FavouriteListState, db: str) -> None:
    """One effective change: version + 1, ``updated`` strictly later, never backwards."""
    state.version += 1
    state.updated = max(now_seconds(), state.updated + 1)
    state.save(using=db, update_fields=["version", "updated"])


def _bump_many(states: QuerySet[FavouriteListState], db: str) -> int:
    """:func:`_bump` for many lists in one statement, locking the rows in key order first."""
    pks = list(states.select_for_update().order_by("pk").values_list("pk", flat=True))
    if not pks:
        return 0
    return int(
        FavouriteListState.objects.using(db)
        .filter(pk__in=pks)
        .update(version=F("version") + 1, updated=Greatest(Value(now_seconds()), F("updated") + 1))
    )


def _touch_parts(concert_id: str, db: str) -> list[str]:
    """Stamp the works and interviews of a concert as updated; returns their ids."""
    parts = CatalogueItem.objects.using(db).filter(
        concert_id=concert_id, type__in=CONCERT_PART_TYPES
    )
    part_ids = list(parts.values_list("pk", flat=True))
    if part_ids:
        CatalogueItem.objects.using(db).filter(pk__in=part_ids).update(updated=timezone.now())
    return part_ids


def _send_on_commit(
    signal: Signal, user: AbstractBaseUser, item_ids: Sequence[str], source: Source, db: str
) -> None:
    items = tuple(item_ids)
    # The change is committed by then: a failing receiver must not turn it into an error
    # for the caller, nor keep the other receivers from hearing of it. send_robust logs
    # the failure to the "django.dispatch" logger.
    transaction.on_commit(
        lambda: signal.send_robust(sender=Favourite, user=user, items=items, source=source),
        using=db,
    )
