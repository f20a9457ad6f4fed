"""``manage.py delete_catalogue_items``: delete items however many listeners hold them.

Holders are released a batch at a time (:func:`dch_favourites.services.delete_catalogue_items`),
so that no holder's POST waits for more than one batch.
"""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dch_favourites.api.errors import excerpt
from dch_favourites.management.options import add_yes_argument, confirmed
from dch_favourites.models import ITEM_ID_PATTERN, CatalogueItem
from dch_favourites.services import HOLDER_BATCH, delete_catalogue_items, holder_count


def batch_size(value: str) -> int:
    """A whole number of holders, at least 1."""
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise ArgumentTypeError(_("must be a whole number of at least 1, not %r") % value)
    return size


class Command(BaseCommand):
    help = (
        "Delete catalogue items with their translations and favourites, releasing their "
        "holders in batches (source 'cascade'). Asks first unless --yes is given."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("item_ids", nargs="+", metavar="ID", help="Catalogue item ids.")
        parser.add_argument(
            "--batch-size",
            type=batch_size,
            default=HOLDER_BATCH,
            help=f"Holders released per transaction (default {HOLDER_BATCH}).",
        )
        add_yes_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        item_ids = list(dict.fromkeys(str(item_id) for item_id in options["item_ids"]))
        malformed = [item_id for item_id in item_ids if not ITEM_ID_PATTERN.match(item_id)]
        if malformed:
            raise CommandError(
                _("Not a catalogue item id: %(ids)s; nothing deleted.")
                % {"ids": ", ".join(repr(excerpt(item_id, 64)) for item_id in malformed)}
            )
        found = set(CatalogueItem.objects.filter(pk__in=item_ids).values_list("pk", flat=True))
        missing = [item_id for item_id in item_ids if item_id not in found]
        if missing:
            raise CommandError(
                ngettext(
                    "No catalogue item with id %(ids)s; nothing deleted.",
                    "No catalogue items with ids %(ids)s; nothing deleted.",
                    len(missing),
                )
                % {"ids": ", ".join(repr(item_id) for item_id in missing)}
            )
        holders = holder_count(*item_ids)
        question = ngettext(
            "Delete %(count)d catalogue item (%(ids)s)? Listeners who hold it: "
            "%(holders)d. This cannot be undone.",
            "Delete %(count)d catalogue items (%(ids)s)? Listeners who hold them: "
            "%(holders)d. This cannot be undone.",
            len(item_ids),
        ) % {"count": len(item_ids), "ids": ", ".join(item_ids), "holders": holders}
        if options["interactive"] and not confirmed(question):
            self.stdout.write(_("Cancelled; nothing deleted."))
            return
        deleted = delete_catalogue_items(item_ids, batch_size=options["batch_size"])
        self.stdout.write(
            ngettext(
                "Deleted %(count)d catalogue item. Lists changed: %(holders)d.",
                "Deleted %(count)d catalogue items. Lists changed: %(holders)d.",
                deleted,
            )
            % {"count": deleted, "holders": holders}
        )
