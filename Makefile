# The README's commands: `make demo`, `make test`, `make docs`, and `make dev` for the tool
# chain; `make production` and `make serve` deploy the example site (docs/deploying.md).
# Each target installs only the dependency groups of pyproject.toml it runs, into one
# .venv, and again only when pyproject.toml changed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
MANAGE := cd example_project && ../$(BIN)/python manage.py
# No bytecode at install time: Python compiles what a target imports when it first runs.
PIP := $(BIN)/python -m pip install --quiet --no-compile

# Groups per target: mypy's Django plugin loads the example site's settings (demo).
GROUPS_lint := lint demo
GROUPS_dev := dev demo

.PHONY: demo production serve test docs dev lint bench venv clean

# The virtualenv with a pip that knows dependency groups (--group, pip 25.1). Made without
# ensurepip's bundled pip, which the upgrade would replace at once: the interpreter's own pip
# (22.3+, for --python) installs the new pip into it; where that pip is missing or older,
# ensurepip bootstraps one and upgrades it.
$(BIN)/.pip:
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet --no-compile "pip>=25.1" \
		|| { $(BIN)/python -m ensurepip --default-pip && $(PIP) --upgrade "pip>=25.1"; }
	touch $@

# The package (editable) and the groups a target needs: .venv/.group-demo and so on.
$(VENV)/.group-%: pyproject.toml | $(BIN)/.pip
	$(PIP) $(foreach group,$(or $(GROUPS_$*),$*),--group $(group)) -e .
	touch $@

## The package alone (editable), e.g. for scripts/fuzz-openapi.sh, which adds its group.
venv: $(VENV)/.group-package

$(VENV)/.group-package: pyproject.toml | $(BIN)/.pip
	$(PIP) -e .
	touch $@

## Set up (package + demo group), load the demo data and serve on 127.0.0.1:$(PORT).
demo: $(VENV)/.group-demo
	$(MANAGE) demo --base http://127.0.0.1:$(PORT)
	$(MANAGE) runserver 127.0.0.1:$(PORT)

## The package and the production group alone, for docs/deploying.md's manage.py steps.
production: $(VENV)/.group-production

## The production profile (docs/deploying.md): migrate, then gunicorn with
## example_project/gunicorn.conf.py (package + production group). Takes DJANGO_SECRET_KEY,
## DCH_JWT_PRIVATE_KEY (or DCH_JWT_KEY_FILE), DATABASE_URL, REDIS_URL, DJANGO_ALLOWED_HOSTS,
## WEB_CONCURRENCY, GUNICORN_BIND from the environment; DJANGO_DEBUG is 0 unless set, and
## then the site stops before migrating, with one line, on a missing or demo secret.
serve: $(VENV)/.group-production
	export DJANGO_DEBUG=$${DJANGO_DEBUG:-0} && $(MANAGE) migrate --noinput && exec ../$(BIN)/gunicorn -c gunicorn.conf.py

## Set up (package + test group) and run the suite (SQLite; DATABASE_URL=postgres://... for
## PostgreSQL). PYTEST_ARGS="tests/test_x.py -k y" for a selection.
test: $(VENV)/.group-test
	$(BIN)/pytest $(PYTEST_ARGS)

## The documentation site (package + docs group) into docs/_build/html, as CI builds it:
## warnings are errors, and every internal link and reference must resolve (-n).
docs: $(VENV)/.group-docs
	$(BIN)/sphinx-build -W --keep-going -n -q -b html docs docs/_build/html
	@echo "Built docs/_build/html/index.html"

## The developer tool chain: test and lint tools, tox, pre-commit.
dev: $(VENV)/.group-dev

## ruff check, ruff format --check, mypy (package + lint group).
lint: $(VENV)/.group-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Benchmark the list against a bare Django view, the limit (django-oauth-toolkit's token
## check, then cached bytes) and plain DRF (needs PostgreSQL, Redis and wrk;
## BENCH_ARGS="server --server-side-binding" etc. for one part). See docs/performance.md.
bench: $(VENV)/.group-bench
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tox example_project/db.sqlite3 docs/_build docs/_generated
