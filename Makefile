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

## main job, end to end on the bundled data: KGs -> embeddings -> linking -> multimodal benchmark
KEMM := $(VENV)/bin/kemm
CS   := knowledge_graphs/commonsense/commonsense.ttl
demo: $(STAMP)
	$(KEMM) kg ingest $(CS) knowledge_graphs/wordnet --out runs/kg/bundled
	$(KEMM) kg split runs/kg/bundled --seed 0 --drop-inverse-leakage
	$(KEMM) kg neighbors runs/kg/bundled https://w3id.org/kemm/commonsense/apple --limit 30
	$(KEMM) kg ingest $(CS) --out runs/kg/commonsense
	$(KEMM) kg split runs/kg/commonsense --seed 0
	$(KEMM) kge train --kg runs/kg/commonsense --config configs/kge/demo_commonsense.yaml --out runs/kge/commonsense
	$(KEMM) kge neighbors runs/kge/commonsense https://w3id.org/kemm/commonsense/apple -k 8
	$(KEMM) link text "She sliced two apples with a sharp knife in the kitchen." --kg runs/kg/commonsense
	$(KEMM) kg subgraph runs/kg/commonsense --seeds knife,apple --hops 2 --max-nodes 50 --limit 15
	$(KEMM) data make-benchmark --kg $(CS) --out runs/benchmark --scale 0.2
	$(KEMM) data show runs/benchmark --split val --index 0 --out runs/benchmark/example_val_0.png

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

clean:
	rm -rf runs bench_results .pytest_cache
