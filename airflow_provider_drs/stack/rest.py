"""A small client of Airflow's REST API (v2), for the stack tests, benchmarks and scripts: trigger
a plan DAG, wait for it, answer its approval, cancel it, read its task instances."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

FINISHED = {"success", "failed"}


class AirflowApiError(RuntimeError):
    pass


class AirflowRestClient:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30):
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 401 and auth:
                self._token = None
            raise AirflowApiError(f"{method} {path}: HTTP {error.code}: {error.read().decode(errors='replace')}") from None
        return json.loads(raw) if raw else None

    def token(self) -> str:
        if self._token is None:
            self._token = self._request("POST", "/auth/token", self._credentials, auth=False)["access_token"]
        return self._token

    # --- DAGs and runs ----------------------------------------------------------------------------
    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self._request("GET", "/api/v2/dags?limit=1000")["dags"]}

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not dag_ids <= self.dag_ids():
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAGs not parsed within {timeout:.0f} s: {sorted(dag_ids - self.dag_ids())}")
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600, poll: float = 1.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f} s: {self.task_states(dag_id, run_id)}")
            time.sleep(poll)

    def runs(self, dag_id: str, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The DAG's runs, newest first."""
        query = f"?order_by=-start_date&limit={limit}" + (f"&state={state}" if state else "")
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns{query}")["dag_runs"]

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}", {"state": state})

    # --- task instances ---------------------------------------------------------------------------
    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=1000"
        return self._request("GET", path)["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def wait_for_task_state(self, dag_id: str, run_id: str, task_id: str, states: set[str],
                            timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = {ti["task_id"]: ti for ti in self.task_instances(dag_id, run_id)}.get(task_id)
            if found and found["state"] in states:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{task_id} not in {sorted(states)} after {timeout:.0f} s: {found and found['state']}")
            time.sleep(0.5)

    def answer(self, dag_id: str, run_id: str, task_id: str, choice: str) -> dict[str, Any]:
        """Answer a human-in-the-loop task (Approve / Reject), as the UI does."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/-1/hitlDetails"
        return self._request("PATCH", path, {"chosen_options": [choice]})
