"""Sphinx configuration of the documentation site (``make docs``).

Pages are Markdown (MyST). The build writes the example site's OpenAPI schema first
(``manage.py spectacular``), so the API page shows the schema the code generates today.
CI builds with ``-W -n`` (warnings are errors, every reference checked): a link to a page
or heading that does not exist fails the build. Nothing is fetched from the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

project = "dch-favourites"
author = "dch-favourites developers"
copyright = "dch-favourites developers"
release = "0.1.0"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated"]
# `[text](page.md#a-heading)`: every heading down to ### gets an anchor MyST checks.
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]
suppress_warnings: list[str] = []

html_theme = "furo"
html_title = "dch-favourites"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
pygments_style = "sphinx"

# The OpenAPI schema of the example site, generated for this build (not committed).
GENERATED = DOCS / "_generated"
GENERATED.mkdir(exist_ok=True)
_env = {
    name: value
    for name, value in os.environ.items()
    if not name.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "DCH_JWT_"))
}
subprocess.run(  # noqa: S603 (this interpreter and the example site's manage.py)
    [
        sys.executable,
        "manage.py",
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(GENERATED / "openapi.yaml"),
    ],
    cwd=ROOT / "example_project",
    env=_env,
    check=True,
)
