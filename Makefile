# The README's commands. Each creates .venv with the package when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RESULTS ?= results
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb notebooks/*/*.ipynb))

.PHONY: venv run lab test lint unit notebooks browser report format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

## make run: execute every notebook in quick mode with papermill, then print the claims table
run: venv
	$(BIN)/contrastkit notebooks --quick --output-dir $(RESULTS)/notebooks --results-dir $(RESULTS)/claims

## make lab: JupyterLab on notebooks/
lab: venv
	$(BIN)/jupyter lab notebooks/

## make test: lint + unit tests + every notebook executed once (nbval) + browser tests
test: lint unit notebooks browser

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check contrastkit tests tools benchmarks conftest.py
	$(BIN)/python tools/nbtool.py check $(NOTEBOOKS)

unit: venv
	$(BIN)/python -m pytest -q -m "not browser" tests

# nbval runs each notebook as a user opens it (defaults = quick mode) and compares the
# NBVAL_CHECK_OUTPUT cells with their stored outputs; kernels get the network guard.
notebooks: venv
	rm -rf $(RESULTS)/test-claims
	CONTRASTKIT_RESULTS_DIR=$(abspath $(RESULTS))/test-claims CONTRASTKIT_NO_NETWORK=1 \
	PYTHONPATH=$(abspath tools/offline) \
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 $(NOTEBOOKS)
	$(BIN)/contrastkit report --results-dir $(RESULTS)/test-claims --require-done

# JupyterLab driven headless in Debian's chromium by Playwright; installs both when missing,
# or the tests skip with a loud message (never a browser download).
# When the installer succeeds the tests must run (a skip is then a failure).
browser: venv
	if scripts/install_browser_deps.sh $(BIN)/python; then export CONTRASTKIT_REQUIRE_BROWSER=1; fi; \
	$(BIN)/python -m pytest -q -p no:cacheprovider -m browser -rs tests/browser

report: venv
	$(BIN)/contrastkit report --results-dir $(RESULTS)/claims

format: venv
	$(BIN)/ruff format contrastkit tests tools benchmarks conftest.py
	$(BIN)/python tools/nbtool.py strip $(NOTEBOOKS)
	$(BIN)/python tools/readme.py

clean:
	rm -rf $(RESULTS) .pytest_cache .ruff_cache
