"""What waiting on DRS costs, with jobs that look like real DRS, polling only and with events.

A real launch job takes 10-20 minutes of conversion plus minutes of launch. Here every job has one
server whose phases last 60 s (snapshot), 660 s (conversion) and 180 s (launch), +-20 %: 15 minutes.
Time is scaled by --scale (default 0.1) in the simulator and in every interval of the wait alike
(min/max poll 2/30 s, events safety net 60 s), so a 15-minute job runs in about 90 s and call
rates are reported per real-time minute (calls / (wall seconds / scale / 60)).

For 1, 20, 200 and 2,000 concurrent jobs, one DrsJobTrigger each, all in one event loop (one
triggerer), against `drs-sim serve` in its own process:
- DescribeJobs calls per real-time minute (per triggerer);
- DescribeJobLogItems, DescribeRecoveryInstances and SQS calls per job;
- completion-noticed latency: from the job's last server LAUNCHED (the simulator's launch end) to
  the trigger's event (after its final reads), median / p95 / max, in wall seconds; with events,
  also from the delivery of the job's last event to the trigger's event. Polling latencies scale
  with the intervals: divide by --scale for the real-time figure (reported too).
Then one triggerer holding 500 concurrent waits on unscaled 15-minute jobs, for --steady seconds:
its extra RSS and its CPU share of one core, polling only and with events.
Prints one JSON document.

Run: python bench/bench_job_waits.py [--scale 0.1] [--counts 1,20,200,2000] [--modes polling,events]
     [--waits 500 --steady 60]
"""

from __future__ import annotations

import os

os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # stdout is for the JSON only
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import psutil
import yaml

from airflow_provider_drs.hooks.drs_events import events_setup_template
from airflow_provider_drs.simulator import SimulatorClient
from airflow_provider_drs.triggers.drs import DrsJobTrigger

PHASES = {"snapshot": 60.0, "conversion": 660.0, "launch": 180.0}
INTERVALS = {"min_poll_interval": 2.0, "max_poll_interval": 30.0, "events_poll_interval": 60.0}


def server_id(n: int) -> str:
    return f"s-{n:017x}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_simulator(servers: int, workdir: Path) -> tuple[subprocess.Popen, str]:
    inventory = {
        "version": 1,
        "defaults": {"launch": PHASES, "jitter": 0.2},
        "source_servers": [{"id": server_id(n), "hostname": f"BENCH-{n:05d}"} for n in range(servers)],
    }
    path = workdir / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_drs.simulator.cli", "serve", "--port", str(port),
         "--inventory", str(path), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            SimulatorClient(url).health()
            return proc, url
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("drs-sim did not start")
            time.sleep(0.2)


def client(url: str, service: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def prepare(url: str, scale: float, events: bool) -> str | None:
    """A fresh simulator at this scale; with events, the rule and queue of events-setup."""
    sim = SimulatorClient(url)
    sim.reset()
    sim.set_time_scale(scale)
    if not events:
        return None
    cfn = client(url, "cloudformation")
    cfn.create_stack(StackName="drs-events", TemplateBody=json.dumps(events_setup_template()))
    outputs = cfn.describe_stacks(StackName="drs-events")["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "QueueUrl")


def start_jobs(url: str, count: int) -> list[str]:
    drs = client(url, "drs")

    def start(n: int) -> str:
        return drs.start_recovery(sourceServers=[{"sourceServerID": server_id(n)}], isDrill=True)["job"]["jobID"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(start, range(count)))


def trigger(job_id: str, scale: float, queue_url: str | None) -> DrsJobTrigger:
    return DrsJobTrigger(job_ids=[job_id], aws_conn_id="aws_bench", region_name="us-east-1",
                         events_queue_url=queue_url, **{k: v * scale for k, v in INTERVALS.items()})


def quantiles(values: list[float]) -> dict:
    if not values:
        return {}
    values = sorted(values)
    return {"median": round(statistics.median(values), 3), "p95": round(values[int(0.95 * (len(values) - 1))], 3),
            "max": round(values[-1], 3), "samples": len(values)}


async def wait_all(job_ids: list[str], scale: float, queue_url: str | None) -> dict[str, tuple[dict, float]]:
    async def one(job_id: str) -> tuple[str, dict, float]:
        async for event in trigger(job_id, scale, queue_url).run():
            return job_id, event.payload, time.time()

    return {job_id: (payload, at) for job_id, payload, at in await asyncio.gather(*(one(j) for j in job_ids))}


def run_case(url: str, count: int, scale: float, mode: str) -> dict:
    queue_url = prepare(url, scale, mode == "events")
    sim = SimulatorClient(url)
    job_ids = start_jobs(url, count)
    before, started = sim.calls(), time.monotonic()
    outcomes = asyncio.run(wait_all(job_ids, scale, queue_url))
    elapsed, after = time.monotonic() - started, sim.calls()
    deadline = time.monotonic() + 60  # a wait may end on a read before the simulator published its event
    while sim.launch_event_stats()["pending"] and time.monotonic() < deadline:
        time.sleep(0.5)
    deliveries = sim.launch_event_stats()["deliveries"]
    ended = {d["job_id"]: d["ended_at"] for d in deliveries}
    delivered = {d["job_id"]: d["delivered_at"] for d in deliveries}
    from_launch, from_delivery, settled = [], [], {}
    for job_id, (payload, at) in outcomes.items():
        assert payload["status"] == "success", payload["message"]
        settled[payload["jobs"][job_id]["settled_by"]] = settled.get(payload["jobs"][job_id]["settled_by"], 0) + 1
        if job_id in ended:
            from_launch.append(at - ended[job_id])
        if mode == "events" and payload["jobs"][job_id]["settled_by"] == "events" and job_id in delivered:
            from_delivery.append(at - delivered[job_id])
    calls = {op: after.get(op, 0) - before.get(op, 0) for op in after}
    real_minutes = elapsed / scale / 60
    case = {
        "mode": mode, "jobs": count, "wall_seconds": round(elapsed, 1), "real_minutes": round(real_minutes, 1),
        "settled_by": settled,
        "describe_jobs_per_real_minute": round(calls.get("DescribeJobs", 0) / real_minutes, 2),
        "describe_jobs_calls": calls.get("DescribeJobs", 0),
        "per_job": {op: round(calls.get(op, 0) / count, 2) for op in
                    ("DescribeJobLogItems", "DescribeRecoveryInstances", "sqs:ReceiveMessage",
                     "sqs:DeleteMessageBatch", "sqs:ChangeMessageVisibilityBatch")},
        "noticed_after_launch_seconds": quantiles(from_launch),
    }
    if mode == "polling":
        case["noticed_after_launch_real_seconds"] = quantiles([v / scale for v in from_launch])
    else:
        case["noticed_after_delivery_seconds"] = quantiles(from_delivery)
    print(json.dumps(case), file=sys.stderr, flush=True)  # progress: the full document comes at the end
    return case


async def hold_waits(job_ids: list[str], queue_url: str | None, steady: float) -> dict:
    process = psutil.Process()
    rss_before = process.memory_info().rss
    tasks = [asyncio.ensure_future(_first(trigger(j, 1.0, queue_url))) for j in job_ids]
    await asyncio.sleep(10)  # every wait registered, clients open, first reads done
    cpu_before, at = process.cpu_times(), time.monotonic()
    await asyncio.sleep(steady)
    cpu_after, span = process.cpu_times(), time.monotonic() - at
    rss_after = process.memory_info().rss
    done = sum(t.done() for t in tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return {"extra_rss_mb": round((rss_after - rss_before) / 2**20, 1), "cpu_share_of_a_core": round(cpu / span, 4),
            "measured_seconds": round(span, 1), "waits_finished_early": done}


async def _first(trigger_: DrsJobTrigger) -> dict:
    async for event in trigger_.run():
        return event.payload


def run_waits(url: str, waits: int, steady: float, mode: str) -> dict:
    queue_url = prepare(url, 1.0, mode == "events")
    sim = SimulatorClient(url)
    job_ids = start_jobs(url, waits)
    before = sim.calls()
    figures = asyncio.run(hold_waits(job_ids, queue_url, steady))
    after = sim.calls()
    figures.update({"mode": mode, "waits": waits,
                    "describe_jobs_calls": after.get("DescribeJobs", 0) - before.get("DescribeJobs", 0)})
    print(json.dumps(figures), file=sys.stderr, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--counts", default="1,20,200,2000")
    parser.add_argument("--modes", default="polling,events")
    parser.add_argument("--waits", type=int, default=500)
    parser.add_argument("--steady", type=float, default=60.0)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",") if c]
    modes = [m for m in args.modes.split(",") if m]
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_simulator(max(counts + [args.waits]), Path(tmp))
        os.environ["AIRFLOW_CONN_AWS_BENCH"] = json.dumps(
            {"conn_type": "aws", "login": "testing", "password": "testing",
             "extra": {"endpoint_url": url, "region_name": "us-east-1"}})
        try:
            cases = [run_case(url, count, args.scale, mode) for mode in modes for count in counts]
            holding = [run_waits(url, args.waits, args.steady, mode) for mode in modes] if args.waits else []
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(10)
    print(json.dumps({
        "benchmark": "drs_job_waits",
        "job_phases_seconds": PHASES, "jitter": 0.2, "time_scale": args.scale,
        "wait_intervals_seconds_unscaled": INTERVALS,
        "targets": {"events": {"noticed_after_delivery_median": 0.5, "noticed_after_delivery_p95": 1.0,
                               "describe_jobs_per_real_minute_at_200_and_2000": 2},
                    "holding_500": {"extra_rss_mb": 100, "cpu_share_of_a_core": 0.05}},
        "cases": cases,
        "holding": holding,
    }, indent=2))


if __name__ == "__main__":
    main()
