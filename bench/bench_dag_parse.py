"""DAG parse time of generated plans against the same DAGs written by hand with EmptyOperators.

50 plans of 20 waves and 100 servers (bench_plans.plan_yaml: post actions, optional servers, a
branching wave graph) become 100 DAGs through the provider's factory (YAML load, validation,
operators). The hand-written side builds, for each of those DAGs, a DAG with the same TaskGroups,
task ids and edges, every task an EmptyOperator: what a team would write without the factory. Its
structure is taken from the factory's DAGs before the clock starts; only the building is timed.
Prints JSON (best of --repeat runs each); the target is factory / hand-written <= 1.5.

Run: python bench/bench_dag_parse.py [--plans 50 --waves 20 --servers 100 --repeat 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # stdout is for the JSON only

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_plans import plan_yaml  # noqa: E402


def dag_shapes(dags: dict) -> list[dict]:
    """Each DAG's id, schedule, groups and tasks (id, group, upstream ids), in creation order."""
    shapes = []
    for dag in dags.values():
        tasks = []
        for task in dag.tasks:
            group = task.task_group.group_id if task.task_group and not task.task_group.is_root else None
            label = task.task_id.rsplit(".", 1)[-1] if group else task.task_id
            tasks.append((task.task_id, group, label, sorted(task.upstream_task_ids)))
        shapes.append({"dag_id": dag.dag_id, "tasks": tasks})
    return shapes


def build_by_hand(shapes: list[dict]) -> int:
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, TaskGroup

    built = 0
    for shape in shapes:
        with DAG(dag_id=shape["dag_id"] + "_hand", schedule=None, catchup=False) as dag:
            groups: dict[str, TaskGroup] = {}
            operators = {}
            for task_id, group, label, _ in shape["tasks"]:
                if group and group not in groups:
                    groups[group] = TaskGroup(group_id=group)
                operators[task_id] = EmptyOperator(task_id=label, task_group=groups.get(group))
            for task_id, _, _, upstream in shape["tasks"]:
                for up in upstream:
                    operators[up] >> operators[task_id]
        built += len(dag.tasks)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=50)
    parser.add_argument("--waves", type=int, default=20)
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from airflow_provider_drs.factory import load_plan_dags

    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.plans):
            Path(folder, f"plan-{i:03d}.yaml").write_text(plan_yaml(i, args.waves, args.servers))
        factory_runs, dags = [], {}
        for _ in range(args.repeat):
            start = time.perf_counter()
            dags = load_plan_dags(folder=folder)
            factory_runs.append(time.perf_counter() - start)
    shapes = dag_shapes(dags)
    hand_runs, tasks = [], 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        tasks = build_by_hand(shapes)
        hand_runs.append(time.perf_counter() - start)
    factory, hand = min(factory_runs), min(hand_runs)
    print(json.dumps({
        "benchmark": "dag_parse",
        "plans": args.plans, "waves_per_plan": args.waves, "servers_per_plan": args.servers,
        "dags": len(dags), "tasks": tasks,
        "factory_seconds": round(factory, 3), "hand_written_empty_operators_seconds": round(hand, 3),
        "ratio": round(factory / hand, 2), "target_ratio": 1.5,
        "factory_runs": [round(t, 3) for t in factory_runs], "hand_runs": [round(t, 3) for t in hand_runs],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
