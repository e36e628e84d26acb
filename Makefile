# Two commands matter: `make demo` and `make test`. Each sets up .venv on its own.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(STAMP)
	@echo "== hegui scan: a sample of model answers under the cn policy =="
	$(VENV)/bin/hegui scan examples/answers.txt --policy cn; test $$? -le 1

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/detect.py

clean:
	rm -rf $(VENV) build src/*.egg-info src/hegui/detect/*.so
