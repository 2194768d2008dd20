# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv on first use and
# reinstall only when the package metadata changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-stack stack stack-deps bench airflow sim clean

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sim,test,stack]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m airflow_provider_drs.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/stack $(PYTEST_ARGS)

# The production topology as processes: PostgreSQL, Redis, Celery, two triggerers, drs-sim;
# Chromium for the browser test of the UI tabs.
stack-deps:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v redis-server >/dev/null \
	    || ! command -v chromium >/dev/null; then \
	  echo "installing PostgreSQL, Redis and Chromium (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql redis-server chromium; \
	fi

stack: $(STAMP) stack-deps
	$(BIN)/python -m airflow_provider_drs.stack

test-stack: $(STAMP) stack-deps
	$(BIN)/python -m pytest -q -s tests/stack $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

airflow: $(STAMP)
	$(BIN)/python -m airflow_provider_drs.standalone

sim: $(STAMP)
	$(BIN)/drs-sim serve --port 4566

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
