"""The provider declares every [drs] setting it reads, and Airflow shows them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_drs.get_provider_info import get_provider_info

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_provider_drs"
README = PACKAGE.parent / "README.md"


def options_read_by_the_code() -> dict[str, str]:
    """option -> where: every conf.get*("drs", "<option>", ...) call in the package."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr.startswith("get") and len(node.args) >= 2
                    and all(isinstance(a, ast.Constant) for a in node.args[:2]) and node.args[0].value == "drs"):
                found[node.args[1].value] = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
    return found


def test_every_setting_the_code_reads_is_declared_with_a_description():
    declared = get_provider_info()["config"]["drs"]["options"]
    read = options_read_by_the_code()
    assert len(read) >= 7  # the scan finds the calls (it would pass vacuously otherwise)
    assert {o: w for o, w in read.items() if o not in declared} == {}
    assert sorted(declared) == sorted(read), "declared but never read"
    for name, option in declared.items():
        assert option["description"] and option["type"] in ("string", "float", "integer", "boolean"), name


def test_readme_settings_table_lists_every_option():
    rows = {line.split("|")[1].strip().strip("`") for line in README.read_text().splitlines()
            if line.startswith("| `")}
    assert set(get_provider_info()["config"]["drs"]["options"]) <= rows


def test_airflow_config_list_shows_the_section():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__DRS__")}
    command = [sys.executable, "-m", "airflow", "config", "list", "--section", "drs", "--include-descriptions"]
    usage = subprocess.run([*command[:5], "--help"], env=env, capture_output=True, text=True, timeout=120)
    if "--show-values" in usage.stdout:  # Airflow 3.2+ hides values unless asked; 3.1 always shows them
        command.append("--show-values")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in get_provider_info()["config"]["drs"]["options"]:
        assert f"{name} =" in result.stdout, (name, result.stdout[-3000:])
    assert "metrics_namespace = DRSOrchestration" in result.stdout
    assert "Where run reports (JSON and HTML) are written" in result.stdout
