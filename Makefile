# The README's commands: `make demo`, `make test`, and `make dev` for the tool chain.
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

.PHONY: demo serve test dev lint bench venv clean

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

## The production profile (README, "Deploying"): migrate, then gunicorn with
## example_project/gunicorn.conf.py (package + production group). Takes DJANGO_SECRET_KEY,
## DATABASE_URL, REDIS_URL, DJANGO_ALLOWED_HOSTS, WEB_CONCURRENCY, GUNICORN_BIND from the
## environment; DJANGO_DEBUG is 0 unless set.
serve: $(VENV)/.group-production
	export DJANGO_DEBUG=$${DJANGO_DEBUG:-0} && $(MANAGE) migrate --noinput && exec ../$(BIN)/gunicorn -c gunicorn.conf.py

## Set up (package + test group) and run the suite (SQLite; DATABASE_URL=postgres://... for
## PostgreSQL). PYTEST_ARGS="tests/test_x.py -k y" for a selection.
test: $(VENV)/.group-test
	$(BIN)/pytest $(PYTEST_ARGS)

## The developer tool chain: test and lint tools, tox, pre-commit.
dev: $(VENV)/.group-dev

## ruff check, ruff format --check, mypy (package + lint group).
lint: $(VENV)/.group-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Benchmark the list against a bare Django view, the limit (django-oauth-toolkit's token
## check, then cached bytes) and plain DRF (needs PostgreSQL, Redis and wrk;
## BENCH_ARGS="server --server-side-binding" etc. for one part). See BENCHMARKS.md.
bench: $(VENV)/.group-bench
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tox example_project/db.sqlite3
