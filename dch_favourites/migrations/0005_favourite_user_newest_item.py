"""The listener's newest-first index carries ``item_id``, as its last key column.

A list is then read from the index alone (an index-only scan on PostgreSQL), without
visiting a table page per favourite: on a large table one listener's rows lie on as many
pages as they are many. ``item_id`` comes after ``id``, which is unique, so the order is
the same. (A key column rather than ``INCLUDE``, which SQLite lacks: Django's check
``models.W040`` would warn every SQLite site.) On PostgreSQL the new index is built, and
the old one dropped, ``CONCURRENTLY``, so the migration does not block writes while it
runs; elsewhere the index is rebuilt plainly.
"""

from django.db import migrations, models

OLD = models.Index(fields=["user", "-added", "-id"], name="dch_fav_user_newest_idx")
NEW = models.Index(fields=["user", "-added", "-id", "item"], name="dch_fav_user_newest_item")


def swap(apps, schema_editor, add, drop):
    favourite = apps.get_model("dch_favourites", "Favourite")
    options = {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
    schema_editor.add_index(favourite, add, **options)
    schema_editor.remove_index(favourite, drop, **options)


def forwards(apps, schema_editor):
    swap(apps, schema_editor, NEW, OLD)


def backwards(apps, schema_editor):
    swap(apps, schema_editor, OLD, NEW)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("dch_favourites", "0004_device"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="favourite", name=OLD.name),
                migrations.AddIndex(model_name="favourite", index=NEW),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
