"""Running the simulator: uvicorn in the foreground (``drs-sim serve``) or in a daemon thread
(``with simulator() as sim:`` in tests and notebooks)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import uvicorn

from .app import DEFAULT_REGION, SimulatorApp
from .inventory import Inventory
from .simulation import Control, Simulation

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _config(app: SimulatorApp, log_level: str) -> uvicorn.Config:
    # No access log and no lifespan: per-request overhead matters for polling-heavy clients.
    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")


def serve(simulation: Simulation, host: str, port: int, log_level: str = "info", access_log: bool = False) -> None:
    if access_log:  # our own access lines name the operation; uvicorn's would show only the path
        logging.basicConfig(format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("drs_sim.access").setLevel(logging.INFO)
    uvicorn.Server(_config(SimulatorApp(simulation, access_log), log_level)).run(sockets=[_bind(host, port)])


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@dataclass
class RunningSimulator:
    endpoint_url: str
    region: str
    control: Control
    simulation: Simulation

    def client(self, service: str, region: str | None = None, **kwargs):
        """A boto3 client for ``service`` pointed at this simulator, with dummy credentials."""
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=region or self.region,
                            **{**DUMMY_CREDENTIALS, **kwargs})


@contextlib.contextmanager
def simulator(inventory: Inventory | str | Path | dict | None = None, time_scale: float = 1.0, seed: int = 0,
              region: str = DEFAULT_REGION, host: str = "127.0.0.1", port: int = 0,
              startup_timeout: float = 15.0, access_log: bool = False) -> Iterator[RunningSimulator]:
    """Start a simulator on a free loopback port for the duration of the block."""
    simulation = Simulation(inventory, time_scale, seed)
    sock = _bind(host, port)
    server = uvicorn.Server(_config(SimulatorApp(simulation, access_log), "warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="drs-sim", daemon=True)
    thread.start()
    endpoint_url = f"http://{host}:{sock.getsockname()[1]}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                urllib.request.urlopen(endpoint_url + "/_sim/health", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or not thread.is_alive():
                    raise RuntimeError(f"drs-sim did not answer on {endpoint_url}") from None
                time.sleep(0.02)
        yield RunningSimulator(endpoint_url, region, Control(simulation), simulation)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
