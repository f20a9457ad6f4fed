"""``manage.py import_catalogue FILE``: create or update catalogue items from JSON."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from dch_favourites.catalogue_import import CatalogueImportError, import_catalogue


class Command(BaseCommand):
    help = (
        "Create or update catalogue items from a JSON list shaped like favourites entries "
        "('-' reads standard input). A bad record rejects the whole file."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="Path of the JSON file, or - for standard input.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        try:
            records = json.loads(text)
        except RecursionError as exc:
            raise CommandError(f"{path} is nested too deeply to read.") from exc
        except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        try:
            result = import_catalogue(records)
        except CatalogueImportError as exc:
            raise CommandError(f"Nothing imported. {exc}") from exc
        count = len(result.ids)
        self.stdout.write(
            ngettext(
                "Imported %(count)d item: %(created)d created, %(updated)d updated, "
                "%(unchanged)d unchanged.",
                "Imported %(count)d items: %(created)d created, %(updated)d updated, "
                "%(unchanged)d unchanged.",
                count,
            )
            % {**asdict(result), "count": count}
        )
