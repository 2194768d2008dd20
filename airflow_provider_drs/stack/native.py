"""The production topology as real processes on this machine (``make stack``, the stack tests).

PostgreSQL and Redis run as the current user (PostgreSQL as its ``postgres`` system user when we
are root: it refuses to run as root) in a fresh directory, on free loopback ports; then drs-sim,
the database migration, and Airflow with CeleryExecutor: API server, scheduler, dag-processor, one
Celery worker and two triggerers, each with the command and settings of ``topology.SERVICES``.

Every process is started in its own process group and stopped by group (SIGTERM, then SIGKILL),
on ``stop()``, on leaving the ``with`` block, on Ctrl-C and on SIGTERM. Services can be killed and
restarted one by one (the fault matrix).
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from airflow_provider_drs.stack.topology import SERVICES, TRIGGERERS, Endpoints, Service, resolved_command

ADMIN = "admin"
STOP_GRACE_SECONDS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if found:
        return found[-1]
    located = shutil.which(tool)
    if not located:
        raise RuntimeError(f"PostgreSQL's {tool} not found: install PostgreSQL (apt-get install postgresql)")
    return located


class NativeStack:
    """The topology as processes. Use as a context manager, or ``start()`` and ``stop()``.

    :param root: a directory of its own (logs, data, AIRFLOW_HOME); a temporary one by default.
    :param dags_folder: the dags folder (with ``recovery_plans.py`` and ``plans/``).
    :param sim_time_scale: drs-sim's pace (1: the reference durations, a launch in about 6 s).
    :param sim_inventory: drs-sim's estate (an inventory YAML); its reference one by default.
    """

    def __init__(self, dags_folder: str | os.PathLike[str], root: str | os.PathLike[str] | None = None,
                 sim_time_scale: float = 1.0, sim_inventory: str | os.PathLike[str] | None = None,
                 log=print):
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="drs-stack-"))
        self.dags_folder = Path(dags_folder).resolve()
        self.log = log
        self.processes: dict[str, subprocess.Popen] = {}
        ports = {svc.name: free_port() for svc in SERVICES if svc.default_port}
        self.endpoints = Endpoints(
            postgres=f"127.0.0.1:{ports['postgres']}", redis=f"127.0.0.1:{ports['redis']}",
            api=f"127.0.0.1:{ports['airflow-apiserver']}", sim=f"http://127.0.0.1:{ports['drs-sim']}",
            airflow_home=str(self.root / "airflow"), dags_folder=str(self.dags_folder), ports=ports,
            sim_time_scale=str(sim_time_scale), sim_inventory=str(sim_inventory or ""),
        )
        self.secrets = {"jwt_secret": secrets.token_urlsafe(32), "api_secret_key": secrets.token_urlsafe(32)}
        self.password = secrets.token_urlsafe(12)
        self._pg_root: Path | None = None  # PostgreSQL's data, outside root when run as its own user
        self.started_at: float | None = None
        self.healthy_after: float | None = None

    # --- addresses ------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://{self.endpoints.api}"

    @property
    def sim_url(self) -> str:
        return self.endpoints.sim

    @property
    def reports_folder(self) -> Path:
        return Path(self.endpoints.airflow_home) / "drs_reports"

    def env_of(self, name: str) -> dict[str, str]:
        svc = next(s for s in SERVICES if s.name == name)
        bin_dir = str(Path(sys.executable).parent)
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        return {**base, "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}",
                **svc.environment(self.endpoints, self.secrets)}

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> NativeStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.started_at = time.monotonic()
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        Path(self.endpoints.airflow_home).mkdir(parents=True, exist_ok=True)
        passwords = Path(self.endpoints.airflow_home) / "simple_auth_manager_passwords.json.generated"
        passwords.write_text(json.dumps({ADMIN: self.password}))
        self._start_postgres()
        self._launch("redis", ["redis-server", "--port", str(self.endpoints.port("redis", 0)), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no"])
        self._launch("drs-sim")
        self.wait_healthy(["postgres", "redis", "drs-sim"], timeout=60)
        self._create_database()
        init = subprocess.run(resolved_command(self._svc("airflow-init"), self.endpoints), env=self.env_of("airflow-init"),
                              cwd=self.endpoints.airflow_home, stdout=self._logfile("airflow-init"),
                              stderr=subprocess.STDOUT, timeout=600)
        if init.returncode:
            raise RuntimeError(f"airflow db migrate failed; see {self.root / 'logs' / 'airflow-init.log'}")
        for svc in SERVICES:
            if svc.airflow and svc.name != "airflow-init":
                self._launch(svc.name)
        self.wait_healthy([s.name for s in SERVICES if s.name not in ("airflow-init",)], timeout=240)
        self.healthy_after = time.monotonic() - self.started_at
        self.log(f"drs stack healthy after {self.healthy_after:.1f} s: {self.api_url} (user {ADMIN}, password "
                 f"{self.password}); drs-sim {self.sim_url}; logs in {self.root / 'logs'}")

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop_service(name)
        if self._pg_root is not None:
            shutil.rmtree(self._pg_root, ignore_errors=True)

    def stop_service(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def kill(self, name: str) -> None:
        """SIGKILL a service and every process of its group (a machine or container lost)."""
        self.stop_service(name, signal.SIGKILL)

    def restart(self, name: str) -> None:
        self.stop_service(name)
        self._launch(name)

    # --- health -----------------------------------------------------------------------------------
    def wait_healthy(self, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            for name in list(pending):
                proc = self.processes.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.root / 'logs' / name}.log")
                if self.is_healthy(name):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {timeout:.0f} s: {', '.join(pending)}; logs in {self.root / 'logs'}")
            if pending:
                time.sleep(0.5)

    def is_healthy(self, name: str) -> bool:
        """The service's health check from the table, run here. Checks that would start an Airflow
        CLI (about 3 s of CPU each) are answered from the same facts: the job table, the worker's log."""
        svc = self._svc(name)
        kind = svc.health[0] if svc.health else None
        try:
            if name == "postgres":
                return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.endpoints.port(name, 0))],
                                      capture_output=True).returncode == 0
            if name == "redis":
                return subprocess.run(["redis-cli", "-p", str(self.endpoints.port(name, 0)), "ping"],
                                      capture_output=True, text=True).stdout.strip() == "PONG"
            if kind == "http":
                url = f"http://127.0.0.1:{self.endpoints.port(name, svc.default_port)}{svc.health[1]}"
                with urllib.request.urlopen(url, timeout=3) as response:
                    return response.status == 200
            if name == "airflow-worker":
                return " ready." in (self.root / "logs" / f"{name}.log").read_text(errors="replace")
            if name == "airflow-dag-processor":
                return self.alive_jobs("DagProcessorJob") >= 1
            if name in TRIGGERERS:
                return self.alive_jobs("TriggererJob") >= len(TRIGGERERS)
        except (OSError, ValueError):
            return False
        return True

    def alive_jobs(self, job_type: str, within_seconds: float = 15) -> int:
        return int(self.sql(f"select count(*) from job where job_type = '{job_type}' and state = 'running' "
                            f"and latest_heartbeat > now() - interval '{within_seconds} seconds'") or 0)

    def sql(self, query: str) -> str:
        """Run one query on the metadata database; the first column of the first row, as text."""
        host, port = self.endpoints.postgres.split(":")
        out = subprocess.run(["psql", "-h", host, "-p", port, "-U", "airflow", "-d", "airflow", "-tA", "-c", query],
                             env={**os.environ, "PGPASSWORD": "airflow"}, capture_output=True, text=True, timeout=30)
        if out.returncode:
            raise ValueError(out.stderr.strip())
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""

    # --- processes ------------------------------------------------------------------------------
    def _svc(self, name: str) -> Service:
        return next(s for s in SERVICES if s.name == name)

    def _logfile(self, name: str):
        return open(self.root / "logs" / f"{name}.log", "ab")

    def _launch(self, name: str, argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> None:
        argv = argv or resolved_command(self._svc(name), self.endpoints)
        with self._logfile(name) as log:
            self.processes[name] = subprocess.Popen(
                argv, env=dict(env or self.env_of(name)), cwd=self.endpoints.airflow_home, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=die_with_parent)

    def _start_postgres(self) -> None:
        pg_root = self.root
        as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own system user, in a
            as_user = ["runuser", "-u", "postgres", "--"]  # directory that user can reach
            pg_root = self._pg_root = Path(tempfile.mkdtemp(prefix="drs-stack-pg-"))
            os.chmod(pg_root, 0o755)
        data, sockets = pg_root / "pgdata", pg_root / "pgsocket"
        for folder in (data, sockets):
            folder.mkdir(exist_ok=True)
            if as_user:
                shutil.chown(folder, "postgres")
        subprocess.run([*as_user, postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8"], check=True, stdout=self._logfile("postgres"), stderr=subprocess.STDOUT)
        self._launch("postgres", [*as_user, postgres_bin("postgres"), "-D", str(data),
                                  "-p", str(self.endpoints.port("postgres", 0)), "-k", str(sockets),
                                  "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                  "-c", "synchronous_commit=off", "-c", "max_connections=300"], env=os.environ)

    def _create_database(self) -> None:
        host, port = self.endpoints.postgres.split(":")
        for statement in ("create user airflow with password 'airflow'", "create database airflow owner airflow"):
            subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-c", statement], check=True,
                           capture_output=True)


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a service's process, before it runs (Linux): SIGTERM it when the process that started
    the stack dies, even by SIGKILL, where no handler of ours can run. Each service runs in its
    own session (to be stopped by process group), so nothing else would reach it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: stopping relies on stop() and the signal handlers
        pass


def stop_on_signals(stack: NativeStack, exit: Callable[[int], Any] = sys.exit) -> dict[int, Any]:
    """Ctrl-C and SIGTERM stop every process of the stack, then ``exit(128 + signal)``; return the
    handlers they replace."""

    def handler(signum, _frame):
        stack.stop()
        exit(128 + signum)

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
