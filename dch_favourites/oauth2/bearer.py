"""A validator that judges bearer tokens with one lean query (``OAUTH2_VALIDATOR_CLASS``).

django-oauth-toolkit's ``OAuth2Validator.validate_bearer_token`` loads the token with its
user and application through the ORM, then checks it. On the favourites' read path that
one lookup costs more than everything else the request does, so
:class:`BearerTokenValidator` loads the same three rows (the token without the fields
in :data:`DEFERRED_TOKEN_FIELDS`, which no check reads), and the state of the listener's
document with them, in one SQL statement built once from the models' ``_meta``, and then
makes the toolkit's own checks on the toolkit's own model methods, in the toolkit's order:
``AccessToken.is_valid(scopes)``, the RFC 8707 audience (``allows_audience``) and
``Application.is_usable(request)``.

Only acceptance takes this path. A token it does not find, or that fails any check, is
handed to the stock ``validate_bearer_token``, so every refusal, its error description and
token introspection (``RESOURCE_SERVER_INTROSPECTION_URL``) stay exactly the toolkit's.
``tests/test_token_validation.py`` runs one table of token cases against both validators.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db import connections, models, router
from django.dispatch import receiver
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator

from dch_favourites import prepared
from dch_favourites.models import (
    CATALOGUE_STATE_ID,
    CatalogueState,
    FavouriteListState,
    state_of,
)

#: The attribute of a loaded access token that carries the listener's document state
#: (:data:`dch_favourites.models.STATE_COLUMNS`), read in the same statement.
DOCUMENT_STATE_ATTRIBUTE = "dch_document_state"

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class ModelColumns:
    """Where one model's concrete fields sit in the row, and how to convert them."""

    model: type[models.Model]
    attnames: tuple[str, ...]
    start: int
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]
    pk_position: int

    def instance(self, db: str, row: Sequence[Any], connection: Any) -> models.Model | None:
        values = list(row[self.start : self.start + len(self.attnames)])
        if values[self.pk_position] is None:
            return None  # the LEFT JOIN found no row
        for position, converters, expression in self.converters:
            value = values[position]
            for convert in converters:
                value = convert(value, expression, connection)
            values[position] = value
        return self.model.from_db(db, list(self.attnames), values)


@dataclass(frozen=True)
class TokenStatement:
    """The SQL of the lookup and how to read its row back.

    ``application`` is None when the application model keeps the toolkit's own
    ``is_usable()``, which accepts every application without reading it: the row is then
    not joined, and ``access_token.application`` loads on first access, as a deferred
    relation does.
    """

    sql: str
    token: ModelColumns
    user: ModelColumns
    application: ModelColumns | None
    state_start: int


@dataclass(frozen=True)
class TokenModels:
    """The configured access token, user and application models."""

    token: Any
    user: Any
    application: Any

    @property
    def usability_matters(self) -> bool:
        """Whether the application model decides ``is_usable()`` itself (a swapped model).

        The toolkit's own ``AbstractApplication.is_usable`` returns True for every
        application.
        """
        return getattr(self.application, "is_usable", None) is not AbstractApplication.is_usable


_token_models: list[TokenModels] = []
_statements: dict[tuple[str, TokenModels], TokenStatement] = {}


def token_models() -> TokenModels:
    """The models the toolkit and ``AUTH_USER_MODEL`` name, looked up once per process.

    Looked up again after ``OAUTH2_PROVIDER`` or ``AUTH_USER_MODEL`` change (tests).
    """
    if not _token_models:
        _token_models.append(
            TokenModels(get_access_token_model(), get_user_model(), get_application_model())
        )
    return _token_models[0]


@receiver(setting_changed)
def _forget_token_models(*, setting: str, **kwargs: Any) -> None:
    if setting in ("OAUTH2_PROVIDER", "AUTH_USER_MODEL"):
        _token_models.clear()
        _statements.clear()


#: Fields of the toolkit's ``AbstractAccessToken`` that judging a bearer token never reads
#: (the checksum it was found by, the tokens it came from or goes with, its timestamps).
#: They are left deferred: Django loads one when it is first read, as for ``.only()``.
DEFERRED_TOKEN_FIELDS = frozenset(
    {"token_checksum", "source_refresh_token", "id_token", "created", "updated"}
)


def _columns(
    model: type[models.Model],
    alias: str,
    start: int,
    connection: Any,
    deferred: frozenset[str] = frozenset(),
) -> Any:
    fields = [
        field
        for field in model._meta.concrete_fields
        if field.name not in deferred or field.primary_key
    ]
    quote = connection.ops.quote_name
    selected = [f"{alias}.{quote(field.column)}" for field in fields]
    converters = []
    for position, field in enumerate(fields):
        expression = field.get_col(alias)
        found = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
        if found:
            converters.append((position, tuple(found), expression))
    attnames = tuple(field.attname for field in fields)
    columns = ModelColumns(
        model, attnames, start, tuple(converters), attnames.index(model._meta.pk.attname)
    )
    return selected, columns


def token_statement(db: str) -> TokenStatement:
    """The lookup for the configured token, user and application models, built once."""
    configured = token_models()
    key = (db, configured)
    statement = _statements.get(key)
    if statement is not None:
        return statement
    token_model, user_model, application_model = (
        configured.token,
        configured.user,
        configured.application,
    )
    connection = connections[db]
    quote = connection.ops.quote_name
    token_sql, token = _columns(token_model, "t", 0, connection, DEFERRED_TOKEN_FIELDS)
    user_sql, user = _columns(user_model, "u", len(token_sql), connection)
    meta = token_model._meta
    user_fk = str(meta.get_field("user").column)
    app_fk = str(meta.get_field("application").column)
    app_sql: list[str] = []
    application: ModelColumns | None = None
    app_join = ""
    if configured.usability_matters:
        app_sql, application = _columns(
            application_model, "a", len(token_sql) + len(user_sql), connection
        )
        app_join = (
            f"LEFT JOIN {quote(application_model._meta.db_table)} a "
            f"ON a.{quote(application_model._meta.pk.column)} = t.{quote(app_fk)} "
        )
    state_start = len(token_sql) + len(user_sql) + len(app_sql)
    states = quote(FavouriteListState._meta.db_table)
    catalogue = quote(CatalogueState._meta.db_table)
    # token_checksum is unique: no ORDER BY / LIMIT needed to pick one row.
    sql = (
        f"SELECT {', '.join(token_sql + user_sql + app_sql)}, "
        "s.version, s.updated, s.catalogue_version, c.version, c.updated "
        f"FROM {quote(meta.db_table)} t "
        f"LEFT JOIN {quote(user_model._meta.db_table)} u "
        f"ON u.{quote(str(user_model._meta.pk.column))} = t.{quote(user_fk)} "
        f"{app_join}"
        f"LEFT JOIN {states} s ON s.user_id = t.{quote(user_fk)} "
        f"LEFT JOIN {catalogue} c ON c.id = {CATALOGUE_STATE_ID} "
        f"WHERE t.{quote(str(meta.get_field('token_checksum').column))} = %s"
    )
    statement = TokenStatement(sql, token, user, application, state_start)
    _statements[key] = statement
    return statement


def load_access_token(token: str) -> Any | None:
    """The access token ``token`` names, its user and application set, or None.

    The listener's document state comes with it, as the attribute
    :data:`DOCUMENT_STATE_ATTRIBUTE`.
    """
    db = router.db_for_read(token_models().token)
    statement = token_statement(db)
    connection = connections[db]
    with connection.cursor() as cursor:
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        prepared.execute(connection, cursor, statement.sql, [checksum])
        row = cursor.fetchone()
    if row is None:
        return None
    access_token: Any = statement.token.instance(db, row, connection)
    access_token.user = statement.user.instance(db, row, connection)
    if statement.application is not None:
        access_token.application = statement.application.instance(db, row, connection)
    setattr(access_token, DOCUMENT_STATE_ATTRIBUTE, state_of(row[statement.state_start :]))
    return access_token


class BearerTokenValidator(OAuth2Validator):  # type: ignore[misc]
    """django-oauth-toolkit's validator; accepting a bearer token costs one query."""

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        if not token:
            return False
        access_token = load_access_token(token)
        if access_token is None or not access_token.is_valid(scopes):
            # Not found here (introspection may know it) or refused: the toolkit decides.
            return bool(super().validate_bearer_token(token, scopes, request))
        if access_token.resource:
            request_uri = (getattr(request, "uri", None) or "").split("?")[0]
            if not access_token.allows_audience(request_uri):
                return bool(super().validate_bearer_token(token, scopes, request))
        if token_models().usability_matters:
            application = access_token.application
            if application is not None and not application.is_usable(request):
                return bool(super().validate_bearer_token(token, scopes, request))
            request.client = application
        else:
            # The toolkit's is_usable() accepts every application: nothing to check, and
            # the application loads only if something asks for it.
            request.client = None
        request.user = access_token.user
        request.scopes = list(access_token.scopes)
        request.access_token = access_token
        return True
