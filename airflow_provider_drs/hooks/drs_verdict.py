"""The verdict on a finished DRS job, shared by the start operator (waiting itself) and the sensor:
a critical server that did not launch fails the task; an optional one only warns. Also how the
tasks read id lists given in any of the forms a template may render."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.hooks.drs_results import describe_failure, failed_servers


def as_id_list(value: Any) -> list[str]:
    """Server or job ids given as a list, a JSON list (a rendered template) or comma-separated."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [str(v) for v in json.loads(text)]
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(v) for v in value]


def judge_results(task: Any, job_ids: Sequence[str], results: Mapping[str, Mapping[str, Any]], optional: Sequence[str]) -> None:
    """Apply the failure policy: a critical server that did not launch fails the task (no retry:
    the job is over, polling it again changes nothing); an optional one only warns."""
    critical, tolerated = failed_servers(results, optional)
    jobs = ", ".join(job_ids)
    for result in tolerated:
        task.log.warning("drs.optional_server_failed job_id=%s %s", jobs, describe_failure(result))
    launched = [sid for sid, r in results.items() if r["launch_status"] == "LAUNCHED"]
    task.log.info("drs.job_judged job_id=%s launched=%d failed=%d optional_failed=%d",
                  jobs, len(launched), len(critical), len(tolerated))
    if critical:
        lines = "\n".join(f"  - {describe_failure(r)}" for r in critical)
        raise AirflowFailException(
            f"DRS job {jobs}: {len(critical)} critical server(s) did not launch:\n{lines}\n"
            "See the job log in the DRS console; fix the launch settings or mark the server optional."
        )
