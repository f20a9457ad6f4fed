"""The example site's admin login form."""

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.validators import MaxLengthValidator


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, refusing a username longer than the user model stores.

    Django's form only sets the input's ``maxlength``; a longer username went on to
    ``authenticate()``, where django-axes could not store the failure (255 characters at
    most) and the login answered a 500 page.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))
