"""The read path's statements, prepared once per PostgreSQL connection, then only executed.

PostgreSQL plans every statement it is sent. The token's statement (the token, its user
and the list's and the catalogue's state: four joins) took about as long to plan as to
run on every request, 0.16 to 0.26 ms, against well under 0.1 ms to execute. So on
PostgreSQL, outside a transaction, :func:`execute` sends ``PREPARE`` once per database
connection (a name derived from the statement's text) and ``EXECUTE`` from then on,
through Django's cursor: the statement stays visible to ``connection.queries``,
``execute_wrapper()`` and the site's instrumentation.

Plain statements instead, as before:

- ``PREPARED_STATEMENTS`` off, another database, or a connection that already binds on
  the server (``OPTIONS["server_side_binding"]``: psycopg prepares statements itself);
- inside a transaction (``ATOMIC_REQUESTS``, a POST's write), where a failing
  ``EXECUTE`` would abort the caller's transaction;
- once a connection lost a statement it had prepared (a transaction-mode pooler such as
  PgBouncer's, ``DISCARD ALL``): its sessions do not keep statements, so this process
  stops preparing them, and says so once in the log.

A statement whose plan went stale (a column's type changed under a running worker) is
deallocated, answered by the plain statement and prepared again on its next use.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver

from dch_favourites.conf import SETTINGS_NAME, app_settings

logger = logging.getLogger("dch_favourites")

#: SQLSTATEs: no prepared statement of that name; one of that name exists already; the
#: plan's result type changed ("cached plan must not change result type").
MISSING = "26000"
DUPLICATE = "42P05"
STALE_PLAN = "0A000"

#: The names prepared on each raw connection (psycopg's), forgotten with the connection.
_prepared: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
#: Set once a session lost a statement: prepared statements are not kept there.
_not_kept: list[str] = []


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DATABASES", SETTINGS_NAME):
        _not_kept.clear()


@functools.lru_cache(maxsize=64)
def statement_name(sql: str) -> str:
    """The prepared statement's name: the same text always gets the same name.

    Worked out once per statement text: the read path asks for it on every request.
    """
    return "dch_favourites_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()


def numbered(sql: str) -> str:
    """``sql`` with its ``%s`` placeholders as ``$1``, ``$2``, ... (``%%`` as ``%``)."""
    position = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal position
        if match.group() == "%%":
            return "%"
        position += 1
        return f"${position}"

    return re.sub(r"%%|%s", replace, sql)


def preparing(connection: Any) -> bool:
    """Whether :func:`execute` prepares its statements on this connection now."""
    return (
        app_settings.PREPARED_STATEMENTS
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and connection.get_autocommit()
        and not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
        and not _not_kept
    )


def execute(connection: Any, cursor: Any, sql: str, params: Sequence[Any]) -> None:
    """``cursor.execute(sql, params)``; prepared once per connection where it may be.

    ``cursor`` is a Django cursor of ``connection``; fetch the rows from it afterwards.
    """
    if not preparing(connection):
        cursor.execute(sql, params)
        return
    name = statement_name(sql)
    names = _prepared.setdefault(connection.connection, set())
    if name not in names:
        try:
            cursor.execute(f"PREPARE {name} AS {numbered(sql)}")
        except DatabaseError as error:
            if _sqlstate(error) != DUPLICATE:
                _stop(f"preparing a statement failed ({error})")
                cursor.execute(sql, params)
                return
        names.add(name)
    marks = ", ".join(["%s"] * len(params))
    try:
        cursor.execute(f"EXECUTE {name}({marks})" if params else f"EXECUTE {name}", params)
    except DatabaseError as error:
        names.discard(name)
        state = _sqlstate(error)
        if state == MISSING:
            _stop("the database session lost a prepared statement (a transaction pooler?)")
        elif state == STALE_PLAN:
            cursor.execute(f"DEALLOCATE {name}")
        else:
            raise
        cursor.execute(sql, params)


def _sqlstate(error: DatabaseError) -> str | None:
    # Django's database errors carry the driver's as their cause; psycopg's has .sqlstate.
    return getattr(error.__cause__, "sqlstate", None)


def _stop(reason: str) -> None:
    if not _not_kept:
        logger.warning("Prepared statements switched off in this process: %s.", reason)
    _not_kept.append(reason)
