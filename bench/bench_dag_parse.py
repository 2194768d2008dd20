"""DAG parse time of generated plans against the same DAGs written by hand with EmptyOperators.

50 plans of 20 waves and 100 servers (bench_plans.plan_yaml: post actions, optional servers, a
branching wave graph) become 100 DAGs through the provider's factory (YAML load, validation,
operators). The hand-written side builds, for each of those DAGs, a DAG with the same TaskGroups,
task ids, edges and DAG settings (schedule, default_args, tags, docs, the trigger form's params),
every task an EmptyOperator: what a team would write without the factory. (Params count: Airflow
deep-copies a DAG's params into every task it builds, so leaving them out timed a DAG no team runs.) Its structure is taken from the factory's DAGs before
the clock starts; only the building is timed.
Each build runs in a fresh process, as a dag-processor parse does. Prints JSON (best of --repeat
runs each); the target is factory / hand-written <= 1.5.

Run: python bench/bench_dag_parse.py [--plans 50 --waves 20 --servers 100 --repeat 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # stdout is for the JSON only

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_plans import plan_yaml, size_arguments  # noqa: E402

SHAPES = "shapes.pickle"  # beside the plans: not a .yaml file, so the catalogue ignores it


def dag_shapes(dags: dict) -> list[dict]:
    """Each DAG's id, schedule, groups and tasks (id, group, upstream ids), in creation order."""
    shapes = []
    for dag in dags.values():
        tasks = []
        for task in dag.tasks:
            group = task.task_group.group_id if task.task_group and not task.task_group.is_root else None
            label = task.task_id.rsplit(".", 1)[-1] if group else task.task_id
            tasks.append((task.task_id, group, label, sorted(task.upstream_task_ids)))
        settings = {"description": dag.description, "schedule": dag.timetable, "start_date": dag.start_date,
                    "catchup": dag.catchup, "max_active_runs": dag.max_active_runs, "tags": sorted(dag.tags),
                    "doc_md": dag.doc_md, "default_args": dict(dag.default_args),
                    "params": {key: dag.params.get_param(key) for key in dag.params}}
        shapes.append({"dag_id": dag.dag_id, "settings": settings, "tasks": tasks})
    return shapes


def build_by_hand(shapes: list[dict]) -> int:
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, TaskGroup

    built = 0
    for shape in shapes:
        with DAG(dag_id=shape["dag_id"] + "_hand", **shape["settings"]) as dag:
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


def timed_build(side: str, folder: str, shapes_file: str) -> float:
    """One fresh process's build, as a dag-processor parse of the dags file is: imports first, untimed."""
    from airflow_provider_drs.factory import load_plan_dags

    shapes = pickle.loads(Path(shapes_file).read_bytes()) if side == "hand" else None
    start = time.perf_counter()
    if side == "factory":
        load_plan_dags(folder=folder)
    else:
        build_by_hand(shapes)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(parser)
    parser.add_argument("--side", choices=("factory", "hand"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:  # a timed run, in its own process
        print(timed_build(args.side, args.folder, str(Path(args.folder) / SHAPES)))
        return 0

    from airflow_provider_drs.factory import load_plan_dags

    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.plans):
            Path(folder, f"plan-{i:03d}.yaml").write_text(plan_yaml(i, args.waves, args.servers))
        dags = load_plan_dags(folder=folder)
        shapes = dag_shapes(dags)
        Path(folder, SHAPES).write_bytes(pickle.dumps(shapes))
        tasks = sum(len(shape["tasks"]) for shape in shapes)
        runs: dict[str, list[float]] = {"factory": [], "hand": []}
        for _ in range(args.repeat):
            for side in runs:
                out = subprocess.run([sys.executable, __file__, "--side", side, "--folder", folder],
                                     check=True, capture_output=True, text=True).stdout
                runs[side].append(float(out.strip().splitlines()[-1]))
    factory, hand = min(runs["factory"]), min(runs["hand"])
    print(json.dumps({
        "benchmark": "dag_parse",
        "plans": args.plans, "waves_per_plan": args.waves, "servers_per_plan": args.servers,
        "dags": len(dags), "tasks": tasks,
        "factory_seconds": round(factory, 3), "hand_written_empty_operators_seconds": round(hand, 3),
        "ratio": round(factory / hand, 2), "target_ratio": 1.5,
        "factory_runs": [round(t, 3) for t in runs["factory"]], "hand_runs": [round(t, 3) for t in runs["hand"]],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
