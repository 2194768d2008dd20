"""Orchestration overhead on the production topology (native stack) against dag.test(); prints JSON.

A 5-wave chain plan (2 servers a wave, drs-sim at --time-scale) is drilled once on the native
Celery stack (PostgreSQL, Redis, two triggerers) and once under dag.test() on SQLite, same
simulator settings. Figures:
- per wave: wall time (upstream wave's end -> this wave's wait_for_launch end) minus its DRS job
  time (job creation -> job end), median and max; also the part inside the wave (start_recovery
  start -> wait end) minus the job time;
- drill wall time (run start -> run end) against the DRS critical path (sum of the chain's job
  times), as a ratio;
- Celery worker slots busy while a wave waits (sampled with `inspect active` once a
  wait_for_launch has been deferred for 2 s): deferrable waits should hold none.

Run: python bench/bench_stack.py [--time-scale 2] [--skip-dag-test]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WAVES, PER_WAVE = 5, 2
DAG_ID = "drs_bench_chain_drill"
# Where a wave's overhead goes: scheduling its start task after the upstream wave ended; the start
# task up to StartRecovery (safety reads, adoption lookup); the DRS job's end to the wait's end
# (noticing it, then resuming the sensor on a worker).
PARTS = ("upstream_end_to_start_task", "start_task_to_start_recovery", "job_end_to_wave_end")


def servers() -> list[list[str]]:
    return [[f"s-bench{w * PER_WAVE + s:012d}" for s in range(PER_WAVE)] for w in range(WAVES)]


def write_estate(folder: Path) -> tuple[Path, Path]:
    """A dags folder with the chain plan, and an inventory of its servers."""
    dags = folder / "dags"
    (dags / "plans").mkdir(parents=True)
    shutil.copy(REPO / "dags" / "recovery_plans.py", dags)
    lines = ["version: 1", "plan: bench-chain", "region: us-east-1", "rto_minutes: 60", "protection_groups:"]
    lines += [f"  g{w}: {{servers: [{', '.join(ids)}]}}" for w, ids in enumerate(servers())]
    lines.append("waves:")
    for w in range(WAVES):
        lines += [f"  - name: w{w}", f"    protection_groups: [g{w}]"] + ([f"    depends_on: [w{w - 1}]"] if w else [])
    (dags / "plans" / "bench-chain.yaml").write_text("\n".join(lines) + "\n")
    inventory = folder / "inventory.yaml"
    inventory.write_text("version: 1\ndefaults:\n  launch: {snapshot: 1.0, conversion: 2.5, launch: 1.5}\n  jitter: 0.1\n"
                         "source_servers:\n" + "".join(f"  - {{id: {sid}, hostname: BENCH-{sid[-3:]}}}\n"
                                                       for ids in servers() for sid in ids))
    return dags, inventory


def seconds(start: str, end: str) -> float:
    parse = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def figures(tis: dict[str, tuple[str, str]], jobs: list[dict], run: tuple[str, str]) -> dict:
    """Overheads from task instance times (task -> (start, end)) and the run's DRS jobs."""
    wave_of = {frozenset(ids): f"w{w}" for w, ids in enumerate(servers())}
    job_of = {wave_of[frozenset(s["sourceServerID"] for s in j["participatingServers"])]: j for j in jobs}
    job_time = {wave: seconds(j["creationDateTime"], j["endDateTime"]) for wave, j in job_of.items()}
    inclusive, inside = [], []
    parts: dict[str, list[float]] = {name: [] for name in PARTS}
    for w in range(WAVES):
        ready = tis[f"w{w - 1}.wait_for_launch"][1] if w else tis["preflight"][1]
        start, wait, job = tis[f"w{w}.start_recovery"], tis[f"w{w}.wait_for_launch"], job_of[f"w{w}"]
        inclusive.append(seconds(ready, wait[1]) - job_time[f"w{w}"])
        inside.append(seconds(start[0], wait[1]) - job_time[f"w{w}"])
        for name, value in zip(PARTS, (seconds(ready, start[0]), seconds(start[0], job["creationDateTime"]),
                                       seconds(job["endDateTime"], wait[1]))):
            parts[name].append(value)
    critical_path = sum(job_time.values())
    wall = seconds(*run)
    return {
        "overhead_per_wave_seconds": {"median": round(statistics.median(inclusive), 2), "max": round(max(inclusive), 2),
                                      "each": [round(x, 2) for x in inclusive]},
        "overhead_inside_wave_seconds": {"median": round(statistics.median(inside), 2), "max": round(max(inside), 2)},
        "overhead_parts_median_seconds": {name: round(statistics.median(v), 2) for name, v in parts.items()},
        "drill_wall_seconds": round(wall, 1), "drs_critical_path_seconds": round(critical_path, 1),
        "wall_to_critical_path_ratio": round(wall / critical_path, 2),
    }


def on_stack(dags: Path, inventory: Path, time_scale: float) -> dict:
    from celery import Celery

    from airflow_provider_drs.simulator import SimulatorClient
    from airflow_provider_drs.stack.native import ADMIN, NativeStack
    from airflow_provider_drs.stack.rest import AirflowRestClient
    from tests.stack.estate import Estate

    with NativeStack(dags, sim_time_scale=time_scale, sim_inventory=inventory, log=lambda m: print(m, file=sys.stderr)) as stack:
        api = AirflowRestClient(stack.api_url, ADMIN, stack.password)
        api.wait_for_dags({DAG_ID})
        api.unpause(DAG_ID)
        celery = Celery(broker=f"redis://{stack.endpoints.redis}/0")
        samples: list[int] = []
        run_id = api.trigger(DAG_ID)
        done = threading.Event()

        busy_with: list[str] = []
        deferred_since: dict[str, float] = {}

        def waiting() -> set[str]:
            return {task for task, state in api.task_states(DAG_ID, run_id).items()
                    if task.endswith("wait_for_launch") and state == "deferred"}

        def sample():
            # Steady state only: waves deferred for 2 s or more, before and after asking the worker.
            # (A task that has just deferred, or finished, keeps its Celery slot for a moment while
            # Airflow's supervisor notices its process exit: up to [workers] min_heartbeat_interval.)
            while not done.is_set():
                now, before = time.monotonic(), waiting()
                for wave in before:
                    deferred_since.setdefault(wave, now)
                if before and min(now - deferred_since[w] for w in before) >= 2.0:
                    active = celery.control.inspect(timeout=1.0).active() or {}
                    if before <= waiting():
                        tasks = [t for worker in active.values() for t in worker]
                        samples.append(len(tasks))
                        busy_with.extend(f"{workload_task(t)} while {sorted(before)}" for t in tasks)
                time.sleep(1.5)  # sparingly: sampling loads the API server and the worker too

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run = api.wait_for_run(DAG_ID, run_id, timeout=900)
        done.set()
        sampler.join(timeout=10)
        tis = {ti["task_id"]: (ti["start_date"], ti["end_date"]) for ti in api.task_instances(DAG_ID, run_id)
               if ti["start_date"]}
        jobs = Estate(stack.sim_url).run_jobs(DAG_ID, run_id)
        out = figures(tis, jobs, (run["start_date"], run["end_date"]))
        out.update({"run_state": run["state"], "startup_to_healthy_seconds": round(stack.healthy_after, 1),
                    "busy_worker_slots_while_waiting": {"max": max(samples, default=None), "samples": len(samples),
                                                        "busy_with": busy_with[:5]},
                    "start_recovery_calls": SimulatorClient(stack.sim_url).calls().get("StartRecovery")})
        return out


def workload_task(celery_task: dict) -> str:
    """The Airflow task a Celery task runs (its workload names the task instance)."""
    try:
        workload = json.loads(celery_task["args"][0])
        return workload.get("ti", {}).get("task_id") or workload.get("type", "?")
    except (KeyError, IndexError, TypeError, ValueError):
        return str(celery_task.get("name"))


def under_dag_test(dags: Path, inventory: Path, time_scale: float) -> dict:
    """The same drill under dag.test() on SQLite, in a fresh process (Airflow reads its config once)."""
    out = subprocess.run([sys.executable, __file__, "--dag-test-child", str(dags), str(inventory), str(time_scale)],
                         capture_output=True, text=True, timeout=900, cwd=REPO)
    if out.returncode:
        raise SystemExit(f"dag.test run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def dag_test_child(dags: str, inventory: str, time_scale: float) -> None:
    from airflow_provider_drs.demo import migrate_db, output_to, prepare_airflow_env
    from airflow_provider_drs.simulator import simulator
    from airflow_provider_drs.simulator.inventory import load_inventory

    home = Path(tempfile.mkdtemp(prefix="bench-dagtest-"))
    with simulator(load_inventory(inventory), time_scale=time_scale) as sim:
        prepare_airflow_env(home, Path(dags), sim.endpoint_url, min_poll_interval=2.0)
        os.environ["AIRFLOW__DRS__MAX_POLL_INTERVAL"] = "30"
        migrate_db()
        from airflow.dag_processing.dagbag import DagBag
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session

        with output_to(home / "airflow.log"):
            dag_run = DagBag(dag_folder=dags).dags[DAG_ID].test()
        with create_session() as session:
            tis = {ti.task_id: (ti.start_date.isoformat(), ti.end_date.isoformat())
                   for ti in session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=dag_run.run_id)
                   if ti.start_date and ti.end_date}
        from tests.stack.estate import Estate

        jobs = Estate(sim.endpoint_url).run_jobs(DAG_ID, dag_run.run_id)
        result = figures(tis, jobs, (dag_run.start_date.isoformat(), dag_run.end_date.isoformat()))
        result["run_state"] = str(getattr(dag_run.state, "value", dag_run.state))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=2.0)
    parser.add_argument("--skip-dag-test", action="store_true")
    parser.add_argument("--dag-test-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.dag_test_child:
        dag_test_child(args.dag_test_child[0], args.dag_test_child[1], float(args.dag_test_child[2]))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    dags, inventory = write_estate(folder)
    result = {"plan": f"{WAVES} waves in a chain, {PER_WAVE} servers each", "time_scale": args.time_scale,
              "native_stack": on_stack(dags, inventory, args.time_scale)}
    if not args.skip_dag_test:
        result["dag_test"] = under_dag_test(dags, inventory, args.time_scale)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
