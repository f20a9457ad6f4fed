"""gunicorn settings of the example site's production profile (docs/deploying.md).

    cd example_project && DJANGO_DEBUG=0 ... gunicorn -c gunicorn.conf.py

Environment: ``WEB_CONCURRENCY`` (workers; default two per core), ``GUNICORN_BIND``
(default 127.0.0.1:8000), ``GUNICORN_TIMEOUT`` (seconds, default 30),
``FORWARDED_ALLOW_IPS`` (the proxy in front, default 127.0.0.1) and
``GUNICORN_CONTROL_SOCKET`` (a path for ``gunicornc``; off unless set). The site's own settings
come from the environment too: DJANGO_DEBUG, DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS,
DATABASE_URL, REDIS_URL.
"""

import os
from pathlib import Path

# The example site, wherever gunicorn is started from.
chdir = str(Path(__file__).resolve().parent)
wsgi_app = "demo_site.wsgi:application"

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
# Sync workers: one request at a time each, so a worker needs one database connection and
# a slow client cannot starve the others of it. Put a buffering proxy (nginx) in front.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = timeout
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs on stdout and stderr, for the process manager to collect. The access log (the
# common log format plus the time taken and the user agent) names the path without its
# query string (%(U)s, not %(r)s): a token sent as ?access_token=... (which the API
# refuses) or any other secret in a query string never reaches a log line. The user field
# is a plain "-": gunicorn's %(u)s would log whatever an "Authorization: Basic" header
# decodes to up to its first colon, the whole secret when it has none.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %(l)s - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'

# gunicorn's control socket (gunicornc, gunicorn 25.1+) defaults to one path per user
# ($XDG_RUNTIME_DIR/gunicorn.ctl), shared by every gunicorn that user runs: off unless a
# run names a path of its own.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
