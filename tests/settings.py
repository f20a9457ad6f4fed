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

# Sign-in like the original apps, with every RFC 9700 gate of the example site on: a fresh
# signing key per run (the example site's own lives in example_project/var/, never committed),
# and the toolkit's server rebuilt per request so that override_settings reaches it.
from jwcrypto import jwk  # noqa: E402

OAUTH2_PROVIDER = {
    **OAUTH2_PROVIDER,  # noqa: F405
    "ACCESS_TOKEN_GENERATOR": "dch_favourites.oauth2.generators.signed_access_token",
    "OIDC_RSA_PRIVATE_KEY": jwk.JWK.generate(kty="RSA", size=2048)
    .export_to_pem(private_key=True, password=None)
    .decode("ascii"),
    "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
}

# The suite's cache is per-process memory whatever REDIS_URL says (tests clear it); the
# tests that run on Redis switch to it themselves (conftest.cache_backend).
# tests/test_throttle_shared.py runs this module under gunicorn with a write throttle on,
# on Redis or not.
import os  # noqa: E402

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("DCH_TEST_SERVER_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["DCH_TEST_SERVER_REDIS_URL"],
            "KEY_PREFIX": os.environ.get("DCH_TEST_SERVER_REDIS_PREFIX", ""),
        }
    }
if os.environ.get("DCH_TEST_THROTTLE_RATE"):
    DCH_FAVOURITES = {**DCH_FAVOURITES, "WRITE_THROTTLE_RATE": os.environ["DCH_TEST_THROTTLE_RATE"]}
