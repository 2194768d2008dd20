"""A drill whose AWS connection's IAM user lacks part of the plan's policy still runs, and its
report carries preflight's warning naming exactly the missing actions."""

from __future__ import annotations

import json

from airflow_provider_drs.reports.run_report import format_table
from tests.e2e.helpers import read_report, run_dag, task_states

LACKING = {"ec2:DeleteVolume", "drs:TagResource"}


def test_drill_report_warns_of_the_actions_the_connection_lacks(dagbag, airflow_sim, monkeypatch):
    policy = dagbag.dags["drs_diamond_drill"].get_task("preflight").iam_policy()  # what the factory builds at run time
    statements = [{k: v for k, v in {**s, "Action": [a for a in s["Action"] if a not in LACKING]}.items() if k != "Sid"}
                  for s in policy["Statement"] if set(s["Action"]) - LACKING]
    statements.append({"Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": "*"})
    iam = airflow_sim.client("iam")
    iam.create_user(UserName="dr-airflow")
    iam.put_user_policy(UserName="dr-airflow", PolicyName="almost",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName="dr-airflow")["AccessKey"]
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": key["AccessKeyId"], "password": key["SecretAccessKey"],
        "extra": {"endpoint_url": airflow_sim.endpoint_url, "region_name": "us-east-1"}}))

    dag_run = run_dag(dagbag, "drs_diamond_drill")

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)  # a warning, not a stop
    report = read_report(dag_run)
    [finding] = [f for f in report["readiness"] if f["check"] == "permissions"]
    assert finding["stopped_the_run"] is False
    assert "arn:aws:iam::123456789012:user/dr-airflow lacks 2 action(s)" in finding["message"]
    for action in LACKING:
        assert action in finding["message"]
    assert f"WARNING permissions: {finding['message']}" in format_table(report)  # the report's table and e-mail
