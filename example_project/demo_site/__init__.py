"""An example Django site serving the favourites API at /v2/user/favourites."""
