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

test: $(STAMP) tests/js/node_modules/.installed
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# ical.js (Thunderbird's parser) for tests/test_ics.py, pinned by the lock file.
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check orchestrator integrations calendars webhooks tests bench examples
	$(BIN)/ruff format --check orchestrator integrations calendars webhooks tests bench examples
	$(BIN)/mypy

# Every benchmark, then one table of their figures (bench/README.md says what each measures).
bench: $(STAMP)
	$(BIN)/python bench/all.py $(BENCH)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
