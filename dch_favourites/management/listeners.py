"""How the management commands name a listener: ``--username NAME`` or ``--user-id ID``."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from dch_favourites.models import default_manager


def add_listener_arguments(parser: ArgumentParser) -> None:
    """The two ways to name a listener; exactly one is required."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--username", help="The listener's username (the user model's USERNAME_FIELD)."
    )
    who.add_argument("--user-id", dest="user_id", help="The listener's primary key.")


def listener_from_options(options: dict[str, Any]) -> Any:
    """The user the options name; ``CommandError`` when there is none."""
    user_model = get_user_model()
    users = default_manager(user_model).all()
    if options.get("username") is not None:
        field = user_model.USERNAME_FIELD
        user = users.filter(**{field: options["username"]}).first()
        if user is None:
            raise CommandError(f"No user with {field} {options['username']!r}.")
        return user
    raw = options.get("user_id")
    try:
        pk = user_model._meta.pk.to_python(raw)
    except ValidationError:
        raise CommandError(f"{raw!r} is not a valid user id.") from None
    user = users.filter(pk=pk).first()
    if user is None:
        raise CommandError(f"No user with id {raw!r}.")
    return user


def describe(user: Any) -> str:
    """``'name' (id 5)`` for messages."""
    return f"{user.get_username()!r} (id {user.pk})"
