"""`make demo`: rehearse the three-tier plan's drill end to end on this machine, no AWS account.

Starts the DRS simulator, points the Airflow connection `aws_default` at it, runs the DAG
`drs_three_tier_drill` through Airflow (SQLite, `dag.test()`), prints the per-server table and the
achieved RTO from the run's report, and stops the simulator.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def prepare_airflow_env(home: Path, dags_folder: Path, endpoint_url: str, min_poll_interval: float) -> dict[str, str]:
    """Environment for an Airflow on SQLite whose `aws_default` connection is the simulator.
    Must be set before Airflow is imported: its configuration is read at import time."""
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DRS__MIN_POLL_INTERVAL": str(min_poll_interval),
        "AIRFLOW__DRS__MAX_POLL_INTERVAL": str(max(min_poll_interval, 5.0)),
        "AIRFLOW__DRS__RTO_DEADLINE": "False",  # the demo runs dag.test(), which cannot run deadlines
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
        }),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(env)
    return env


def migrate_db() -> None:
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def output_to(path: Path):
    """Send this process's stdout and stderr (Airflow's task logs) to a file for the block."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("w") as log:
        os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def run_dag(dag_id: str, dags_folder: Path, run_conf: dict | None = None):
    from airflow_provider_drs.version_compat import dag_bag

    bag = dag_bag(str(dags_folder))
    if dag_id not in bag.dags:
        raise SystemExit(f"{dag_id} not found in {dags_folder}; import errors: {bag.import_errors}")
    return bag.dags[dag_id].test(run_conf=run_conf or None)


def point_in_time(value: str) -> str:
    """``90m`` -> the ISO time 90 minutes ago; anything else as given (the DAG validates it)."""
    if value.endswith("m") and value[:-1].isdigit():
        at = datetime.now(timezone.utc) - timedelta(minutes=int(value[:-1]))
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def listen(sim, topic_arn: str):
    """An SQS queue subscribed to the plan's topic; returns a reader of the subjects it got."""
    sqs = sim.client("sqs")
    url = sqs.create_queue(QueueName="demo-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sim.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return lambda: [json.loads(m["Body"]).get("Subject") for m in
                    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_drs.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dag-id", default="drs_three_tier_drill")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulator durations x this (<1 is faster)")
    parser.add_argument("--home", default=str(REPO / ".demo" / "airflow_home"))
    parser.add_argument("--point-in-time", metavar="WHEN",
                        help="the run's point_in_time: latest (default), an ISO time, or MINUTES ago "
                             "(e.g. 90m: the last snapshot taken at least 90 minutes ago)")
    args = parser.parse_args(argv)

    from airflow_provider_drs.simulator import simulator

    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=True)
    dags_folder = REPO / "dags"
    started = time.monotonic()
    with simulator(time_scale=args.time_scale) as sim:
        prepare_airflow_env(home, dags_folder, sim.endpoint_url, min_poll_interval=1.0)
        print(f"drs-sim serving the reference inventory on {sim.endpoint_url} (time scale {args.time_scale})")
        migrate_db()
        inbox = listen(sim, "arn:aws:sns:us-east-1:123456789012:dr-notify")
        log = home.parent / "demo-airflow.log"
        print(f"Airflow on SQLite in {home}; running {args.dag_id} (Airflow's log: {log}) ...", flush=True)
        run_conf = {"point_in_time": point_in_time(args.point_in_time)} if args.point_in_time else None
        if run_conf:
            print(f"point_in_time: {run_conf['point_in_time']}")
        with output_to(log):
            dag_run = run_dag(args.dag_id, dags_folder, run_conf)

        from airflow_provider_drs.reports.storage import report_path
        from airflow_provider_drs.reports.run_report import format_table

        path = report_path(args.dag_id, dag_run.run_id)
        print()
        print(f"DAG run {dag_run.run_id}: {dag_run.state}  ({time.monotonic() - started:.0f} s)")
        if not path.exists():
            print(f"no report at {path}")
            return 1
        report = json.loads(path.read_text())
        print(format_table(report))
        print(f"\nReport: {path}\nReport page: {path.with_suffix('.html')}")
        left = [i for r in sim.client("ec2").describe_instances()["Reservations"] for i in r["Instances"]
                if i["State"]["Name"] != "terminated"]
        print(f"EC2 instances still running in the simulator after cleanup: {len(left)}")
        for subject in inbox():
            print(f"SNS notification to dr-notify: {subject}")
    return 0 if str(dag_run.state) in ("success", "DagRunState.SUCCESS") else 1


if __name__ == "__main__":
    sys.exit(main())
