# Every target builds or refreshes .venv itself, so a fresh clone needs only Python 3.13 (see .python-version).
SHELL := /bin/bash
PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0

.PHONY: demo test unit contract integration sam-local sam-local-ready lint build docs bench clean kernel movielens

$(STAMP): requirements-dev.txt layers/batchrecs/requirements.txt layers/scorer/requirements.txt pyproject.toml
	@echo "installing $(VENV) from requirements-dev.txt (once, and again when a requirement changes: about a minute)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

## kernel: the scorer's compiled top-k kernel, built beside its source for the tests and the local stack (ScorerLayer
## builds its own, in sam build); it needs a C compiler, as the layer's build does
kernel: $(STAMP)
	$(BIN)/python layers/build/compile_kernel.py layers/scorer/scorer

CHECKOV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV)/.installed
$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV)/bin/python || $(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

## demo: the main job on the embedded local stack, on seeded sample data (users, items, ranking, segments, a folder)
demo: $(STAMP) kernel
	$(BIN)/batchrecs sample-data build/demo/data
	$(BIN)/batchrecs run build/demo/data/users.jsonl build/demo/data/items.jsonl build/demo/data/ranking.jsonl \
		build/demo/data/users-filtered.jsonl build/demo/data/segments-items.jsonl \
		build/demo/data/segments-attributes.jsonl build/demo/data/export build/demo/data/users-compared.jsonl \
		--interactions build/demo/data/interactions.csv --holdout build/demo/data/holdout.csv --out build/demo/output

## movielens: MovieLens-100K for the comparison report's acceptance test and bench/quality.py, from the package
## registry (inside the recbole wheel; its licence forbids committing it): tests never fetch
MOVIELENS := build/data/recbole-1.2.1-py3-none-any.whl
$(MOVIELENS): $(STAMP)
	$(BIN)/python -m batchrecs_local.movielens
movielens: $(MOVIELENS)

## test: lint, then every test tier that runs here (the sam local tier only where a Docker engine answers)
test: lint sam-local-ready kernel movielens
	$(BIN)/pytest -n 2 --dist loadfile

unit: $(STAMP) kernel
	$(BIN)/pytest tests/unit
contract: $(STAMP) kernel
	$(BIN)/pytest tests/contract
integration: $(STAMP) kernel movielens
	$(BIN)/pytest tests/integration

## sam-local: `sam build`, the Lambda base image (pulled, else built offline), then the functions run by
## `sam local invoke` in Docker against the local stack served by moto (tests/sam_local)
sam-local: sam-local-ready
	$(BIN)/pytest tests/sam_local -v

sam-local-ready: build
	bash local/lambda-image/ensure.sh

lint: $(STAMP) $(NODE_STAMP) $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m batchrecs_local.rehearsal template.yaml
	$(CHECKOV)/bin/checkov --config-file .checkov.yaml --file template.yaml --file schemas/registry.yaml --framework cloudformation --compact --quiet --skip-download
	$(BIN)/sam validate --lint
	node_modules/.bin/asl-validator $(addprefix --json-path ,$(wildcard statemachine/*.asl.json))

build: $(STAMP)
	PYTHON=$(abspath $(BIN)/python) $(BIN)/sam build --cached --parallel

## docs: regenerate docs/events.md, docs/schemas/ and the schemas' nested stack (schemas/registry.yaml) from batchrecs.events
docs: $(STAMP)
	$(BIN)/python -m batchrecs_local.docgen

## bench: the benchmarks in bench/ (minutes; figures go to docs/benchmarks.md by hand, with machine and date)
bench: $(STAMP) build kernel
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/count_output.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/train_large.py --per-user 52
	$(BIN)/python bench/local_job.py
	$(BIN)/pip install --quiet implicit==0.7.3  # the speed comparison's yardstick, for the bench only
	$(BIN)/python bench/scorer.py

clean:
	rm -rf .aws-sam build $(VENV) $(CHECKOV) node_modules
