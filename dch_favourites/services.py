"""The one place where favourites change.

The API, the admin, commands, Python callers, the ORM's doors on ``Favourite`` and the
cascades all come here, so every change of a list moves its
:class:`~dch_favourites.models.FavouriteListState`, every catalogue edit that can change a
listed entry moves the one :class:`~dch_favourites.models.CatalogueState`, and the signals
are sent after commit. Locks are taken in one order, catalogue items first, then list
states in primary-key order, so concurrent writers queue instead of deadlocking; a
catalogue edit locks no list state. SQLite serialises the whole transaction
(``transaction_mode: IMMEDIATE``).
"""

from __future__ import annotations

import contextvars
import copy
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, models, router, transaction
from django.db.models import Count, F, QuerySet, Value
from django.db.models.functions import Greatest
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import Signal, receiver
from django.utils import timezone

from dch_favourites.api.cache import CATALOGUE_KEY, add_states, set_states, state_key
from dch_favourites.conf import app_settings
from dch_favourites.documents import DocumentState, state_values
from dch_favourites.exceptions import AlreadyListed, UnknownItems
from dch_favourites.exceptions import FavouritesError as FavouritesError  # re-exported
from dch_favourites.exceptions import ListFull as ListFull  # re-exported
from dch_favourites.models import (
    CATALOGUE_STATE_ID,
    CONCERT_PART_TYPES,
    CatalogueItem,
    CatalogueItemTranslation,
    CatalogueState,
    Favourite,
    FavouriteListState,
    ItemType,
    default_manager,
)
from dch_favourites.signals import favourite_added, favourite_removed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

M = TypeVar("M", bound=models.Model)

#: How many holders of an item :func:`delete_catalogue_items` releases per transaction (and
#: how many a deleted item's signals load at a time).
HOLDER_BATCH = 1000


class Source(StrEnum):
    """Which door a change came through; passed on to the signals."""

    API = "api"
    ADMIN = "admin"
    CASCADE = "cascade"
    COMMAND = "command"
    PYTHON = "python"


@dataclass(frozen=True)
class ListState:
    """The version and top-level ``updated`` of a listener's list."""

    version: int = 0
    updated: int = 0


@dataclass(frozen=True)
class ListChange:
    """What one call changed: the ids applied (in order), the list's state after it and
    what the call's ``read_back`` returned (``answer``)."""

    state: ListState
    item_ids: tuple[str, ...] = ()
    answer: Any = None

    @property
    def changed(self) -> bool:
        return bool(self.item_ids)


def now_seconds() -> int:
    """The current time in Unix seconds."""
    return int(time.time())


def list_state(user: AbstractBaseUser) -> ListState:
    """The state of ``user``'s list; a listener who never had a favourite is at (0, 0)."""
    row = FavouriteListState.objects.filter(user_id=user.pk)
    found = row.values_list("version", "updated").first()
    return ListState(*found) if found else ListState()


def add_favourites(
    user: AbstractBaseUser,
    item_ids: Iterable[str],
    *,
    source: str | None = None,
    read_back: Callable[[str], Any] | None = None,
) -> ListChange:
    """Add items to ``user``'s list, all or nothing; items already on it are left as they are.

    Raises :class:`UnknownItems` when an id names no catalogue item and :class:`ListFull`
    past the configured length. ``read_back(db)``, when given, runs in the same transaction
    after the change (the API reads its answer there); its result is the change's ``answer``.
    """
    return _change(user, _unique(item_ids), favourite_added, source, read_back)


def remove_favourites(
    user: AbstractBaseUser,
    item_ids: Iterable[str],
    *,
    source: str | None = None,
    read_back: Callable[[str], Any] | None = None,
) -> ListChange:
    """Remove items from ``user``'s list, ignoring ids not on it; ``read_back`` as for
    :func:`add_favourites`."""
    return _change(user, _unique(item_ids), favourite_removed, source, read_back)


def _change(
    user: AbstractBaseUser,
    ids: list[str],
    signal: Signal,
    source: str | None,
    read_back: Callable[[str], Any] | None = None,
    insert: Callable[[], None] | None = None,
) -> ListChange:
    """Add (``signal`` is ``favourite_added``) or remove ``ids`` under the list's lock and,
    if anything changed, move the list forward; ``insert`` replaces the ``bulk_create()``."""
    adding = signal is favourite_added
    door = Source(source) if source is not None else Source.PYTHON
    db = router.db_for_write(Favourite)
    with transaction.atomic(using=db):
        if adding:
            _lock_items(ids, db)
        # The user id as the database returns it (for some keys a UUID on SQLite, not the
        # instance's own pk).
        ((user_id, state),) = _lock_states([user.pk], db).items()
        rows = _plain(Favourite, db).filter(user_id=user.pk).order_by()
        listed = set(rows.filter(item_id__in=ids).values_list("item_id", flat=True))
        changed = [item_id for item_id in ids if (item_id in listed) != adding]
        after = ListState(state.list_version, state.list_updated)
        if changed and adding:
            limit = app_settings.MAX_FAVOURITES_PER_USER
            if rows.count() + len(changed) > limit:
                raise ListFull(limit)
            if insert is None:
                added = timezone.now()
                _plain(Favourite, db).bulk_create(
                    [Favourite(user_id=user.pk, item_id=i, added=added) for i in changed]
                )
            else:
                insert()
        elif changed:
            rows.filter(item_id__in=changed).delete()
        if changed:
            row = _bumped(user_id, state, now_seconds())
            row.save(using=db, update_fields=BUMPED_FIELDS)
            after = ListState(row.version, row.updated)
            _send_on_commit(signal, user, changed, door, db)
        answer = read_back(db) if read_back is not None else None
        if changed:
            # Kept while the list is locked, so its writers keep their states in commit order.
            set_states({state_key(user.pk): (row.version, row.updated, row.catalogue_version)})
            add_states({CATALOGUE_KEY: state.catalogue_values})
        return ListChange(after, tuple(changed), answer)


def remove_all_favourites(user: AbstractBaseUser, *, source: str | None = None) -> ListChange:
    """Empty ``user``'s list."""
    db = router.db_for_write(Favourite)
    return remove_favourites(user, _listed_item_ids(user.pk, db), source=source)


def remove_favourite_rows(
    queryset: QuerySet[Favourite], *, source: str | None = None, atomic: bool = True
) -> int:
    """Delete the favourites a queryset selects (admin bulk delete, ``qs.delete()``); how many.

    Each listener's part goes through :func:`remove_favourites`, in user order, all in one
    transaction; without ``atomic`` (the admin's delete action) each in its own, so no list
    stays locked longer than its own change."""
    db = router.db_for_write(Favourite)
    with transaction.atomic(using=db) if atomic else nullcontext():
        selected = queryset.using(db).order_by("user_id", "-added")
        by_user: dict[Any, list[str]] = defaultdict(list)
        for user_id, item_id in selected.values_list("user_id", "item_id"):
            by_user[user_id].append(item_id)
        users = default_manager(get_user_model()).using(db).in_bulk(list(by_user))
        # A listener deleted since the rows were read took their favourites along.
        return sum(
            len(remove_favourites(users[user_id], item_ids, source=source).item_ids)
            for user_id, item_ids in by_user.items()
            if user_id in users
        )


def delete_catalogue_items(item_ids: Iterable[str], *, batch_size: int | None = None) -> int:
    """Delete catalogue items, however many listeners hold them, without long locks; how many.

    Outside a transaction each item's holders are released first, ``batch_size`` (default
    :data:`HOLDER_BATCH`) per transaction of their own, so a holder's POST naming the item
    waits for one batch at most; inside one, all of it happens in that one.
    """
    ids = sorted(_unique(item_ids))
    db = router.db_for_write(CatalogueItem)
    batch_size = HOLDER_BATCH if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    # A batch's holders are parameters of its statements, with up to three more (999 at
    # most on SQLite).
    most = connections[db].features.max_query_params
    if most:
        batch_size = min(batch_size, most - 3)
    if not connections[db].in_atomic_block:
        for item_id in ids:
            while _release_holders(item_id, batch_size, db) == batch_size:
                pass
    with transaction.atomic(using=db), catalogue_batch():
        _count, deleted = CatalogueItem.objects.using(db).filter(pk__in=ids).delete()
    return deleted.get(CatalogueItem._meta.label, 0)


def holder_count(*item_ids: str) -> int:
    """How many listeners hold any of the catalogue items ``item_ids`` (write database)."""
    rows = _plain(Favourite, router.db_for_write(Favourite)).filter(item_id__in=item_ids)
    return rows.order_by().values("user_id").distinct().count()


def delete_catalogue_items_on_commit(item_ids: Iterable[str]) -> bool:
    """Leave the delete of ``item_ids`` to :func:`delete_catalogue_items` once the transaction
    commits (True) if one of them has more holders than one batch; else (or outside a
    transaction) False, and the caller deletes them itself."""
    ids = _unique(item_ids)
    db = router.db_for_write(CatalogueItem)
    if not connections[db].in_atomic_block:
        return False
    held = _plain(Favourite, db).filter(item_id__in=ids).order_by().values("item_id")
    if not held.annotate(holders=Count("pk")).filter(holders__gt=HOLDER_BATCH).exists():
        return False
    transaction.on_commit(lambda: delete_catalogue_items(ids), using=db)
    return True


def add_favourite_rows(
    favourites: Sequence[Favourite], *, db: str | None = None
) -> list[Favourite]:
    """Add unsaved ``Favourite`` instances (``bulk_create()``, the many-to-many ``add()``),
    each listener's through :func:`add_favourites`, all or nothing; the stored rows."""
    db = db or router.db_for_write(Favourite)
    by_user: dict[Any, list[str]] = defaultdict(list)
    for favourite in favourites:
        by_user[favourite.user_id].append(favourite.item_id)
    with transaction.atomic(using=db):
        users = default_manager(get_user_model()).using(db).in_bulk(list(by_user))
        missing_users = [user_id for user_id in by_user if user_id not in users]
        if missing_users:
            raise FavouritesError(f"Unknown listener: {', '.join(map(str, missing_users))}.")
        for user_id in sorted(by_user, key=str):
            add_favourites(users[user_id], by_user[user_id], source=Source.PYTHON)
        stored = Favourite.objects.using(db).filter(
            user_id__in=list(by_user), item_id__in={f.item_id for f in favourites}
        )
        by_key = {(row.user_id, row.item_id): row for row in stored}
    return [by_key[(f.user_id, f.item_id)] for f in favourites if (f.user_id, f.item_id) in by_key]


def add_favourite_instance(
    favourite: Favourite, save: Callable[[], None], *, source: str | None = None
) -> None:
    """Add a new ``Favourite`` instance (admin, ``create()``, ``save()``): ``save``, the
    model's own, inserts it as :func:`add_favourites` would; :class:`AlreadyListed` if listed.
    """

    def insert() -> None:
        favourite.added = favourite.added or timezone.now()
        save()

    change = _change(favourite.user, [favourite.item_id], favourite_added, source, insert=insert)
    if not change.changed:
        raise AlreadyListed(favourite.item_id)


#: The databases whose catalogue clock a :func:`catalogue_batch` will move on its way out.
_pending_catalogue_changes: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "dch_favourites_pending_catalogue_changes", default=None
)


@contextmanager
def catalogue_batch() -> Iterator[None]:
    """Many catalogue edits (an import, a bulk action), one move of the catalogue clock per
    database when the block ends without an error; use it inside the edits' transaction
    (``with transaction.atomic(), catalogue_batch():``), so edits and clock commit together."""
    if _pending_catalogue_changes.get() is not None:
        yield  # already batched by an outer block
        return
    pending: set[str] = set()
    token = _pending_catalogue_changes.set(pending)
    try:
        yield
    finally:
        _pending_catalogue_changes.reset(token)
    for db in sorted(pending):
        catalogue_changed(db=db)


def catalogue_changed(*, db: str | None = None) -> None:
    """Move the catalogue clock (one row, no list state), renewing every document that shows
    catalogue data; within a :func:`catalogue_batch` at the batch's end."""
    db = db or router.db_for_write(CatalogueState)
    pending = _pending_catalogue_changes.get()
    if pending is not None:
        pending.add(db)
        return
    states = _plain(CatalogueState, db).filter(pk=CATALOGUE_STATE_ID)
    now = Value(now_seconds())
    bump = {"version": F("version") + 1, "updated": Greatest(now, F("updated") + 1)}
    with transaction.atomic(using=db):
        if not states.update(**bump):
            CatalogueState.objects.using(db).bulk_create(
                [CatalogueState(pk=CATALOGUE_STATE_ID)], ignore_conflicts=True
            )
            states.update(**bump)
        # Kept while the clock's row is locked: its writers keep it in commit order.
        set_states({CATALOGUE_KEY: states.values_list("version", "updated").get()})


@receiver(post_save, sender=CatalogueItem, dispatch_uid="dch_favourites.catalogue_item_saved")
def catalogue_item_saved(instance: CatalogueItem, created: bool, using: str, **kwargs: Any) -> None:
    """An item was saved: its entry changed in every list that holds it (a new one is on no
    list yet, unless it is a concert, whose begin its parts show)."""
    if created and instance.type != ItemType.CONCERT:
        return
    if instance.type == ItemType.CONCERT and (created or instance.begin_changed):
        _touch_parts(instance.pk, using)
    instance.begin_changed = False
    catalogue_changed(db=using)


@receiver(pre_delete, sender=CatalogueItem, dispatch_uid="dch_favourites.catalogue_item_deleting")
def catalogue_item_deleting(instance: CatalogueItem, using: str, **kwargs: Any) -> None:
    """An item is about to be deleted: its holders lose it (``favourite_removed`` after commit).

    Its row is locked first, so a racing add lands before (and goes with it) or finds it gone.
    """
    _plain(CatalogueItem, using).select_for_update().filter(pk=instance.pk).exists()
    holders = _delete_holdings(instance.pk, using)
    if not _touch_parts(instance.pk, using) and not holders:
        return  # on no list and nobody's concert: no document shows it
    catalogue_changed(db=using)
    if holders:
        item_id = instance.pk
        transaction.on_commit(lambda: _tell_holders(holders, item_id, using), using=using)


@receiver(
    [post_save, post_delete],
    sender=CatalogueItemTranslation,
    dispatch_uid="dch_favourites.catalogue_translation_changed",
)
def catalogue_translation_changed(
    instance: CatalogueItemTranslation, using: str, **kwargs: Any
) -> None:
    """A translation was saved or deleted: the item's entry changed in that language (not
    when its item's delete takes it along: :func:`catalogue_item_deleting` renews those)."""
    origin = kwargs.get("origin")
    if isinstance(origin, CatalogueItem) or (
        isinstance(origin, QuerySet) and origin.model is CatalogueItem
    ):
        return
    _plain(CatalogueItem, using).filter(pk=instance.item_id).update(updated=timezone.now())
    catalogue_changed(db=using)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="dch_favourites.user_deleting")
def user_deleting(instance: AbstractBaseUser, using: str, **kwargs: Any) -> None:
    """A listener is about to be deleted: their list goes with them; tell the receivers."""
    item_ids = _listed_item_ids(instance.pk, using)
    if item_ids:
        # A copy: the delete sets the instance's pk to None before the receivers run.
        _send_on_commit(favourite_removed, copy.copy(instance), item_ids, Source.CASCADE, using)


def _plain(model: type[M], db: str) -> QuerySet[M]:
    """A model's rows as plain Django writes them: the models' managers route writes here."""
    return models.QuerySet(model, using=db)


def _unique(item_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item_ids))


def _listed_item_ids(user_pk: Any, db: str) -> list[str]:
    """The ids on a listener's list, newest first."""
    rows = _plain(Favourite, db).filter(user_id=user_pk).order_by("-added", "-id")
    return list(rows.values_list("item_id", flat=True))


def _lock_items(item_ids: Sequence[str], db: str) -> None:
    """Share-lock the catalogue items ``item_ids`` against deletion until commit; raises
    :class:`UnknownItems` for the ids that name none.

    PostgreSQL takes ``FOR KEY SHARE`` (what a foreign key check takes), which waits for a
    delete in progress but not for edits or other adds. SQLite serialises writers already.
    """
    if not item_ids:
        return
    connection = connections[db]
    if connection.vendor == "postgresql":
        # Raw SQL: the ORM's select_for_update() has no FOR KEY SHARE, and its FOR NO KEY
        # UPDATE would make adds of one item, and its edits, wait for each other.
        table = connection.ops.quote_name(CatalogueItem._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT "id" FROM {table} WHERE "id" = ANY(%s) ORDER BY "id" FOR KEY SHARE',
                [list(item_ids)],
            )
            found = {row[0] for row in cursor.fetchall()}
    else:
        items = _plain(CatalogueItem, db).filter(pk__in=item_ids)
        found = set(items.values_list("pk", flat=True))
    missing = [item_id for item_id in item_ids if item_id not in found]
    if missing:
        raise UnknownItems(missing)


#: The columns of a list state that every change moves.
BUMPED_FIELDS = ("version", "updated", "catalogue_version")


def _bumped(user_id: Any, state: DocumentState, now: int) -> FavouriteListState:
    """The list state row after one change: version + 1, ``updated`` later than the
    document's (:attr:`~dch_favourites.documents.DocumentState.updated`) and the catalogue
    version that includes."""
    return FavouriteListState(
        user_id=user_id,
        version=state.list_version + 1,
        updated=max(now, state.updated + 1),
        catalogue_version=state.catalogue_version,
    )


def _touch_parts(concert_id: str, db: str) -> int:
    """Stamp a concert's works and interviews as updated (their begin changed); how many."""
    parts = _plain(CatalogueItem, db).filter(concert_id=concert_id, type__in=CONCERT_PART_TYPES)
    return parts.update(updated=timezone.now())


def _delete_holdings(item_id: str, db: str, of: Sequence[Any] | None = None) -> list[Any]:
    """Delete an item's favourites (of the listeners ``of`` only); the holders' ids, sorted.

    On PostgreSQL in one statement, so the delete's transaction (which holders' POSTs naming
    the item wait for) stays short however many hold it."""
    rows = _plain(Favourite, db).filter(item_id=item_id)
    if of is not None:
        rows = rows.filter(user_id__in=list(of))
    connection = connections[db]
    if connection.vendor != "postgresql":
        holders = list(rows.values_list("user_id", flat=True))
        rows.delete()
        return sorted(holders)
    # Raw SQL: the ORM's delete() cannot say which rows it deleted (RETURNING).
    where, params = '"item_id" = %s', list[Any]([item_id])
    if of is not None:
        where += ' AND "user_id" = ANY(%s)'
        params.append(list(of))
    table = connection.ops.quote_name(Favourite._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM {table} WHERE {where} RETURNING "user_id"', params)
        return sorted(row[0] for row in cursor.fetchall())


def _release_holders(item_id: str, batch_size: int, db: str) -> int:
    """Take the item off the lists of up to ``batch_size`` holders, in one transaction that
    locks only their list states; how many were found (fewer than ``batch_size``: the last)."""
    with transaction.atomic(using=db):
        rows = _plain(Favourite, db).filter(item_id=item_id).order_by()
        holders = list(rows.values_list("user_id", flat=True)[:batch_size])
        if not holders:
            return 0
        states = _lock_states(holders, db)
        released = _delete_holdings(item_id, db, holders)
        now = now_seconds()
        bumps = [_bumped(user, states[user], now) for user in released]
        if bumps:
            # One UPDATE per new `updated` (nearly always one: now), never a CASE per row,
            # which kept a batch's lists locked ten times as long.
            by_value: dict[tuple[int, int], list[Any]] = defaultdict(list)
            for b in bumps:
                by_value[b.updated, b.catalogue_version].append(b.pk)
            for (updated, catalogue_version), users in by_value.items():
                _plain(FavouriteListState, db).filter(pk__in=users).update(
                    version=F("version") + 1, updated=updated, catalogue_version=catalogue_version
                )
            set_states(
                {state_key(b.pk): (b.version, b.updated, b.catalogue_version) for b in bumps}
            )
            transaction.on_commit(lambda: _tell_holders(released, item_id, db), using=db)
    return len(holders)


def _lock_states(user_ids: Sequence[Any], db: str) -> dict[Any, DocumentState]:
    """The list states of ``user_ids`` (created where missing), locked in key order, each
    with the catalogue's clock read in the same statement."""
    locked = _locked_states().using(db).filter(user_id__in=list(user_ids))
    found = list(locked)
    if len(found) < len(user_ids):
        known = {row[0] for row in found}
        FavouriteListState.objects.using(db).bulk_create(
            [FavouriteListState(user_id=user_id) for user_id in user_ids if user_id not in known],
            ignore_conflicts=True,
        )
        found = list(locked.all())
    return {user_id: DocumentState(*(value or 0 for value in values)) for user_id, *values in found}


@cache
def _locked_states() -> QuerySet[FavouriteListState, tuple[Any, ...]]:
    """:func:`_lock_states`' statement, built once, not per change (the lock has no effect
    on SQLite, which serialises writers already)."""
    states: QuerySet[FavouriteListState] = models.QuerySet(FavouriteListState)
    states = states.select_for_update(of=("self",))
    return states.order_by("user_id").values_list("user_id", *state_values())


def _tell_holders(holders: Sequence[Any], item_id: str, db: str) -> None:
    """``favourite_removed`` for every holder of a deleted item (none loaded unheard)."""
    if not favourite_removed.has_listeners(Favourite):
        return
    users = default_manager(get_user_model()).using(db)
    for start in range(0, len(holders), HOLDER_BATCH):
        ids = holders[start : start + HOLDER_BATCH]
        batch = users.in_bulk(ids)
        for user in (batch[user_id] for user_id in ids if user_id in batch):
            favourite_removed.send_robust(
                sender=Favourite, user=user, items=(item_id,), source=Source.CASCADE
            )


def _send_on_commit(
    signal: Signal, user: AbstractBaseUser, item_ids: Sequence[str], source: Source, db: str
) -> None:
    items = tuple(item_ids)
    # Committed by then: a failing receiver (logged by send_robust to "django.dispatch")
    # must not become the caller's error, nor keep the other receivers from hearing of it.
    transaction.on_commit(
        lambda: signal.send_robust(sender=Favourite, user=user, items=items, source=source),
        using=db,
    )
