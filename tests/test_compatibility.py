"""The README's Compatibility table says what CI proves: its versions are the ones the Makefile and
tools/airflow_env.py install, its declared ranges are setup.cfg's, CI runs both suites, and the
CHANGELOG has an entry for the version being built."""

from __future__ import annotations

import configparser
import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def airflow_env():
    spec = importlib.util.spec_from_file_location("airflow_env", REPO / "tools" / "airflow_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compatibility_rows() -> dict[str, list[str]]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Compatibility\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_tested_airflow_versions_are_the_ones_ci_installs():
    env = airflow_env()
    declared, oldest, newest = compatibility_rows()["Airflow"]
    assert oldest == env.OLDEST["airflow"]
    assert newest == env.NEWEST["airflow"]
    makefile = (REPO / "Makefile").read_text()
    assert re.search(rf"^AIRFLOW_NEWEST := {re.escape(newest)}$", makefile, re.M)
    assert declared == f">={oldest},<4"


def test_the_declared_minimums_are_setup_cfg_s_and_are_what_the_oldest_run_pins():
    minimums = airflow_env().declared_minimums()
    rows = compatibility_rows()
    names = {"Amazon provider": "apache-airflow-providers-amazon",
             "Standard provider": "apache-airflow-providers-standard",
             "Common compat provider": "apache-airflow-providers-common-compat"}
    for row, package in names.items():
        declared, oldest, _ = rows[row]
        assert declared == f">={minimums[package]}", row
        assert oldest == minimums[package], f"{row}: the oldest run installs exactly the declared minimum"
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    assert rows["Python"][0] == config["options"]["python_requires"]


def test_ci_runs_the_suites_on_both_airflows_and_checks_the_package():
    ci = (REPO / ".ci" / "run").read_text()
    for target in ("make test ", "make test-oldest", "make test-install", "make test-stack"):
        assert target in ci, target


def test_the_changelog_has_the_version_being_built():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    version = config["metadata"]["version"]
    assert re.search(rf"^## {re.escape(version)} ", (REPO / "CHANGELOG.md").read_text(), re.M), version
