# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv on first use and
# reinstall only when the package metadata changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench airflow sim clean

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sim,test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m airflow_provider_drs.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

airflow: $(STAMP)
	$(BIN)/python -m airflow_provider_drs.standalone

sim: $(STAMP)
	$(BIN)/drs-sim serve --port 4566

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
