#!/usr/bin/env bash
# Fuzz the API against its own OpenAPI contract.
#
# Starts the example site on loopback with a fresh SQLite database in a temporary directory
# (migrate, demo data, a listener's token), runs schemathesis against every operation of
# /v2/schema/openapi.json with positive and negative data and a bounded number of examples,
# stops the site, and exits non-zero on any failure. Works from a clean clone: it creates
# .venv with `make venv` when missing and installs the `fuzz` dependency group into it.
#
#   scripts/fuzz-openapi.sh                  # the CI run
#   FUZZ_EXAMPLES=200 scripts/fuzz-openapi.sh --seed 7   # longer; extra args go to schemathesis
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="${VENV:-.venv}"
PY="$ROOT/$VENV/bin/python"
EXAMPLES="${FUZZ_EXAMPLES:-60}"

[ -x "$PY" ] || make venv
if ! "$PY" -c "import schemathesis, drf_spectacular, drf_spectacular_sidecar" 2>/dev/null; then
    "$PY" -m pip install --quiet --group fuzz -e .
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dch-fuzz.XXXXXX")
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
export DATABASE_URL="sqlite:///$WORK/db.sqlite3"
export DJANGO_DEBUG=0
# Production refuses the demo's secrets: this run's own.
DJANGO_SECRET_KEY=$("$PY" -c 'from django.core.management.utils import get_random_secret_key as k; print(k())')
DCH_JWT_PRIVATE_KEY=$("$PY" -c 'from jwcrypto import jwk; print(jwk.JWK.generate(kty="RSA", size=2048).export_to_pem(private_key=True, password=None).decode())')
export DJANGO_SECRET_KEY DCH_JWT_PRIVATE_KEY
export DJANGO_ALLOWED_HOSTS="127.0.0.1"
export PYTHONDONTWRITEBYTECODE=1
manage() { (cd "$ROOT/example_project" && "$PY" manage.py "$@"); }

echo "== Example site on $BASE (database $WORK/db.sqlite3)"
manage demo --base "$BASE" >"$WORK/demo.log"
TOKEN=$(manage shell -c '
import secrets
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
from demo_site.management.commands.demo import CLIENT_ID
token = secrets.token_urlsafe(30)
AccessToken.objects.create(
    user=get_user_model().objects.get(username="listener"),
    application=Application.objects.get(client_id=CLIENT_ID),
    token=token, scope="read write", expires=timezone.now() + timedelta(hours=1),
)
print("TOKEN=" + token)
' | sed -n 's/^TOKEN=//p')
manage runserver --noreload "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    if "$PY" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
        "$BASE/v2/schema/openapi.json" 2>/dev/null; then
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.2
done

echo "== schemathesis: every operation, positive and negative data, $EXAMPLES examples each"
status=0
# From the temporary directory: schemathesis keeps a cache of crashes in the working directory.
(cd "$WORK" && "$ROOT/$VENV/bin/schemathesis" run "$BASE/v2/schema/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --checks "${FUZZ_CHECKS:-all}" \
    --mode all \
    --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" \
    --seed "${FUZZ_SEED:-20260101}" \
    --request-timeout 10 \
    --no-color \
    "$@") || status=$?

if [ "$status" -ne 0 ]; then
    echo "== schemathesis failed ($status); last lines of the server log:"
    tail -n 40 "$WORK/server.log"
fi
if grep -q "Traceback" "$WORK/server.log"; then
    echo "== the server logged a traceback:"
    grep -n -A 20 "Traceback" "$WORK/server.log" | head -n 60
    status=1
fi
exit "$status"
