"""django-oauth-toolkit plug-ins so that the original service's apps sign in unchanged.

Optional: a site turns them on in ``OAUTH2_PROVIDER`` (see the documentation,
``docs/signin.md``):

- :func:`~dch_favourites.oauth2.server.DeviceServer` (``OAUTH2_SERVER_CLASS``) adds
  ``grant_type=device``, an app token without a user, to the server the toolkit would
  build (its OpenID Connect server with ``OIDC_ENABLED``);
- :class:`~dch_favourites.oauth2.validators.DeviceOAuth2Validator`
  (``OAUTH2_VALIDATOR_CLASS``) keeps each app installation as a
  :class:`~dch_favourites.models.Device`, lets the password grant authenticate with
  ``Authorization: Bearer <device token>`` and answers a locked-out sign-in with 429;
- :func:`~dch_favourites.oauth2.generators.signed_access_token`
  (``ACCESS_TOKEN_GENERATOR``) makes the access tokens RS256 JWTs;
- :class:`~dch_favourites.oauth2.passwords.RevokeTokensOnPasswordChange`
  (``AUTH_PASSWORD_VALIDATORS``) revokes a listener's tokens when their password changes;
- :class:`~dch_favourites.oauth2.views.TokenView` answers every request in JSON, and
  :class:`~dch_favourites.oauth2.views.JwksView` publishes the public keys.
"""
