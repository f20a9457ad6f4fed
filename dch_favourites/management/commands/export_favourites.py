"""``manage.py export_favourites``: a listener's favourites as JSON, for a data-access request."""

from __future__ import annotations

import json
import os
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import router, transaction
from django.utils.translation import ngettext

from dch_favourites.management.options import (
    add_listener_arguments,
    describe,
    listener_from_options,
)
from dch_favourites.models import Favourite
from dch_favourites.services import list_state, now_seconds


def favourites_export(user: Any) -> dict[str, Any]:
    """What the app holds about ``user``'s favourites, newest first, times in Unix seconds.

    ``updated`` is the list's top-level ``updated`` (0 for a list that never changed).
    """
    db = router.db_for_read(Favourite)
    with transaction.atomic(using=db):
        updated = list_state(user).updated
        rows = (
            Favourite.objects.using(db)
            .filter(user_id=user.pk)
            .order_by("-added", "-id")
            .values_list("item_id", "item__type", "item__title", "added")
        )
        favourites = [
            {"id": item_id, "type": item_type, "title": title, "added": int(added.timestamp())}
            for item_id, item_type, title, added in rows
        ]
    return {
        "user": {"id": user.pk, "username": user.get_username()},
        "exported": now_seconds(),
        "updated": updated,
        "favourites": favourites,
    }


class Command(BaseCommand):
    help = "Export a listener's favourites as JSON, to standard output or to --output."

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_listener_arguments(parser)
        parser.add_argument(
            "--output",
            "-o",
            help="Write to this file instead of standard output (a new file gets mode 0600).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = listener_from_options(options)
        document = favourites_export(user)
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        path = options.get("output")
        if path is None or path == "-":
            self.stdout.write(text, ending="")
            return
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from exc
        count = len(document["favourites"])
        self.stdout.write(
            ngettext(
                "Exported %(count)d favourite of user %(user)s to %(path)s.",
                "Exported %(count)d favourites of user %(user)s to %(path)s.",
                count,
            )
            % {"count": count, "user": describe(user), "path": path}
        )
