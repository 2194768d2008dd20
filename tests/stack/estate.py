"""What happened, read from the simulator's side: the jobs DRS started, the instances it runs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from airflow_provider_drs.reports import storage
from airflow_provider_drs.hooks.drs_safety import RunRef
from airflow_provider_drs.simulator.server import DUMMY_CREDENTIALS

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"


class Estate:
    def __init__(self, sim_url: str):
        self.sim_url = sim_url
        self.drs, self.ec2 = self.client("drs"), self.client("ec2")

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.sim_url, region_name="us-east-1", **DUMMY_CREDENTIALS)

    def jobs(self, kind: str = "LAUNCH") -> list[dict]:
        return [j for j in self.drs.describe_jobs()["items"] if j["type"] == kind]

    def run_jobs(self, dag_id: str, run_id: str) -> list[dict]:
        return [j for j in self.jobs() if RunRef.from_tags(j.get("tags")) == RunRef(dag_id, run_id)]

    def duplicate_launches(self) -> list[tuple]:
        """(run, servers) launched more than once: a StartRecovery that should have been adopted."""
        keys = Counter((RunRef.from_tags(j.get("tags")) or j["jobID"],
                        frozenset(s["sourceServerID"] for s in j["participatingServers"])) for j in self.jobs())
        return [key for key, count in keys.items() if count > 1]

    def instances(self) -> list[dict]:
        return self.drs.describe_recovery_instances()["items"]

    def ec2_states(self) -> dict[str, str]:
        return {i["InstanceId"]: i["State"]["Name"] for r in self.ec2.describe_instances()["Reservations"]
                for i in r["Instances"]}

    def live_drill_instances(self) -> list[dict]:
        states = self.ec2_states()
        return [i for i in self.instances() if i["isDrill"] and states.get(i["ec2InstanceID"]) == "running"]

    def live_recovery_instances(self) -> dict[str, str]:
        """recovery instance id -> EC2 id of every running non-drill instance."""
        states = self.ec2_states()
        return {i["recoveryInstanceID"]: i["ec2InstanceID"] for i in self.instances()
                if not i["isDrill"] and states.get(i["ec2InstanceID"]) == "running"}


def report_path(airflow_home: Path, dag_id: str, run_id: str) -> Path:
    """Where the stack's report task wrote a run's report (its AIRFLOW_HOME is not ours)."""
    return Path(airflow_home) / "drs_reports" / storage.report_path(dag_id, run_id).relative_to(storage.reports_folder())


def read_report(airflow_home: Path, dag_id: str, run_id: str) -> dict:
    return json.loads(report_path(airflow_home, dag_id, run_id).read_text())
