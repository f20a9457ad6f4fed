"""The errors of the write path: a change that was refused, with nothing applied."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext as _


class FavouritesError(Exception):
    """A change that was refused; nothing was applied."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownItems(FavouritesError):
    """Ids that name no catalogue item."""

    def __init__(self, item_ids: Sequence[str]) -> None:
        self.item_ids = tuple(item_ids)
        super().__init__(_("Unknown catalogue id: %(ids)s.") % {"ids": ", ".join(self.item_ids)})


class ListFull(FavouritesError):
    """The add would take the list past ``MAX_FAVOURITES_PER_USER``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            _("The favourites list is full: it holds at most %(limit)d items.") % {"limit": limit}
        )


class AlreadyListed(FavouritesError):
    """A new ``Favourite`` instance for an item already on the listener's list."""

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        super().__init__(_("%(id)s is already on the list.") % {"id": item_id})
