"""How the commands that delete ask first: ``--yes`` (or ``--no-input``) skips the question."""

from __future__ import annotations

from argparse import ArgumentParser

from django.utils.translation import gettext as _


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
