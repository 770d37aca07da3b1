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

## main job: ingest the bundled knowledge graphs into one KG and print its statistics
demo: $(STAMP)
	$(VENV)/bin/kemm kg ingest knowledge_graphs/commonsense/commonsense.ttl knowledge_graphs/wordnet \
		--out runs/kg/bundled
	$(VENV)/bin/kemm kg split runs/kg/bundled --seed 0 --drop-inverse-leakage
	$(VENV)/bin/kemm kg neighbors runs/kg/bundled https://w3id.org/kemm/commonsense/apple --limit 30

## default test suite (offline, tiny; `slow` tests excluded)
test: $(STAMP)
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

clean:
	rm -rf runs bench_results .pytest_cache
