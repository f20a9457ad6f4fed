"""Signals sent after a listener's list changed, once per effective change, on commit.

Both are sent by :mod:`dch_favourites.services` with ``sender`` the
:class:`~dch_favourites.models.Favourite` class, ``user`` (the listener), ``items`` (a
tuple of the catalogue item ids actually added or removed, in the order applied) and
``source`` (a :class:`dch_favourites.services.Source`: ``"api"``, ``"admin"``,
``"cascade"``, ``"command"`` or ``"python"``). A no-op or refused change sends nothing;
a rolled-back one neither. Receivers run through ``send_robust``: one that raises is
logged (``django.dispatch``) and neither undoes the change nor stops the others. An
example receiver: docs/commands-and-signals.md.
"""

from __future__ import annotations

from django.dispatch import Signal

favourite_added = Signal()
favourite_removed = Signal()
