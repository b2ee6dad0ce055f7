# Two commands work on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## run: install, migrate the SQLite default, serve on http://127.0.0.1:8080 (with the reference AI)
run: $(VENV)/.installed
	./scripts/ensure-pdf-libs || echo "The PDF report needs Debian's Pango: see scripts/ensure-pdf-libs"
	./scripts/run-stack

## test: install dev requirements and run the whole suite against PostgreSQL
test: $(VENV)/.dev-installed
	./scripts/ensure-chromium
	./scripts/ensure-pdf-libs
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.dev-installed
	./bench/run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
