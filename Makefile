# The single interface to the project. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
NPM_INSTALLED := node_modules/.installed
CDK := npx --no-install cdk
# The CDK's jsii runtime runs on the machine's Node 20; its end-of-life banner is not news to our users.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test lint format openapi synth deploy diff destroy up demo bench soak clean

dev: $(INSTALLED) $(NPM_INSTALLED) ## create .venv/ and node_modules/ with everything installed

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(NPM_INSTALLED): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

test: dev ## run the whole test suite
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: dev ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy src infra replay local_runtime operator_cli bench app.py

format: dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

openapi: dev ## write docs/openapi.json from the search API's resolver (a test fails when it is stale)
	PYTHONPATH=src $(PY) -m infra.openapi

synth: dev ## synthesize the CloudFormation template into cdk.out/
	$(CDK) synth --quiet

deploy: dev ## deploy TripSagaStack to the AWS account of your credentials
	$(CDK) deploy TripSagaStack

diff: dev
	$(CDK) diff TripSagaStack

destroy: dev
	$(CDK) destroy TripSagaStack

up: dev ## run the whole stack locally (no AWS account, no Docker) until Ctrl-C
	$(PY) -m local_runtime up

demo: dev ## run the hands-on's section 7 end to end on the local runtime
	$(PY) -m local_runtime demo

bench: dev ## measure the projection's figures, each as a ratio to a baseline measured in the same run
	PYTHONPATH=src:. $(PY) -m bench

soak: dev ## every fault on, a saga workload, then check that nothing was lost (exit 1 if anything was)
	$(PY) -m local_runtime soak

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .hypothesis .local
