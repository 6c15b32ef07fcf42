# The DeepRacer console in two commands:
#   make run    install into .venv, migrate, start Redis (embedded unless REDIS_URL is set), the Celery
#               workers and the web server on http://127.0.0.1:8000; Ctrl-C stops everything
#   make test   the whole test suite, browser tests included

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch, installed on its own first: an unpinned or plain-PyPI torch pulls GBs of CUDA.
TORCH := torch==2.13.0

.PHONY: run test lint install install-dev clean

run: $(VENV)/.installed
	$(PY) -m console.launcher run

test: $(VENV)/.installed-dev
	$(PY) -m console.launcher test $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install $(TORCH)
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache
