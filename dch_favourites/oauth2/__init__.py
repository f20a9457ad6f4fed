"""django-oauth-toolkit plug-ins so that the original service's apps sign in unchanged.

Optional: a site names them in ``OAUTH2_PROVIDER`` and ``AUTH_PASSWORD_VALIDATORS`` and
mounts :class:`~dch_favourites.oauth2.views.TokenView` (``docs/signin.md``).
"""
