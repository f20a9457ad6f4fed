"""What the commands share: naming a listener, and asking before they delete."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from dch_favourites.models import default_manager


def add_listener_arguments(parser: ArgumentParser) -> None:
    """``--username NAME`` or ``--user-id ID``; exactly one is required."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--username", help="The listener's username (the user model's USERNAME_FIELD)."
    )
    who.add_argument("--user-id", help="The listener's primary key.")


def listener_from_options(options: dict[str, Any]) -> Any:
    """The user the options name; ``CommandError`` when there is none."""
    user_model = get_user_model()
    by_name = options.get("username") is not None
    field = user_model.USERNAME_FIELD if by_name else "pk"
    value = options["username"] if by_name else options.get("user_id")
    try:
        return default_manager(user_model).get(**{field: value})
    except user_model.DoesNotExist:
        raise CommandError(f"No user with {field if by_name else 'id'} {value!r}.") from None
    except (ValidationError, ValueError, TypeError):
        raise CommandError(f"{value!r} is not a valid user id.") from None


def describe(user: Any) -> str:
    """``'name' (id 5)`` for messages."""
    return f"{user.get_username()!r} (id {user.pk})"


def add_yes_argument(parser: ArgumentParser) -> None:
    """``--yes``, ``--no-input`` or ``--noinput``: do not ask (``interactive=False``)."""
    parser.add_argument(
        "--yes",
        "--no-input",
        "--noinput",
        action="store_false",
        dest="interactive",
        help="Do not ask for confirmation.",
    )


def confirmed(question: str) -> bool:
    """Whether the operator typed ``yes`` to ``question`` (end of input counts as no)."""
    try:
        answer = input(question + "\n" + _("Type 'yes' to continue, or 'no' to cancel: "))
    except EOFError:
        return False
    return answer.strip().lower() == "yes"
