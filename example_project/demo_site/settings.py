"""Settings of the example site: SQLite by default, PostgreSQL with ``DATABASE_URL``."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# The demo's secrets serve DEBUG only: with DEBUG off the site refuses them (below).
DEMO_SECRET_KEY = "demo-only-not-secret-0b4c1e0e9f6d4a8f"
DEMO_JWT_KEY_FILE = BASE_DIR / "var" / "jwt-signing-key.pem"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEMO_SECRET_KEY)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get(
    "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver"
).split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth2_provider",
    "corsheaders",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "dch_favourites",
    "demo_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Browser apps (CORS): before anything that may answer, so errors carry the headers too.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out admin login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for the database lock instead of failing half-way through.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif os.environ.get("DJANGO_DB_POOL", "0" if DEBUG else "1") == "1":
    # Production (DJANGO_DEBUG=0, or DJANGO_DB_POOL=1): psycopg's connection pool, one per
    # worker process, instead of a connection per request. The pool hands out only
    # connections that pass its check (CONN_HEALTH_CHECKS); it requires CONN_MAX_AGE = 0.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("DJANGO_DB_POOL_MIN_SIZE", "1")),
        "max_size": int(os.environ.get("DJANGO_DB_POOL_MAX_SIZE", "4")),
        "timeout": float(os.environ.get("DJANGO_DB_POOL_TIMEOUT", "10")),
    }
pooled = "pool" in DATABASES["default"].get("OPTIONS", {})
if os.environ.get("DJANGO_DB_SERVER_SIDE_BINDING", "1" if pooled else "0") == "1":
    # With the pool (production): psycopg binds parameters on the server and prepares a
    # statement the fifth time a connection runs it (docs/deploying.md, "Prepared
    # statements"); Django leaves preparing off unless prepare_threshold is set. Set
    # DJANGO_DB_SERVER_SIDE_BINDING=0 behind a transaction-mode pooler, whose sessions do
    # not keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5
    )

# A read replica of DATABASE_URL (docs/deploying.md, "Read replicas"), e.g. a PostgreSQL
# streaming standby: the favourites and the catalogue are read there while it keeps up.
# One persistent connection per process, not a pool: a pool makes each check of a replica
# that is down wait its whole timeout, and reconnects with a growing back-off; this one
# fails within connect_timeout, and the router reads the primary until the replica answers.
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"], conn_max_age=600
    )
    options = {k: v for k, v in DATABASES["default"].get("OPTIONS", {}).items() if k != "pool"}
    # A replica that stops answering, or holds a read back (a lock replayed from the primary),
    # fails the read within a second: the app then reads the primary.
    DATABASES["replica"]["OPTIONS"] = {
        **options,
        "connect_timeout": 1,
        "tcp_user_timeout": 1000,
        "options": "-c statement_timeout=1000",
    }
    DATABASE_ROUTERS = ["dch_favourites.routers.ReplicaRouter"]

# The cache of rendered documents and of the write throttle's counts: Redis, shared by
# every worker, when REDIS_URL is set (e.g. redis://127.0.0.1:6379/0); else per-process
# memory, fine for runserver but counting the throttle once per worker (check W001).
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that hangs is skipped quickly: the app then reads the database.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
USE_I18N = True
TIME_ZONE = "Europe/Berlin"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "/admin/login/"

# The key that signs access tokens (RS256 JWTs, as the original service's): from the
# environment, else the file `manage.py demo` creates on first run (never committed).
JWT_KEY_FILE = Path(os.environ.get("DCH_JWT_KEY_FILE", DEMO_JWT_KEY_FILE))
JWT_PRIVATE_KEY = os.environ.get("DCH_JWT_PRIVATE_KEY") or (
    JWT_KEY_FILE.read_text(encoding="ascii") if JWT_KEY_FILE.is_file() else ""
)

# Production (DEBUG off) stops here, before serving, on a missing or demo secret: manage.py
# prints the one line, `make serve` stops before migrating, gunicorn's workers do not boot.
if not DEBUG and SECRET_KEY in {"", DEMO_SECRET_KEY}:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is missing or the demo's, and DEBUG is off: set it to a new random "
        "value, e.g. the output of python -c 'from django.core.management.utils import "
        "get_random_secret_key; print(get_random_secret_key())'"
    )
DEMO_JWT_KEY = DEMO_JWT_KEY_FILE.read_text("ascii") if DEMO_JWT_KEY_FILE.is_file() else ""
if not DEBUG and JWT_PRIVATE_KEY in {"", DEMO_JWT_KEY}:
    raise ImproperlyConfigured(
        "DCH_JWT_PRIVATE_KEY is missing or the demo's, and DEBUG is off: set it to an RSA "
        "private key of your own in PEM (or DCH_JWT_KEY_FILE to a file holding one), e.g. "
        'DCH_JWT_PRIVATE_KEY="$(openssl genrsa 2048)"'
    )

OAUTH2_PROVIDER = {
    "SCOPES": {"read": "Read your favourites", "write": "Change your favourites"},
    "DEFAULT_SCOPES": ["read", "write"],
    # The original service's tokens lasted years.
    "ACCESS_TOKEN_EXPIRE_SECONDS": 5 * 365 * 24 * 3600,
    # Apps that sign in like the original (docs/signin.md): the device grant, sign-in with the
    # device token, devices kept and disconnectable, JWT access tokens, opaque refresh tokens.
    "OAUTH2_SERVER_CLASS": "dch_favourites.oauth2.server.DeviceServer",
    "OAUTH2_VALIDATOR_CLASS": "dch_favourites.oauth2.validators.DeviceOAuth2Validator",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    # django-oauth-toolkit's RFC 9700 gates, all on but the password grant: the original
    # apps sign in with it (grant_type=password authenticated by their device token) and
    # cannot be changed, so it stays, guarded by django-axes below.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # What those gates require of the settings they validate.
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
if JWT_PRIVATE_KEY:
    # Without a key the site issues opaque access tokens until `manage.py demo` made one.
    OAUTH2_PROVIDER["ACCESS_TOKEN_GENERATOR"] = (
        "dch_favourites.oauth2.generators.signed_access_token"
    )
    OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"] = JWT_PRIVATE_KEY

# Browser apps (django-cors-headers): origins from the environment, comma-separated, e.g.
# DCH_CORS_ALLOWED_ORIGINS=https://www.digitalconcerthall.com,http://localhost:3000
CORS_ALLOWED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("DCH_CORS_ALLOWED_ORIGINS", "").split(",")
    if origin.strip()
]
CORS_URLS_REGEX = r"^/v2/"
CORS_ALLOW_HEADERS = (
    "accept",
    "accept-language",
    "authorization",
    "cache-control",
    "content-type",
    "if-modified-since",
    "if-none-match",
)
CORS_EXPOSE_HEADERS = ("ETag", "Last-Modified", "Content-Language", "Retry-After")
CORS_PREFLIGHT_MAX_AGE = 86400

# Password guessing at the token endpoint (and the admin login): django-axes locks a
# username, or a client address, out after AXES_FAILURE_LIMIT failures for
# AXES_COOLOFF_TIME; the token endpoint then answers 429 with Retry-After.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("DCH_AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts during a lock do not extend it, so Retry-After holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Behind a proxy, name the header that carries the client address, e.g.
# AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR"], and REST_FRAMEWORK's
# NUM_PROXIES for the rates below.

# Failed client authentications and device grants at the token endpoint are rated per
# client and per address in the throttle cache (Redis with REDIS_URL), at the defaults of
# dch_favourites.oauth2.throttling; change one in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
# e.g. {"dch_favourites_device_grants_address": "5/hour"} (None switches it off).

# A password change (the admin, `changepassword`, set_password() and save()) revokes the
# listener's access and refresh tokens, signing them out of every app. Leave it out to keep
# the tokens.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "dch_favourites.oauth2.passwords.RevokeTokensOnPasswordChange"},
]

# drf-spectacular's own setup step; the app's views pin their schema class regardless.
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

# The OpenAPI schema at /v2/schema/openapi.json, browsable with Swagger UI at /v2/docs/.
SPECTACULAR_SETTINGS = {
    "TITLE": "DCH user favourites API",
    "DESCRIPTION": "The Digital Concert Hall API v2 endpoint /user/favourites, and the "
    "catalogue items its entries link to.",
    "VERSION": "2",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

DCH_FAVOURITES: dict[str, object] = {
    # Unset API_BASE_URL: hrefs follow the host the request came to, e.g. //127.0.0.1:8000/v2.
}

# Errors leave a trace on the console (stderr), each line with its time, level and process
# id: the app's own log, every 500 Django answers (the admin's included) with its stack
# trace, and each refused Host header with its reason (Django's DisallowedHost, a 400 that
# is otherwise silent outside DEBUG; the reason is the whole story, so no stack trace).
# Django logs the path without the query string and no header or body; a secret in a
# query string stays out of the log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "operator": {"format": "{asctime} {levelname} [{process}] {name}: {message}", "style": "{"}
    },
    "filters": {"no_traceback": {"()": "demo_site.logs.NoTraceback"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "operator"},
        "one_line": {
            "class": "logging.StreamHandler",
            "formatter": "operator",
            "filters": ["no_traceback"],
        },
    },
    "loggers": {
        "dch_favourites": {"handlers": ["console"], "level": "INFO"},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
        "django.security.DisallowedHost": {
            "handlers": ["one_line"],
            "level": "ERROR",
            "propagate": False,
        },
    },
}
