"""Settings of the benchmark: the example site, plus the floor and plain-DRF reference views.

The database comes from ``BENCH_DATABASE_URL`` (set by ``bench/run.py``). Connections are
persistent and without per-request health checks, or taken from psycopg's pool
(``BENCH_DB_POOL=1``, server mode), as a production site would run them; with
``BENCH_SERVER_SIDE_BINDING=1`` psycopg binds parameters on the server and prepares the
statements a connection repeats (``OPTIONS["server_side_binding"]`` and
``OPTIONS["prepare_threshold"]``, 5 or ``BENCH_PREPARE_THRESHOLD``). Every variant shares
this configuration and the example site's middleware.
"""

import os

import dj_database_url

from demo_site.settings import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

_url = os.environ.get("BENCH_DATABASE_URL", "sqlite:////tmp/dch_favourites_bench.sqlite3")
DATABASES = {"default": dj_database_url.parse(_url, conn_max_age=None)}
if os.environ.get("BENCH_SCALE_DATABASE_URL"):
    DATABASES["scale"] = dj_database_url.parse(
        os.environ["BENCH_SCALE_DATABASE_URL"], conn_max_age=None
    )
    DATABASE_ROUTERS = ["bench.scale.SwitchRouter"]
if os.environ.get("BENCH_DB_POOL") == "1":
    # The production profile's pool (server mode): it requires CONN_MAX_AGE = 0.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": 4}
for _db in DATABASES.values():
    if _db["ENGINE"] == "django.db.backends.sqlite3":
        _db["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
    elif os.environ.get("BENCH_SERVER_SIDE_BINDING") == "1":
        # psycopg's own prepared statements, for the app and the references alike: a
        # statement a connection has run prepare_threshold times is prepared. Both options
        # are needed: Django turns psycopg's preparing off (prepare_threshold None) unless
        # OPTIONS names a threshold, and psycopg prepares only what it binds on the server.
        _db.setdefault("OPTIONS", {}).update(
            server_side_binding=True,
            prepare_threshold=int(os.environ.get("BENCH_PREPARE_THRESHOLD", "5")),
        )

# Middleware: the example site's own stack, or none (BENCH_MIDDLEWARE=none) to see the
# views without it.
if os.environ.get("BENCH_MIDDLEWARE") == "none":
    MIDDLEWARE: list[str] = []

DCH_FAVOURITES = {
    "API_BASE_URL": "//api.bench.invalid/v2",
    "WRITE_THROTTLE_RATE": None,
    "MAX_FAVOURITES_PER_USER": 5000,
}

LOGGING = {"version": 1, "disable_existing_loggers": False}

# The document cache and throttle counter: per-process memory, or Redis (BENCH_REDIS_URL)
# as the production profile has it (example_project's settings): one tier, documents
# stored as rendered, a Redis that hangs given up on after a second.
if os.environ.get("BENCH_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["BENCH_REDIS_URL"],
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
