# Outbound: `make run` starts the whole system, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto')
GEN_STAMP := gen/.stamp

.PHONY: setup tools protos run test test-unit test-integration test-e2e lint bench clean

setup: $(STAMP) $(GEN_STAMP) tools

# Debian packages the tests use as real far ends: SIPp (sip-tester) answers the SIP carrier's calls.
# Installed when missing and possible (root with apt-get); otherwise one line says what to install.
tools:
	@command -v sipp >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing sip-tester (SIPp)"; \
	    (apt-get install -y -q sip-tester >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q sip-tester >/dev/null; }); \
	  fi; \
	  command -v sipp >/dev/null 2>&1 || { echo "SIPp is missing: install the Debian package sip-tester (apt-get install sip-tester)"; exit 1; }; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[servers,dev]'
	# Generated protobuf code lives in gen/ (never committed); put it on the venv's path.
	$(BIN)/python -c "import site,os; open(os.path.join(site.getsitepackages()[0],'outbound_gen.pth'),'w').write(os.path.abspath('gen')+'\n')"
	touch $(STAMP)

protos: $(GEN_STAMP)

$(GEN_STAMP): $(PROTOS) $(STAMP)
	rm -rf gen && mkdir -p gen
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=gen --grpc_python_out=gen --pyi_out=gen $(PROTOS)
	touch $(GEN_STAMP)

run: setup
	$(BIN)/outbound run

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=25

test-unit: setup
	$(BIN)/python -m pytest -q tests/unit

test-integration: setup
	$(BIN)/python -m pytest -q tests/integration

test-e2e: setup
	$(BIN)/python -m pytest -q tests/e2e

# Guard rails: style (ruff), architecture (import-linter's contracts in pyproject.toml) and
# types (mypy, strict on kernel/, campaign_rules/ and every domain/).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench.run

# Answering-machine detection: makes the labelled set under .run/amd-set (never committed), then
# prints the detector's confusion matrix and decision times (bench/README.md, "AMD evaluation").
.PHONY: amd-eval
amd-eval: $(STAMP)
	$(BIN)/python -m bench.amd.make_set --out .run/amd-set
	$(BIN)/python -m bench.amd.evaluate --set .run/amd-set

clean:
	rm -rf gen $(VENV) .pytest_cache
