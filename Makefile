# modspike: the environment sets itself up (uv, Python 3.10 from .python-version, locked deps).
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.modspike-synced
RUNS := runs

.PHONY: env test test-fast lint format demo bench bench-extra clean

$(STAMP): pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen
	@touch $@

env: $(STAMP)

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: env
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## the README's test command: lint, dependency check, the whole suite (Lava tests included)
test: lint
	$(UV) pip check --python $(BIN)/python
	$(BIN)/python -m pytest

## quick loop while developing: skips tests marked slow
test-fast: lint
	$(BIN)/python -m pytest -m "not slow"

## the README's main job: train the default model (SRC) and its ANN baseline on the default data
## (digits), export both as one 8-bit artifact, summarise it, run it on the simulator and write
## its cost report (runs/demo/report/report.html); --force: a second `make demo` replaces the first
demo: env
	$(BIN)/modspike train --cell src --data digits --steps 25 --hidden 64 --epochs 30 --out $(RUNS)/demo/src --force
	$(BIN)/modspike train --cell ann --data digits --hidden 64 --epochs 100 --lr 3e-3 --out $(RUNS)/demo/ann --force
	$(BIN)/modspike export $(RUNS)/demo/src --bits 8 --baseline $(RUNS)/demo/ann --out $(RUNS)/demo/artifact --force
	$(BIN)/modspike inspect $(RUNS)/demo/artifact
	$(BIN)/modspike run $(RUNS)/demo/artifact --backend sim --out $(RUNS)/demo/result_sim.json --force
	$(BIN)/modspike report $(RUNS)/demo/artifact --out $(RUNS)/demo/report --force

bench: env
	nice -n 10 $(BIN)/python benchmarks/run_all.py
	nice -n 10 $(BIN)/python benchmarks/hw_throughput.py
	nice -n 10 $(BIN)/python benchmarks/end_to_end.py

clean:
	rm -rf $(RUNS) .pytest_cache .ruff_cache

## the longer studies: learnable h_s0 on digits (~5 min), adaptation (~10 min), warm-up copy task,
## deploying the NMD agent on sim and Lava (~6 min); then the fidelity studies of issue 17 at the
## protocols of fidelity.md (hours: see docs/studies.md; each caches its runs in runs/)
bench-extra: env
	nice -n 10 $(BIN)/python benchmarks/hs0_training.py
	nice -n 10 $(BIN)/python benchmarks/adaptation.py
	nice -n 10 $(BIN)/python benchmarks/warmup_copy.py
	nice -n 10 $(BIN)/python benchmarks/deploy_agent.py
	nice -n 19 $(BIN)/python benchmarks/nmd_benchmark1.py --agents nmd rnn
	nice -n 19 $(BIN)/python benchmarks/nmd_benchmark1.py --diagnostics --agents nmd-msrc
	nice -n 10 $(BIN)/python benchmarks/nmd_benchmark1_deploy.py --cache runs/nmd_benchmark1 --seed 0
	nice -n 19 $(BIN)/python benchmarks/copy_first_input.py --cells brc nbrc gru lstm --lengths 5 100 300
	nice -n 19 $(BIN)/python benchmarks/copy_first_input.py --cells gru lstm --lengths 300 --inits warmup partial
	nice -n 19 $(BIN)/python benchmarks/hs0_convergence.py
