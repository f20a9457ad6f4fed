"""``manage.py demo``: a ready-to-try site with a listener, a token and curl commands."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone
from jwcrypto import jwk
from oauth2_provider.models import AccessToken, Application, set_token_value

from dch_favourites.catalogue_import import import_catalogue
from dch_favourites.services import Source, add_favourites

CATALOGUE = Path(__file__).resolve().parents[2] / "demo_catalogue.json"
CLIENT_ID = "dch-demo-app"
CLIENT_SECRET = "dch-demo-secret"
# Apps that sign in like the original (docs/signin.md): the Android app, and the web app with the
# credentials yt-dlp's DigitalConcertHall extractor sends, so it works against the demo.
SIGN_IN_APPS = {
    "dch.android": ("DCH Android app", "dch-android-demo-secret"),
    "dch.webapp": ("DCH web app", "2ySLN+2Fwb"),
}


def ensure_signing_key(path: Path) -> bool:
    """Create the RSA key that signs access tokens, readable by its owner only; True if new."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = jwk.JWK.generate(kty="RSA", size=2048).export_to_pem(private_key=True, password=None)
    with path.open("xb") as key_file:
        path.chmod(0o600)
        key_file.write(pem)
    return True


class Command(BaseCommand):
    help = "Migrate, load the demo catalogue, create demo users and a token, print curl commands."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base", default="http://127.0.0.1:8000", help="Where the site runs.")

    def handle(self, *args: Any, **options: Any) -> None:
        key_file = Path(settings.JWT_KEY_FILE)
        if ensure_signing_key(key_file):
            self.stdout.write(f"Signing key created: {key_file} (restart the server to use it).")
        call_command("migrate", interactive=False, verbosity=0)
        result = import_catalogue(json.loads(CATALOGUE.read_text(encoding="utf-8")))
        self.stdout.write(f"Catalogue: {len(result.ids)} items ({result.created} new).")

        users = get_user_model()
        listener, _ = users.objects.get_or_create(
            username="listener", defaults={"email": "listener@example.com"}
        )
        listener.set_password("listener")
        listener.save()
        staff, _ = users.objects.get_or_create(
            username="admin", defaults={"email": "admin@example.com"}
        )
        staff.is_staff = staff.is_superuser = True
        staff.set_password("admin")
        staff.save()
        add_favourites(listener, ["301", "23427-3", "23427-1"], source=Source.COMMAND)

        application, _ = Application.objects.get_or_create(
            client_id=CLIENT_ID,
            defaults={
                "name": "DCH demo app",
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_PASSWORD,
                "client_secret": CLIENT_SECRET,
            },
        )
        for client_id, (name, secret) in SIGN_IN_APPS.items():
            Application.objects.get_or_create(
                client_id=client_id,
                defaults={
                    "name": name,
                    "client_type": Application.CLIENT_CONFIDENTIAL,
                    "authorization_grant_type": Application.GRANT_PASSWORD,
                    "client_secret": secret,
                },
            )
        token = secrets.token_urlsafe(30)
        demo_token = AccessToken(
            user=listener,
            application=application,
            scope="read write",
            expires=timezone.now() + timedelta(days=365),
        )
        set_token_value(demo_token, token)  # hashed at rest when the RFC 9700 gate is on
        demo_token.save()
        base = options["base"]
        auth = f"-H 'Authorization: Bearer {token}'"
        self.stdout.write(
            f"""
Demo ready. Admin: {base}/admin/ (admin / admin). Listener: listener / listener.

List the favourites:
  curl -s {auth} {base}/v2/user/favourites

Add a concert and a film:
  curl -s {auth} -d action=add -d id=24001 -d id=311 {base}/v2/user/favourites

Delete a work:
  curl -s {auth} -d action=delete -d id=23427-1 {base}/v2/user/favourites

In German:
  curl -s {auth} -H 'Accept-Language: de' {base}/v2/user/favourites

Get a token of your own with the password grant:
  curl -s -u {CLIENT_ID}:{CLIENT_SECRET} -d grant_type=password -d username=listener -d password=listener -d 'scope=read write' {base}/oauth2/token

Sign in like the Android app: a device token, then the password grant with it:
  curl -s -d grant_type=device -d app_id=dch.android -d client_secret={SIGN_IN_APPS["dch.android"][1]} -d app_version=1.0 -d device_vendor=demo -d device_model=demo {base}/v2/oauth2/token
  curl -s -H 'Authorization: Bearer <device access_token>' -d grant_type=password -d username=listener -d password=listener {base}/v2/oauth2/token
"""
        )
