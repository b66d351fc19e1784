# The README's two commands: `make demo` and `make test`. Both create .venv if
# missing and install what they need into it; nothing else is assumed but a
# Python >= 3.10 on PATH.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
PYTEST_ARGS ?=

.PHONY: demo test lint format docs benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Stamps re-run the install only when the project's metadata changes.
$(VENV)/.demo-installed: pyproject.toml | $(PY)
	$(PIP) install -e ".[plot]"
	touch $@

# torch is pinned to the CPU build first, so nothing can pull a CUDA build.
$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[test,dev]"
	touch $@

$(VENV)/.docs-installed: pyproject.toml | $(PY)
	$(PIP) install -e ".[docs,plot]"
	touch $@

demo: $(VENV)/.demo-installed
	$(VENV)/bin/skreweight benchmark

test: $(VENV)/.test-installed
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.test-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

docs: $(VENV)/.docs-installed
	$(MAKE) -C doc html SPHINXBUILD=$(abspath $(VENV))/bin/sphinx-build

clean:
	rm -rf report doc/_build doc/auto_examples doc/generated
