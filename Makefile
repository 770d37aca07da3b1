# Set-up and every check in one place. The README's two commands are `make demo` and `make test`;
# both create the virtual environment and install what they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kemm-installed

.PHONY: install demo test test-all lint format bench-ingest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned requirement would resolve a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,models]'
	touch $(STAMP)

install: $(STAMP)

## the main job, end to end on the bundled data (configs/demo.yaml; every stage is a kemm command):
## KGs -> KG embeddings -> benchmark + linking -> pre-training (knowledge and `fusion: none`) ->
## fine-tuning and evaluation -> one report in runs/demo/report. A second run reuses what is done.
KEMM := $(VENV)/bin/kemm
demo: $(STAMP)
	$(KEMM) demo --config configs/demo.yaml --out runs/demo

## every check: lint (ruff check, ruff format --check, mypy), then the default test suite
## (offline, tiny; `slow` tests excluded)
test: lint
	$(PY) -m pytest

test-all: $(STAMP)
	$(PY) -m pytest -m ""

lint: $(STAMP)  ## ruff + mypy: every static check in one command
	$(VENV)/bin/ruff check kemm tests scripts
	$(VENV)/bin/ruff format --check kemm tests scripts
	$(VENV)/bin/mypy kemm

format: $(STAMP)
	$(VENV)/bin/ruff format kemm tests scripts
	$(VENV)/bin/ruff check --fix kemm tests scripts

bench-ingest: $(STAMP)
	$(PY) scripts/bench_ingest.py --out bench_results/ingest.json

## everything the demo, the tests and the benchmarks wrote (the virtual environment stays)
clean:
	rm -rf runs bench_results .pytest_cache .mypy_cache .ruff_cache
