# The two commands that matter: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,lint]'
	touch $@

demo: $(STAMP)
	$(BIN)/rdv demo

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check orchestrator integrations calendars webhooks tests bench examples
	$(BIN)/ruff format --check orchestrator integrations calendars webhooks tests bench examples
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
