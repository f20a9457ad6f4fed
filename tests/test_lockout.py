"""Password guessing at the token endpoint: django-axes locks a listener, or an address, out.

Through the real endpoint, with the example site's django-axes settings (a smaller limit):
after ``AXES_FAILURE_LIMIT`` failures the sign-in answers 429 JSON with ``Retry-After``,
even with the right password, and costs no password hashing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings
from oauth2_provider.models import AccessToken

from factories import APP_SECRET, SignInApplicationFactory, UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("accounts"),
]

TOKEN_URL = "/v2/oauth2/token"
LIMIT = 3
LOCKED = {
    "error": "invalid_grant",
    "error_description": "Too many failed sign-ins: try again in 900 seconds.",
}
INVALID = {"error": "invalid_grant", "error_description": "Invalid credentials given."}


@pytest.fixture(autouse=True)
def small_limit() -> Any:
    with override_settings(AXES_FAILURE_LIMIT=LIMIT, AXES_COOLOFF_TIME=timedelta(minutes=15)):
        yield


@pytest.fixture
def accounts(db: Any) -> None:
    SignInApplicationFactory(client_id="dch.android")
    UserFactory(username="clara", password="clara-password")
    UserFactory(username="robert", password="robert-password")


def sign_in(username: str, password: str, address: str = "203.0.113.7") -> Any:
    return Client(REMOTE_ADDR=address).post(
        TOKEN_URL,
        {
            "grant_type": "password",
            "username": username,
            "password": password,
            "client_id": "dch.android",
            "client_secret": APP_SECRET,
        },
    )


def test_a_listener_is_locked_out_after_the_limit() -> None:
    for attempt in range(LIMIT - 1):
        response = sign_in("clara", f"guess-{attempt}")
        assert (response.status_code, response.json()) == (400, INVALID)

    locking = sign_in("clara", "guess-last")
    assert locking.status_code == 429
    assert locking["Retry-After"] == "900"
    assert locking["Content-Type"] == "application/json"
    assert locking.json() == LOCKED

    # The right password, from another address: still locked (per username).
    right = sign_in("clara", "clara-password", address="198.51.100.9")
    assert (right.status_code, right.json()) == (429, LOCKED)
    assert not AccessToken.objects.exists()
    # Another listener from another address is not affected.
    assert sign_in("robert", "robert-password", address="198.51.100.9").status_code == 200


def test_an_address_is_locked_out_across_usernames() -> None:
    for attempt in range(LIMIT):
        sign_in(f"user{attempt}", "guess")
    response = sign_in("robert", "robert-password")
    assert (response.status_code, response["Retry-After"]) == (429, "900")
    assert sign_in("robert", "robert-password", address="198.51.100.9").status_code == 200


def test_a_locked_out_attempt_costs_no_password_hashing() -> None:
    for attempt in range(LIMIT):
        sign_in("clara", f"guess-{attempt}")
    with mock.patch("django.contrib.auth.base_user.AbstractBaseUser.check_password") as check:
        assert sign_in("clara", "clara-password").status_code == 429
    check.assert_not_called()


def test_the_lock_ends_after_the_cool_off() -> None:
    for attempt in range(LIMIT):
        sign_in("clara", f"guess-{attempt}")
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert sign_in("clara", "clara-password").status_code == 200


def test_with_django_axes_default_reset_it_is_429_too() -> None:
    with override_settings(AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT=True):
        for attempt in range(LIMIT):
            sign_in("clara", f"guess-{attempt}")
        response = sign_in("clara", "clara-password")
    assert (response.status_code, response.json()) == (429, LOCKED)
    assert not AccessToken.objects.exists()


def test_a_permanent_lock_stays_invalid_grant() -> None:
    with override_settings(AXES_COOLOFF_TIME=None):
        for attempt in range(LIMIT):
            sign_in("clara", f"guess-{attempt}")
        response = sign_in("clara", "clara-password")
    assert (response.status_code, response.json()) == (400, INVALID)
    assert not AccessToken.objects.exists()
