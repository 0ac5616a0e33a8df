# Everything runs from a virtual environment in .venv, built on first use from
# pyproject.toml; a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# make run PORT=8080 overrides the port of web_server.toml.
PORT ?=
PYTEST_ARGS ?=
FUZZ_SECONDS ?= 60
BENCH_ARGS ?=

# Programs the tests drive for real (curl over TLS, HAProxy in front): installed
# from Debian's packages when missing and this is root with apt-get (CI is);
# elsewhere the tests that need them skip, saying which program is missing.
# COMMAND:PACKAGE where the two differ: systemd-socket-activate starts the
# socket-activation tests as systemd would (they set it up themselves without it).
SYSTEM_TOOLS := curl haproxy systemd-socket-activate:systemd

.PHONY: cluster run test trial lint typecheck check bench fuzz load clean browser-test docs reference

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat -e '.[test]'
	touch $@

## run: serve the bundled site (web_server.toml: static/ and dynamic/) on http://localhost:8000/
run: $(STAMP)
	$(BIN)/twistd --nodaemon --pidfile= minihttp --config web_server.toml $(if $(PORT),--port $(PORT))

## test: build the environment and run every test (trial's example first, then pytest)
test: $(STAMP) tools trial
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## cluster: nginx (Debian's, installed with apt when missing; RUNLEVEL=1 keeps its
## package from starting it) in front of two minihttp instances restarted one after
## the other under load, and the other long lifecycle runs
cluster: $(STAMP) tools
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  command -v apt-get >/dev/null || { echo "cluster: needs Debian's nginx, and apt-get is not here to install it" >&2; exit 1; }; \
	  apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	fi
	$(BIN)/python -m pytest -m cluster -rP $(PYTEST_ARGS)

# The third-party handler package of docs/extending.md, tested with Twisted's own runner
# on its plugin path. trial says PASSED when it finds no test at all, so a run of 0
# tests fails here.
EXAMPLE := docs/examples/minihttp-greeting
## trial: run the docs' example handler package's tests with trial
trial: $(STAMP)
	@out=$$(cd $(EXAMPLE) && PYTHONPATH=. $(CURDIR)/$(BIN)/trial \
	    --temp-directory=$(CURDIR)/$(VENV)/_trial_temp minihttp_greeting 2>&1); status=$$?; \
	echo "$$out" | tail -n 4; \
	if [ $$status -ne 0 ]; then echo "$$out"; exit $$status; fi; \
	echo "$$out" | grep -Eq '^Ran [1-9][0-9]* tests? ' || { echo "trial ran no test"; exit 1; }

BROWSER_STAMP := $(VENV)/.browser-stamp

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat -e '.[test,browser]'
	touch $@

## browser-test: the bundled site in headless Chromium (Debian's chromium, installed with apt when missing)
browser-test: $(BROWSER_STAMP)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if ! command -v apt-get >/dev/null; then \
	    echo "browser-test: needs Debian's chromium and chromium-driver, and apt-get is not here to install them" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi
	MINIHTTP_BROWSER=1 $(BIN)/python -m pytest -p no:cacheprovider tests/browser $(PYTEST_ARGS)

DOCS_STAMP := $(VENV)/.docs-stamp

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat -e '.[test,docs]'
	touch $@

## docs: the documentation site (Sphinx + MyST) in docs/_build/html, warnings as errors
# -E: read every page afresh; the table of contents depends on which pages exist.
docs: $(DOCS_STAMP)
	@command -v dot >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "docs: needs Graphviz's dot, and apt-get is not here to install it" >&2; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; }
	$(BIN)/python -m sphinx -E -W --keep-going -b html docs docs/_build/html

## bench: every workload against every server, and the in-process figure (docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## fuzz: fuzz the request parser for FUZZ_SECONDS (atheris, installed on first use; else random mutations)
fuzz: $(STAMP)
	-$(BIN)/python -m pip install --quiet atheris
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python fuzz/fuzz_parser.py

## load: the long load and leak runs (200 connections x 50 requests; 10,000 connections)
load: $(STAMP)
	MINIHTTP_LOAD=long $(BIN)/python -m pytest -p no:cacheprovider -s tests/security/test_load.py

## reference: regenerate docs/configuration.md from the settings model (a test checks it is current)
reference: $(STAMP)
	$(BIN)/python -m twisted_http.serve.reference > docs/configuration.md

.PHONY: tools
tools:
	@missing=""; for tool in $(SYSTEM_TOOLS); do \
	  command -v $${tool%%:*} >/dev/null 2>&1 || missing="$$missing $${tool#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing from Debian's packages"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "not installed:$$missing (the tests that drive them will skip)"; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check twisted_http twisted tests bench dynamic docs/_ext docs/conf.py

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) build *.egg-info docs/_build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f twisted/plugins/dropin.cache
