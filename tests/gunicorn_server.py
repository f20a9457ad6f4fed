"""The example site under a real gunicorn, configured by example_project/gunicorn.conf.py.

The production profile's tests start it in a subprocess with an environment of their own
(settings module, database, Redis, workers) and read its access and error logs afterwards.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jwcrypto import jwk

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
CONFIG = EXAMPLE / "gunicorn.conf.py"


@dataclass
class Server:
    """A running gunicorn: its base URL and the files its stdout and stderr go to."""

    url: str
    stdout: Path
    stderr: Path
    process: subprocess.Popen[bytes]

    def logs(self) -> str:
        """Everything gunicorn and the site wrote so far, stdout then stderr."""
        return self.stdout.read_text(encoding="utf-8") + self.stderr.read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@functools.cache
def signing_key() -> str:
    """A token signing key of the run's own, in PEM: production refuses the demo's."""
    pem: bytes = jwk.JWK.generate(kty="RSA", size=2048).export_to_pem(
        private_key=True, password=None
    )
    return pem.decode("ascii")


def site_environment(**changes: str) -> dict[str, str]:
    """This process's environment without the test run's Django settings, plus ``changes``.

    With production's secrets of the run's own (``DJANGO_DEBUG=0`` refuses to start without).
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
    }
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE), str(ROOT / "tests")])
    env["DJANGO_SECRET_KEY"] = "test-run-secret-key-" + "s" * 50
    env["DCH_JWT_PRIVATE_KEY"] = signing_key()
    env.update(changes)
    return env


@contextmanager
def gunicorn(
    tmp_path: Path, env: dict[str, str], workers: int, *options: str, boot_timeout: float = 120
) -> Iterator[Server]:
    """Run gunicorn until the block ends; wait until all ``workers`` have booted.

    With ``--preload`` among ``options`` a booted worker has the site loaded already, so
    every worker is ready to answer when this yields.
    """
    port = free_port()
    stdout, stderr = tmp_path / "gunicorn.out", tmp_path / "gunicorn.err"
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and config)
            [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), *options],
            cwd=EXAMPLE,
            env=env,
            stdout=out,
            stderr=err,
        )
    server = Server(f"http://127.0.0.1:{port}", stdout, stderr, process)
    try:
        deadline = time.monotonic() + boot_timeout
        while server.logs().count("Booting worker with pid") < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{server.logs()}")
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
