"""Reads of the favourites and the catalogue on a read replica while it keeps up.

docs/deploying.md, "Read replicas", shows the settings and what a client may see.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from django.db import Error, connections, router
from django.utils.connection import ConnectionDoesNotExist

logger = logging.getLogger("dch_favourites")

T = TypeVar("T")

# How far a PostgreSQL standby is behind, in seconds: 0 once it replayed all it received
# (or is no standby), NULL while replay is paused. Raw SQL: the ORM has no words for these.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_is_wal_replay_paused() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
END
"""


class ReplicaRouter:
    """Reads of the favourites and the catalogue on :attr:`replica` while it is healthy.

    Each process checks the replica (:meth:`check`) at most once every :attr:`check_interval`
    seconds, on the first read after that; until the next check an unhealthy replica gets
    no reads. Every other read, the app's devices' too (sign-in must never see a disconnected
    device connected), goes to the primary, as do all writes. The API compares what it read
    on the replica with the primary's state (:func:`read_routed`), so nothing it answers is
    older than the primary.
    """

    replica = "replica"
    #: Seconds a replica may be behind the primary (PostgreSQL's replay lag) and still read.
    max_lag = 5.0
    #: Seconds between two checks of the replica in a process.
    check_interval = 1.0
    #: The app's models read from the replica: the read path's.
    routed = (
        "catalogueitem",
        "catalogueitemtranslation",
        "cataloguestate",
        "favourite",
        "favouriteliststate",
    )

    def __init__(self) -> None:
        self.healthy = False
        self.checked = float("-inf")

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        """:attr:`replica` for the app's routed models while it is healthy, else None."""
        meta = model._meta
        if meta.app_label != "dch_favourites" or meta.model_name not in self.routed:
            return None
        if time.monotonic() - self.checked >= self.check_interval:
            self.healthy = self.check()
            self.checked = time.monotonic()
        return self.replica if self.healthy else None

    def check(self) -> bool:
        """Whether the replica answers, is at most :attr:`max_lag` seconds behind and replays."""
        try:
            connection = connections[self.replica]
        except ConnectionDoesNotExist:  # listed without a replica: reads on the primary
            return False
        sql = LAG_SQL if connection.vendor == "postgresql" else "SELECT 0"
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                (lag,) = cursor.fetchone()
        except Error as error:  # a DatabaseError, or InterfaceError on a dropped connection
            logger.warning("Replica %r unavailable (%s): reading the primary.", self.replica, error)
            with suppress(Error):
                connection.close()
            return False
        return lag is not None and float(lag) <= self.max_lag

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == self.replica else None


def read_routed(model: Any, read: Callable[[str], T], current: Callable[[T], bool]) -> T:
    """``read(db)`` where the routers read ``model``; on the primary if that is another
    database and it fails or its answer is not ``current`` (a replica behind the primary).
    """
    primary = router.db_for_write(model)
    db = router.db_for_read(model)
    if db != primary:
        try:
            answer = read(db)
        except Error as error:  # a DatabaseError, or InterfaceError on a dropped connection
            logger.warning("Replica %r failed (%s): reading the primary.", db, error)
        else:
            if current(answer):
                return answer
    return read(primary)
