"""A hostile or mistaken plan file is refused in milliseconds, as FILE:LINE, and others still load."""

from __future__ import annotations

import time
from pathlib import Path

from airflow_provider_drs.plans import load_catalogue
from airflow_provider_drs.plans.yaml_lines import MAX_ALIAS_NODES, MAX_FILE_BYTES, MAX_NODES

HEADER = "version: 1\nplan: hostile\nregion: us-east-1\nrto_minutes: 10\n"


def laughs(levels: int) -> str:
    """The "billion laughs": each level lists the previous one ten times."""
    lines = [HEADER.rstrip("\n"), 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def only_error(path: Path):
    catalogue = load_catalogue([path])
    assert not catalogue.plans
    (error,) = catalogue.errors
    return error


def test_nested_aliases_are_refused_at_the_line_using_them(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(6))  # a million values once expanded; the unbounded loader built them all
    error = only_error(bomb)
    assert (error.file, error.line, error.path) == (str(bomb), 8, "l3")
    assert f"more than {MAX_ALIAS_NODES:,} values" in error.message and "alias" in error.message


def test_nested_merge_keys_are_refused_too(tmp_path):
    lines = [HEADER.rstrip("\n"), "m0: &m0 {" + ", ".join(f"k{i}: v" for i in range(10)) + "}"]
    for level in range(1, 7):
        lines.append(f"m{level}: &m{level}\n" + "".join(f"  x{i}: {{<<: *m{level - 1}}}\n" for i in range(10)).rstrip())
    bomb = tmp_path / "merge.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    error = only_error(bomb)
    assert "aliases expand" in error.message and error.line > 5


def test_merge_keys_still_work_and_explicit_keys_win(tmp_path):
    plan = tmp_path / "merge.yaml"
    plan.write_text(HEADER + "protection_groups:\n  db: {servers: [s-3578f52ef3bdd58b4]}\n"
                    "waves:\n  - name: db\n    protection_groups: [db]\n    post:\n"
                    "      - ssm_automation: &auto {document: AWS-RestartEC2Instance, parameters: {InstanceId: [i-1]}}\n"
                    "      - ssm_automation: {<<: *auto, parameters: {InstanceId: [i-2]}}\n")
    catalogue = load_catalogue([plan])
    assert catalogue.errors == []
    first, second = (action.spec for action in catalogue.plans["hostile"].waves[0].post)
    assert second.document == first.document == "AWS-RestartEC2Instance"
    assert (first.parameters, second.parameters) == ({"InstanceId": ["i-1"]}, {"InstanceId": ["i-2"]})


def test_too_many_values_without_any_alias(tmp_path):
    plan = tmp_path / "huge.yaml"
    plan.write_text(HEADER + "protection_groups:\n  db:\n    servers:\n" + "    - s\n" * (MAX_NODES + 10))
    assert plan.stat().st_size < MAX_FILE_BYTES
    error = only_error(plan)
    assert f"more than {MAX_NODES:,} values" in error.message and error.line > 5


def test_a_file_over_the_size_limit_is_not_read(tmp_path):
    plan = tmp_path / "big.yaml"
    plan.write_text(HEADER + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    error = only_error(plan)
    assert error.line == 1 and f"over the limit of {MAX_FILE_BYTES:,} bytes" in error.message


def test_validate_answers_a_billion_laughs_in_well_under_a_second(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(9))
    started = time.perf_counter()
    error = only_error(bomb)
    elapsed = time.perf_counter() - started
    assert "aliases expand" in error.message
    assert elapsed < 5, elapsed  # generous for a busy CI machine; unbounded, this took minutes and 9 GB
