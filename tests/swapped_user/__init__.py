"""A site with its own user model (e-mail as username) and its own user admin."""
