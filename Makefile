# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv on first use and
# reinstall only when the package metadata changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-orders test test-oldest test-airflow dist test-install test-stack stack stack-deps bench airflow sim clean

# The newest Airflow CI proves (README: Compatibility); the oldest is in tools/airflow_env.py.
AIRFLOW_NEWEST := 3.3.2

$(STAMP): setup.cfg pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sim,test,stack]' 'apache-airflow==$(AIRFLOW_NEWEST)'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m airflow_provider_drs.demo

# The orders plan's drill (dags/plans/orders.yaml: launch settings with an isolated drill network,
# health-gated waves, drill-only steps) from the last snapshot taken 90 minutes ago.
demo-orders: $(STAMP)
	$(BIN)/python -m airflow_provider_drs.demo --dag-id drs_orders_drill --point-in-time 90m

# The default suites spread over PYTEST_WORKERS processes (pytest-xdist); each has its own
# AIRFLOW_HOME, metadata database and simulator (tests/conftest.py). Most of a DAG test's time is
# waiting on the simulator's clock, so a worker more than the cores still pays.
PYTEST_WORKERS ?= 3
XDIST := -n $(PYTEST_WORKERS) --dist loadgroup

test: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) --ignore=tests/stack $(PYTEST_ARGS)

# The oldest supported Airflow (README: Compatibility) in its own venv, as a team's image holds it,
# with the provider's declared minimum providers; the same suites as `make test`.
OLDEST := .venv-oldest
$(OLDEST)/.installed: setup.cfg pyproject.toml tools/airflow_env.py
	rm -rf $(OLDEST)
	$(PYTHON) tools/airflow_env.py oldest $(OLDEST)
	@touch $@

test-oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -m pytest -q $(XDIST) --ignore=tests/stack $(PYTEST_ARGS)

# Any other release: make test-airflow AIRFLOW=3.2.0 FROZEN=2026-03-30 (its first release candidate's day)
test-airflow:
	rm -rf .venv-airflow-$(AIRFLOW)
	$(PYTHON) tools/airflow_env.py oldest .venv-airflow-$(AIRFLOW) --airflow $(AIRFLOW) --frozen $(FROZEN)
	.venv-airflow-$(AIRFLOW)/bin/python -m pytest -q $(XDIST) --ignore=tests/stack $(PYTEST_ARGS)

# The sdist and wheel users install, checked by twine; then the wheel alone in a clean venv holding the
# newest tested Airflow: what it moves there, and a smoke test of the installed provider.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

test-install: dist
	rm -rf .venv-wheel
	$(PYTHON) tools/airflow_env.py wheel .venv-wheel dist/*.whl

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
	rm -rf $(VENV) $(OLDEST) .venv-wheel .venv-airflow-* build dist *.egg-info .pytest_cache
