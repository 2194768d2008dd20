"""A plan DAG's task graph as Mermaid (``drs-plan graph --dag``; the graphs in docs/)."""

from __future__ import annotations

from typing import Any


def dag_mermaid(dag: Any) -> str:
    """Every task (wave tasks inside their wave's subgraph) and every edge, in a stable order.
    Teardown tasks are drawn with a dashed border, as Airflow's graph view does."""
    ids = {task_id: f"t{i}" for i, task_id in enumerate(sorted(dag.task_dict))}
    lines = ["flowchart LR"]
    groups: dict[str, list[str]] = {}
    for task_id in sorted(dag.task_dict):
        group, _, _ = task_id.rpartition(".")
        groups.setdefault(group, []).append(task_id)
    for number, (group, task_ids) in enumerate(groups.items()):
        pad = "    " if not group else "        "
        if group:  # by number: a wave may be named like a Mermaid keyword ("end")
            lines.append(f'    subgraph g{number}["{group}"]')
        for task_id in task_ids:
            lines.append(f'{pad}{ids[task_id]}["{task_id.rpartition(".")[2]}"]')
        if group:
            lines.append("    end")
    for task_id in sorted(dag.task_dict):
        for downstream in sorted(dag.task_dict[task_id].downstream_task_ids):
            lines.append(f"    {ids[task_id]} --> {ids[downstream]}")
    teardowns = [ids[t] for t in sorted(dag.task_dict) if dag.task_dict[t].is_teardown]
    if teardowns:
        lines.append("    classDef teardown stroke-dasharray:4 3")
        lines.append(f"    class {','.join(teardowns)} teardown")
    return "\n".join(lines) + "\n"
