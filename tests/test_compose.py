"""docker-compose.yaml is the topology table, and so is the native stack: same commands and settings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from airflow_provider_drs.stack import compose
from airflow_provider_drs.stack.native import NativeStack
from airflow_provider_drs.stack.topology import COMPOSE, SERVICES, TRIGGERERS, resolved_command

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "docker-compose.yaml"


def test_the_committed_file_is_generated_from_the_table():
    assert COMMITTED.read_text() == compose.render(), (
        "docker-compose.yaml differs from stack/topology.py: run "
        "`python -m airflow_provider_drs.stack compose > docker-compose.yaml`")


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed (.ci/run installs it)")
def test_a_real_compose_parser_accepts_it():
    out = subprocess.run(["docker-compose", "-f", str(COMMITTED), "config"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    assert set(services) == {s.name for s in SERVICES}
    assert all("healthcheck" in services[s.name] for s in SERVICES if s.name != "airflow-init")


def test_the_topology_is_production_shaped():
    document = yaml.safe_load(COMMITTED.read_text())
    services = document["services"]
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert len(TRIGGERERS) == 2 and all(services[t]["command"] == ["airflow", "triggerer"] for t in TRIGGERERS)
    assert services["airflow-apiserver"]["healthcheck"]["test"][-1] == "http://localhost:8080/api/v2/version"
    assert "./dags:/opt/airflow/dags" in services["airflow-worker"]["volumes"]
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in COMMITTED.read_text()
    assert all(services[s]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
               for s in services if s.startswith("airflow-") and s != "airflow-init")
    # The switch to real AWS: one variable, from the environment or a .env file.
    assert env["AIRFLOW_CONN_AWS_DEFAULT"].startswith("${DRS_AWS_CONNECTION:-aws://")


def test_the_native_stack_runs_the_same_commands_and_settings(tmp_path):
    """Native and compose differ only in where things are: endpoints, ports, paths, secrets."""
    native = NativeStack(REPO / "dags", root=tmp_path)
    ep, secrets = native.endpoints, dict(native.secrets)
    to_compose = {
        ep.postgres: COMPOSE.postgres, ep.redis: COMPOSE.redis, ep.api: COMPOSE.api,
        quote(ep.sim, safe=""): quote(COMPOSE.sim, safe=""), ep.sim: COMPOSE.sim,
        ep.airflow_home: COMPOSE.airflow_home, ep.dags_folder: COMPOSE.dags_folder,
        secrets["jwt_secret"]: compose.SECRETS["jwt_secret"], secrets["api_secret_key"]: compose.SECRETS["api_secret_key"],
    }

    ports = {str(ep.ports[s.name]): str(s.default_port) for s in SERVICES if s.default_port}

    def as_compose(key: str, value: str) -> str:
        if key.endswith("_PORT"):
            return ports[value]
        if key == "AIRFLOW_CONN_AWS_DEFAULT":
            return compose.secrets()["aws_connection"]
        if key == "AIRFLOW__DRS__EVENTS_QUEUE_URL":  # none natively; compose takes it from the environment
            assert value == ""
            return compose.SECRETS["events_queue_url"]
        if key in ("DRS_SIM_TIME_SCALE", "DRS_SIM_INVENTORY"):
            return COMPOSE.sim_time_scale if key == "DRS_SIM_TIME_SCALE" else COMPOSE.sim_inventory
        for native_value, compose_value in sorted(to_compose.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(native_value, compose_value)
        return value

    services = yaml.safe_load(COMMITTED.read_text())["services"]
    for svc in SERVICES:
        if not svc.command:
            continue  # postgres and redis: official images there, distribution packages here
        native_env = svc.environment(ep, secrets)
        assert set(native_env) == set(services[svc.name]["environment"]), svc.name
        assert {k: as_compose(k, v) for k, v in native_env.items()} == services[svc.name]["environment"], svc.name
        assert [ports.get(part, part) for part in resolved_command(svc, ep)] == services[svc.name]["command"], svc.name
        assert native.env_of(svc.name).items() >= native_env.items()  # what the process really gets
