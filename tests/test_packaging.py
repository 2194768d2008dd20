"""The wheel carries its package data, and the provider is registered with Airflow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA_FILES = ["airflow_provider_drs/simulator/default_inventory.yaml",
              "airflow_provider_drs/reports/templates/run_report.html.j2",
              "airflow_provider_drs/reports/templates/history.html.j2"]
# What a clean clone holds: the wheel is built from a copy without them. Built in the checkout itself, a
# build/ or *.egg-info left by another venv's setuptools (make test, then make test-oldest) broke the build.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                    "node_modules", "*.pyc")
# The module's tests on one worker: one wheel build per run, not one per worker.
pytestmark = pytest.mark.xdist_group("wheel-build")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "airflow-provider-drs"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(source)], check=True, timeout=300)
    (built,) = out.glob("airflow_provider_drs-*.whl")
    return built


def test_wheel_ships_package_data_and_entry_points(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for data_file in DATA_FILES:
        assert data_file in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "provider_info = airflow_provider_drs.get_provider_info:get_provider_info" in text
    assert "drs-sim = airflow_provider_drs.simulator.cli:main" in text
    assert "drs-plan = airflow_provider_drs.cli:main" in text
    assert not any(n.startswith(("tests/", "bench/", "dags/")) for n in names)


def test_wheel_installed_in_a_fresh_venv_finds_its_data(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, timeout=300)
    # Only the package's own files are checked: its dependencies are not in this bare venv.
    probe = ("import importlib.resources as r, json; "
             "root = r.files('airflow_provider_drs'); "
             f"print(json.dumps({{f: root.joinpath(f.split('/', 1)[1]).is_file() for f in {DATA_FILES!r}}}))")
    out = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path,
                         timeout=60).stdout
    assert json.loads(out) == dict.fromkeys(DATA_FILES, True)


def test_airflow_lists_the_provider_with_its_parts():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-drs" in manager.providers
    info = manager.providers["airflow-provider-drs"].data
    assert "airflow_provider_drs.triggers.drs" in info["triggers"][0]["python-modules"]
    assert "airflow_provider_drs.triggers.native_plan" in info["triggers"][0]["python-modules"]
    assert "airflow_provider_drs.links.drs.DrsJobLink" in info["extra-links"]
