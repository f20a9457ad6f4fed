"""``manage.py remove_favourites``: empty a listener's list, through the write path."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from dch_favourites.management.listeners import (
    add_listener_arguments,
    describe,
    listener_from_options,
)
from dch_favourites.models import Favourite
from dch_favourites.services import Source, remove_all_favourites


class Command(BaseCommand):
    help = (
        "Remove all of a listener's favourites. The list's `updated` moves forward and "
        "favourite_removed is sent with source 'command'. Asks for confirmation unless "
        "--yes (or --no-input) is given."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_listener_arguments(parser)
        parser.add_argument(
            "--yes",
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = listener_from_options(options)
        who = describe(user)
        count = Favourite.objects.filter(user_id=user.pk).count()
        if count == 0:
            self.stdout.write(f"User {who} has no favourites; nothing removed.")
            return
        if options["interactive"] and not self.confirmed(
            f"Remove all {count} favourites of user {who}? This cannot be undone.\n"
            "Type 'yes' to continue, or 'no' to cancel: "
        ):
            self.stdout.write("Cancelled; nothing removed.")
            return
        change = remove_all_favourites(user, source=Source.COMMAND)
        self.stdout.write(f"Removed {len(change.item_ids)} favourites of user {who}.")

    def confirmed(self, question: str) -> bool:
        """Whether the operator typed ``yes`` (end of input counts as no)."""
        try:
            return input(question).strip().lower() == "yes"
        except EOFError:
            return False
