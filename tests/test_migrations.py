"""Models and migrations agree, under whichever Django version the run uses."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader


@pytest.mark.django_db
def test_no_migrations_are_pending() -> None:
    out = StringIO()

    # --check exits non-zero (SystemExit) when a migration would be written.
    call_command("makemigrations", "dch_favourites", check=True, dry_run=True, stdout=out)

    assert out.getvalue() == "No changes detected in app 'dch_favourites'\n"


def test_migrations_ship_with_the_package() -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    ours = sorted(name for app, name in loader.disk_migrations if app == "dch_favourites")

    assert ours[0] == "0001_initial"
    assert "dch_favourites" in loader.migrated_apps
    assert apps.get_app_config("dch_favourites").default_auto_field == (
        "django.db.models.BigAutoField"
    )
