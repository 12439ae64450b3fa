# adclear: `make demo` and `make test` do everything on a fresh Debian 12 machine (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the project needs; installed with apt only where missing (poppler-utils: the notice tests
# read the printed PDF back with pdftotext, docs/img/notice.png is made with pdftoppm; redis-server: the
# distributed crawl's tests start their own on a free loopback port, docs/operations.md).
APT_PACKAGES := chromium fonts-noto-cjk poppler-utils redis-server

.PHONY: demo test bench lint install system-deps clean cli-docs

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

demo: install system-deps
	$(BIN)/adclear demo

# two workers (pytest-xdist): most tests wait on subprocesses, servers and browsers; one process at a time took
# 13.5 minutes of the 15 this suite is given on 2 cores, two take 8
test: install system-deps
	$(BIN)/python -m pytest -q -n 2

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# docs/cli.md, written from the commands' own help (tests/test_docs.py checks it is current)
cli-docs: install
	$(BIN)/python -m adclear.cli.reference > docs/cli.md

bench: install system-deps
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache
