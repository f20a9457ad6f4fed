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


def newest_first_indexes() -> dict[str, str]:
    """The listener's newest-first indexes of the favourites table: name -> definition."""
    from django.db import connection

    from dch_favourites.models import Favourite

    table = Favourite._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table]
            )
            found = dict(cursor.fetchall())
        else:
            constraints = connection.introspection.get_constraints(cursor, table)
            found = {name: ", ".join(info["columns"]) for name, info in constraints.items()}
    return {name: sql for name, sql in found.items() if name.startswith("dch_fav_user_newest")}


@pytest.mark.django_db(transaction=True)
def test_the_newest_first_index_carries_the_item_and_migrates_both_ways() -> None:
    from django.db import connection

    def expect(name: str, columns: str) -> None:
        [(found, definition)] = newest_first_indexes().items()
        assert found == name
        if connection.vendor == "postgresql":
            assert definition.endswith(f"USING btree ({columns})")
        else:
            assert definition == columns.replace(" DESC", "")

    carrying = "user_id, added DESC, id DESC, item_id"
    expect("dch_fav_user_newest_item", carrying)
    try:
        call_command("migrate", "dch_favourites", "0004", verbosity=0)
        expect("dch_fav_user_newest_idx", "user_id, added DESC, id DESC")
    finally:
        call_command("migrate", "dch_favourites", verbosity=0)
    expect("dch_fav_user_newest_item", carrying)


def test_the_models_pass_every_database_check() -> None:
    """No warning for the site's database (e.g. models.W040 for an INCLUDE on SQLite)."""
    from django.core.checks import run_checks

    config = apps.get_app_config("dch_favourites")
    assert run_checks(app_configs=[config], databases=["default"]) == []
