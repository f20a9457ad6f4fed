# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
MANAGE := cd example_project && ../$(BIN)/python manage.py

.PHONY: demo test lint bench venv clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev -e .
	touch $@

venv: $(BIN)/.installed

## Set up, load the demo data and serve the example site on 127.0.0.1:$(PORT).
demo: venv
	$(MANAGE) demo --base http://127.0.0.1:$(PORT)
	$(MANAGE) runserver 127.0.0.1:$(PORT)

## Set up and run the test suite (SQLite; set DATABASE_URL=postgres://... for PostgreSQL).
test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

## Benchmark the list against a bare Django view and plain DRF (needs PostgreSQL and wrk;
## BENCH_ARGS="inprocess --db sqlite" etc. for one part). See BENCHMARKS.md.
bench: venv
	$(BIN)/python -m pip install --quiet --group bench -e .
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .tox example_project/db.sqlite3
