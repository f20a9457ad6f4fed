"""Settings of the test run: the example site, with fast hashing and no write throttle."""

from demo_site.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False}
DCH_FAVOURITES = {"WRITE_THROTTLE_RATE": None}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": None}  # noqa: F405
