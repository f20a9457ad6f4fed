"""``manage.py remove_favourites``: empty a listener's list, through the write path."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dch_favourites.management.options import (
    add_listener_arguments,
    add_yes_argument,
    confirmed,
    describe,
    listener_from_options,
)
from dch_favourites.models import Favourite
from dch_favourites.services import Source, remove_all_favourites


class Command(BaseCommand):
    help = (
        "Remove all of a listener's favourites (source 'command'). Asks first unless --yes "
        "is given."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_listener_arguments(parser)
        add_yes_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        user = listener_from_options(options)
        who = describe(user)
        count = Favourite.objects.filter(user_id=user.pk).count()
        if count == 0:
            self.stdout.write(
                _("User %(user)s has no favourites; nothing removed.") % {"user": who}
            )
            return
        question = ngettext(
            "Remove the %(count)d favourite of user %(user)s? This cannot be undone.",
            "Remove all %(count)d favourites of user %(user)s? This cannot be undone.",
            count,
        ) % {"count": count, "user": who}
        if options["interactive"] and not confirmed(question):
            self.stdout.write(_("Cancelled; nothing removed."))
            return
        change = remove_all_favourites(user, source=Source.COMMAND)
        removed = len(change.item_ids)
        self.stdout.write(
            ngettext(
                "Removed %(count)d favourite of user %(user)s.",
                "Removed %(count)d favourites of user %(user)s.",
                removed,
            )
            % {"count": removed, "user": who}
        )
