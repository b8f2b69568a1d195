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
.PHONY: help venv protos protos-check contract up test test-unit lint format typecheck s3-engine browser-engine clean bench

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

up: venv ## Run Tracklane on this machine (gateway 127.0.0.1:8080, ingestion 127.0.0.1:50051); Ctrl-C stops
	$(VENV)/bin/python -m devstack

s3-engine: ## Install Ceph radosgw from Debian (a real S3 server) for the S3 adapter's tests
	@command -v radosgw >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd >/dev/null; \
	  else echo "radosgw missing: run 'sudo make s3-engine' to test the S3 adapter against a real S3 server"; fi; }

browser-engine: ## Install Chromium and curl from Debian, for the widget's browser test and the curl tour
	@{ command -v chromium >/dev/null && command -v curl >/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium curl >/dev/null; \
	  else echo "chromium or curl missing: run 'sudo make browser-engine' for the browser and curl-tour tests"; fi; }

test: venv s3-engine browser-engine ## Run every test against real engines (nats-server, chDB, nx-27017, radosgw, Chromium)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

CONTRACT_EXAMPLES ?= 200
contract: venv ## schemathesis over the OpenAPI document, longer than make test runs it (CONTRACT_EXAMPLES=200)
	TRACKLANE_CONTRACT_EXAMPLES=$(CONTRACT_EXAMPLES) $(VENV)/bin/pytest tests/e2e/test_api_contract.py -s $(PYTEST_ARGS)

test-unit: venv ## Only the fast tests that start no engine
	$(VENV)/bin/pytest -m "not engines" $(PYTEST_ARGS)

lint: venv protos-check ## ruff lint and format check; the generated protocol is current
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv ## Apply ruff's formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: venv ## mypy (strict) on our code
	$(VENV)/bin/mypy

clean: ## Remove the virtual environments and generated code (keeps .tracklane data)
	rm -rf $(VENV) .tools

BENCH_SCALE ?= small
bench: venv ## Measure Tracklane beside MLflow on this machine; report in bench/results/ (BENCH_SCALE=small|full)
	BENCH_SCALE=$(BENCH_SCALE) $(VENV)/bin/python -m bench.run
