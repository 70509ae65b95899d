# Outbound: `make run` starts the whole system, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto')
GEN_STAMP := gen/.stamp

.PHONY: setup tools web protos run test test-unit test-integration test-e2e lint bench clean

setup: $(STAMP) $(GEN_STAMP) tools web

# Front-end packages from the npm registry (web/package.json, exact versions in its lock file),
# copied to gateway/static/vendor (never committed) and served by the gateway itself: the
# dashboard and /api/docs work without internet. Install scripts are not run.
WEB_STAMP := gateway/static/vendor/.stamp
web: $(WEB_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js with npm (apt-get install nodejs npm)"; exit 1; }
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf gateway/static/vendor && mkdir -p gateway/static/vendor/swagger-ui
	cp web/node_modules/alpinejs/dist/cdn.min.js gateway/static/vendor/alpine.min.js
	cp web/node_modules/chart.js/dist/chart.umd.min.js gateway/static/vendor/chart.umd.min.js
	cp web/node_modules/axe-core/axe.min.js gateway/static/vendor/axe.min.js
	mkdir -p gateway/static/vendor/eventsource-parser
	cp web/node_modules/eventsource-parser/dist/*.js gateway/static/vendor/eventsource-parser/
	cp web/node_modules/swagger-ui-dist/swagger-ui-bundle.js web/node_modules/swagger-ui-dist/swagger-ui.css \
	   web/node_modules/swagger-ui-dist/favicon-32x32.png gateway/static/vendor/swagger-ui/
	touch $(WEB_STAMP)

# Debian packages the tests use as real parts: SIPp (sip-tester) answers the SIP carrier's calls,
# Chromium renders the dashboard and the API docs in the browser tests (Playwright drives it).
# Installed when missing and possible (root with apt-get); otherwise one line says what to install.
tools:
	@$(MAKE) --no-print-directory debian-tool CMD=sipp PKG=sip-tester WHAT=SIPp
	@$(MAKE) --no-print-directory debian-tool CMD=chromium PKG=chromium WHAT=Chromium

.PHONY: debian-tool
debian-tool:
	@command -v $(CMD) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(PKG) ($(WHAT))"; \
	    (apt-get install -y -q $(PKG) >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $(PKG) >/dev/null; }); \
	  fi; \
	  command -v $(CMD) >/dev/null 2>&1 || { echo "$(WHAT) is missing: install the Debian package $(PKG) (apt-get install $(PKG))"; exit 1; }; }

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

# Two workers, a module whole in one of them; tests/conftest.py keeps some modules one after another.
test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=25 -n 2 --dist loadgroup

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
	rm -rf gen $(VENV) .pytest_cache web/node_modules gateway/static/vendor
