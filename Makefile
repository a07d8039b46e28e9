# One target per developer action. `make demo` and `make test` are the whole setup on a fresh
# machine with Python >= 3.11 and make: each creates .venv when missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: demo test lint typecheck bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files record which extras are installed; they are rebuilt when pyproject.toml changes.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: $(VENV)/.installed-test lint
	$(BIN)/pytest -n 2 -q

bench: $(VENV)/.installed-test
	$(PY) benchmarks/statevector.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
