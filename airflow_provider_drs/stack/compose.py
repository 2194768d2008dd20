"""docker-compose.yaml, generated from the topology table (``stack/topology.py``).

Modelled on Airflow 3's official compose file: PostgreSQL, Redis, an init service that migrates
the database, then the API server, scheduler, dag-processor, a Celery worker and two triggerers,
plus drs-sim. The image is built from ./Dockerfile (the official Airflow image with this provider
installed). Every service has a health check; Airflow services start once PostgreSQL and Redis are
healthy and the init service has finished.
"""

from __future__ import annotations

from typing import Any

import yaml

from airflow_provider_drs.stack.topology import COMPOSE, SERVICES, Service, aws_connection

HEADER = """\
# airflow-provider-drs: the production topology for a team (CeleryExecutor, PostgreSQL, Redis,
# two triggerers, drs-sim). GENERATED from airflow_provider_drs/stack/topology.py by
#   python -m airflow_provider_drs.stack compose > docker-compose.yaml
# Edit the table there, not this file: a test checks that they agree, and `make stack` runs the
# same services as processes on one machine.
#
#   docker compose up -d     # then http://localhost:8080, user admin; the password:
#   docker compose exec airflow-apiserver cat /opt/airflow/simple_auth_manager_passwords.json.generated
#
# Settings from the environment or a .env file beside this file:
#   DRS_AWS_CONNECTION   the AWS connection (URI); default: drs-sim. For real AWS, e.g.
#                        DRS_AWS_CONNECTION=aws://?region_name=us-east-1  (credentials of the host role)
#   AIRFLOW_JWT_SECRET, AIRFLOW_API_SECRET_KEY   set both for anything but a local trial
#   DRS_SIM_TIME_SCALE, DRS_SIM_INVENTORY        drs-sim's pace and estate
#   DRS_EVENTS_QUEUE_URL the SQS queue of DRS's launch-result events (drs-plan events-setup --apply);
#                        default: none, launch waits poll
"""

IMAGE = "airflow-provider-drs:local"
SECRETS = {
    "jwt_secret": "${AIRFLOW_JWT_SECRET:-local-trial-jwt-secret-change-me}",
    "api_secret_key": "${AIRFLOW_API_SECRET_KEY:-local-trial-secret-key-change-me}",
    "aws_connection": "${DRS_AWS_CONNECTION:-%s}",
    "events_queue_url": "${DRS_EVENTS_QUEUE_URL:-}",
}
VOLUMES = ["./dags:/opt/airflow/dags", "airflow-logs:/opt/airflow/logs", "drs-reports:/opt/airflow/drs_reports"]
HEALTH_TIMING = {"interval": "10s", "timeout": "10s", "retries": 5, "start_period": "30s"}


def secrets() -> dict[str, str]:
    return {**SECRETS, "aws_connection": SECRETS["aws_connection"] % aws_connection(COMPOSE.sim)}


def healthcheck(svc: Service) -> dict[str, Any]:
    kind = svc.health[0]
    if kind == "http":
        test = ["CMD", "curl", "--fail", f"http://localhost:{COMPOSE.port(svc.name, svc.default_port)}{svc.health[1]}"]
    else:
        test = ["CMD", *svc.health[1]]
    return {"test": test, **HEALTH_TIMING}


def compose_service(svc: Service) -> dict[str, Any]:
    if svc.name == "postgres":
        return {"image": "postgres:16", "environment": {"POSTGRES_USER": "airflow", "POSTGRES_PASSWORD": "airflow",
                                                          "POSTGRES_DB": "airflow"},
                "volumes": ["postgres-db-volume:/var/lib/postgresql/data"], "healthcheck": healthcheck(svc),
                "restart": "always"}
    if svc.name == "redis":
        return {"image": "redis:7.2-bookworm", "expose": [6379], "healthcheck": healthcheck(svc), "restart": "always"}
    command = [part.format(port=COMPOSE.port(svc.name, svc.default_port or 0)) for part in svc.command]
    out: dict[str, Any] = {"build": ".", "image": IMAGE, "command": command,
                           "environment": svc.environment(COMPOSE, secrets())}
    if not svc.airflow:  # the image's entrypoint would hand any other command to `airflow`
        out["entrypoint"] = ["/usr/bin/dumb-init", "--"]
    if svc.airflow:
        out["volumes"] = list(VOLUMES)
        out["depends_on"] = {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
        if svc.name != "airflow-init":
            out["depends_on"]["airflow-init"] = {"condition": "service_completed_successfully"}
    if svc.health:
        out["healthcheck"] = healthcheck(svc)
    if svc.name in ("airflow-apiserver", "drs-sim"):
        port = COMPOSE.port(svc.name, svc.default_port)
        out["ports"] = [f"{port}:{port}"]
    if svc.name != "airflow-init":
        out["restart"] = "always"
    return out


def compose_document() -> dict[str, Any]:
    return {
        "services": {svc.name: compose_service(svc) for svc in SERVICES},
        "volumes": {"postgres-db-volume": None, "airflow-logs": None, "drs-reports": None},
    }


def render() -> str:
    body = yaml.safe_dump(compose_document(), sort_keys=False, width=120, default_flow_style=False)
    return HEADER + "---\n" + body
