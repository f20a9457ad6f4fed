"""The test settings with ``AUTH_USER_MODEL`` swapped for ``swapped_user.Member``.

SQLite in memory whatever ``DATABASE_URL`` says: the suite that starts this one may hold
its PostgreSQL test database open.
"""

from settings import *  # noqa: F403

INSTALLED_APPS = [
    app
    for app in INSTALLED_APPS  # noqa: F405
    if app != "dch_favourites"
] + ["swapped_user", "dch_favourites"]
AUTH_USER_MODEL = "swapped_user.Member"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "OPTIONS": {"transaction_mode": "IMMEDIATE"},
    }
}
