# The single interface to the project. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
NPM_INSTALLED := node_modules/.installed
FUNCTIONS_REQUIREMENTS := requirements/functions.txt
LAYER := .build/layer
RUNTIME_SDK := .build/runtime-sdk
LAYER_BUILT := .build/layer.built
CDK := npx --no-install cdk
# `make deploy CONTEXT="changeStreamRetentionDays=30 kinesisPipeline=false"`: CDK context switches (docs/operations.md),
# for synth, deploy, diff, destroy and up. `make up PORT=4610`: the local runtime's port (4566 is LocalStack's too).
# (Not `make deploy CDK=...`: make exports a command-line variable, and the CDK CLI reads CDK from the environment.)
CONTEXT ?=
PORT ?= 4566
CDK_CONTEXT := $(foreach pair,$(CONTEXT),-c $(pair))
# The CDK's jsii runtime runs on the machine's Node 20; its end-of-life banner is not news to our users.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev layer browser test lint format openapi synth deploy diff destroy up demo bench soak clean

dev: $(INSTALLED) $(NPM_INSTALLED) $(LAYER_BUILT) ## create .venv/, node_modules/ and the functions' layer

# The functions' versions are the pin's in the dev venv too (constraints), so the in-process tests import them.
$(INSTALLED): pyproject.toml $(FUNCTIONS_REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]" -c $(FUNCTIONS_REQUIREMENTS)
	touch $@

$(NPM_INSTALLED): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

layer: $(LAYER_BUILT) ## build .build/layer/ (the functions' dependencies) from requirements/functions.txt

# Built again when the pin or this file changes, or when a folder it makes is gone.
LAYER_GONE := $(if $(and $(wildcard $(LAYER)/python),$(wildcard $(RUNTIME_SDK))),,FORCE)

# First, that this machine has that Python: the local runtime runs the functions on it. Then exactly the pinned list
# (--no-deps), as wheels for the functions' runtime and architecture (infra/lambda_function.py: python3.13, x86_64),
# whatever Python and machine build it; no script: pip writes this venv's path into a script and its hash into
# RECORD, and the asset (hashed by content) would differ from one checkout to the next. Then its bytecode, compiled
# by that Python as Lambda would find it (/opt/python, checked by hash, not time): /opt is read-only on Lambda, and
# without it every cold start compiles the imports again (SearchTrips' import: 1.7 s against 0.4 s here).
$(LAYER_BUILT): $(FUNCTIONS_REQUIREMENTS) Makefile $(LAYER_GONE) | $(INSTALLED)
	$(eval LAMBDA_PYTHON := $(shell $(PY) -m local_runtime.functions.interpreters))
	@test -n "$(LAMBDA_PYTHON)"
	rm -rf $(LAYER)
	$(PY) -m pip install --quiet --no-compile --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
		--implementation cp --python-version 3.13 --abi cp313 --target $(LAYER)/python -r $(FUNCTIONS_REQUIREMENTS)
	rm -rf $(LAYER)/python/bin
	find $(LAYER)/python -path '*.dist-info/RECORD' -exec sed -i '/^\.\.\//d' {} +
	PYTHONHASHSEED=0 $(LAMBDA_PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash \
		-s $(LAYER)/python -p /opt/python $(LAYER)/python
	@# The local runtime's stand-in for the SDK the Lambda runtime carries, the pin's boto3 with its dependencies:
	@# what a function without layers imports (the runtime tests' own functions).
	rm -rf $(RUNTIME_SDK)
	$(PY) -m pip install --quiet --no-compile --only-binary=:all: --platform manylinux2014_x86_64 \
		--implementation cp --python-version 3.13 --abi cp313 --target $(RUNTIME_SDK) boto3 -c $(FUNCTIONS_REQUIREMENTS)
	rm -rf $(RUNTIME_SDK)/bin
	touch $@

.PHONY: FORCE
FORCE:

browser: ## install Debian's chromium for the CORS browser test (tests/runtime/test_browser_cors.py), if missing
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)

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
	$(strip $(CDK) synth --quiet $(CDK_CONTEXT))

deploy: dev ## deploy TripSagaStack to the AWS account of your credentials
	$(strip $(CDK) deploy TripSagaStack $(CDK_CONTEXT))

diff: dev
	$(strip $(CDK) diff TripSagaStack $(CDK_CONTEXT))

destroy: dev
	$(strip $(CDK) destroy TripSagaStack $(CDK_CONTEXT))

up: dev ## run the whole stack locally (no AWS account, no Docker) until Ctrl-C
	$(strip $(PY) -m local_runtime up --port $(PORT) $(foreach pair,$(CONTEXT),--context $(pair)))

demo: dev ## run the hands-on's section 7 end to end on the local runtime
	$(PY) -m local_runtime demo

bench: dev ## measure the projection's figures, each as a ratio to a baseline measured in the same run
	PYTHONPATH=src:. $(PY) -m bench

soak: dev ## every fault on, a saga workload, then check that nothing was lost (exit 1 if anything was)
	$(PY) -m local_runtime soak

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .hypothesis .local .build
