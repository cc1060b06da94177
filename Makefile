# queenloop: `make test` and (once the loop lands) `make run` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

TOOLS := .venv-tools/.installed
$(TOOLS): requirements-tools.lock
	test -x .venv-tools/bin/python || $(PYTHON) -m venv .venv-tools
	.venv-tools/bin/python -m pip install --quiet --upgrade pip
	.venv-tools/bin/python -m pip install --quiet -r requirements-tools.lock
	touch $(TOOLS)

install: $(STAMP) $(TOOLS) ## Create .venv (and .venv-tools for deploy checks), install every pinned dependency

SPEED ?= 20
TERRITORIES ?= 64
DURATION ?= 0
run: $(STAMP) ## Run the whole loop on an embedded broker with a live view (SPEED, TERRITORIES, DURATION)
	$(PY) -m runtime.run --speed $(SPEED) --territories $(TERRITORIES) --duration $(DURATION) $(ARGS)

test: $(STAMP) $(TOOLS) ## Run the whole suite: unit, integration, e2e (real broker), deploy checks
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Run the unit tests only (no broker)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy schemas queen runtime producers consumers trainer bench

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

baselines: $(STAMP) ## Print the baseline policies' mean reward per tick (queen.baselines)
	$(PY) -m queen.baselines

bench: $(STAMP) ## Benchmarks beside their goals (BENCH=quick: under a minute); writes bench/results/
	$(PY) -m bench $(if $(filter quick,$(BENCH)),--quick,)

curves: $(STAMP) ## Learning curves in game time, seeds 0-2: continuous vs coupled, patch day (var/curves: JSON + PNG)
	OMP_NUM_THREADS=1 $(PY) -m trainer.curves --ticks 400 --switch-tick 200 --seeds 0 1 2 --out var/curves

lock: ## Re-resolve requirements.lock from pyproject.toml in a scratch venv
	rm -rf /tmp/queenloop-lock && $(PYTHON) -m venv /tmp/queenloop-lock
	/tmp/queenloop-lock/bin/pip install --quiet . && /tmp/queenloop-lock/bin/pip freeze --exclude queenloop \
	  | sed 's/^torch==\(.*\)+cpu/torch==\1/' > requirements.lock.new && mv requirements.lock.new requirements.lock

clean: ## Remove .venv and caches
	rm -rf $(VENV) .venv-tools .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info

.PHONY: help install run test test-unit lint format baselines bench curves lock clean
