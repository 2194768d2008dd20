"""DRS's "DRS Source Server Launch Result" event, published to the embedded moto's EventBridge the
moment a server's drill or recovery launch ends, so an EventBridge rule and SQS queue created
through the simulator receive it as they would from DRS.

The event has the shape of the DRS user guide's sample (``detail.state``
RECOVERY_LAUNCH_SUCCEEDED | RECOVERY_LAUNCH_FAILED, ``detail.job-id``, ``detail.is-drill``, the
source server ARN in ``resources``, ``time`` the launch's end). EventBridge delivery is best effort:
``delay`` holds each event back that many seconds and ``loss_rate`` drops that share of them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from . import moto_bridge
from .ids import ACCOUNT_ID, arn

if TYPE_CHECKING:
    from .jobs import Job, ServerRun
    from .state import DrsState

log = logging.getLogger(__name__)

SOURCE = "aws.drs"
DETAIL_TYPE = "DRS Source Server Launch Result"
KEEP_DELIVERIES = 20_000  # the most recent deliveries kept for inspection (benchmarks)
PUT_EVENTS_BATCH = 10     # PutEvents takes at most 10 entries


def launch_result_detail(job: Job, run: ServerRun) -> dict[str, str]:
    state = "RECOVERY_LAUNCH_SUCCEEDED" if run.outcome == "LAUNCHED" else "RECOVERY_LAUNCH_FAILED"
    return {"state": state, "job-id": job.job_id, "is-drill": "TRUE" if job.is_drill else "FALSE"}


class LaunchEventPublisher:
    """A thread that publishes each LAUNCH job's per-server results when they are due."""

    def __init__(self, drs: DrsState, seed: int = 0):
        self.drs = drs
        self.delay, self.loss_rate = 0.0, 0.0
        self.rng = random.Random(f"events/{seed}")
        self._due: list[tuple[float, int, str, Job, ServerRun]] = []   # (when, seq, "end"|"deliver", ...)
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self.published = self.lost = 0
        self._generation = 0
        self.deliveries: deque[dict] = deque(maxlen=KEEP_DELIVERIES)

    def configure(self, delay: float | None = None, loss_rate: float | None = None) -> None:
        if delay is not None:
            if delay < 0:
                raise ValueError("delay must be >= 0")
            self.delay = delay
        if loss_rate is not None:
            if not 0 <= loss_rate <= 1:
                raise ValueError("loss_rate must be within 0..1")
            self.loss_rate = loss_rate

    def job_started(self, job: Job) -> None:
        if job.type != "LAUNCH":
            return  # DRS announces launch results only
        with self._wake:
            for run in job.servers:
                heapq.heappush(self._due, (run.end, next(self._seq), "end", job, run))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="drs-sim-launch-events", daemon=True)
                self._thread.start()
            self._wake.notify()

    def reset(self) -> None:
        with self._wake:
            self._due.clear()
            self.deliveries.clear()
            self.published = self.lost = 0
            self.delay, self.loss_rate = 0.0, 0.0
            self._generation += 1  # a delivery already taken off the queue belongs to the state before

    def describe(self) -> dict:
        with self._wake:
            return {"delay": self.delay, "loss_rate": self.loss_rate, "published": self.published,
                    "lost": self.lost, "pending": len(self._due), "deliveries": list(self.deliveries)}

    def _loop(self) -> None:
        while True:
            due: list[tuple[Job, ServerRun]] = []
            with self._wake:
                while not self._due or self._due[0][0] > time.time():
                    self._wake.wait(timeout=None if not self._due else max(0.0, self._due[0][0] - time.time()))
                generation = self._generation
                while self._due and self._due[0][0] <= time.time():  # everything due: one batch
                    _, _, kind, job, run = heapq.heappop(self._due)
                    if kind == "deliver":
                        due.append((job, run))
                    elif self.rng.random() < self.loss_rate:
                        self.lost += 1
                    else:
                        heapq.heappush(self._due, (run.end + self.delay, next(self._seq), "deliver", job, run))
            if due:
                try:
                    self._deliver(due, generation)
                except Exception:  # e.g. moto reset under a delivery: those events are lost, the thread lives on
                    log.exception("drs-sim launch events: %d not delivered", len(due))
                    with self._wake:
                        self.lost += len(due)

    def _deliver(self, due: list[tuple[Job, ServerRun]], generation: int) -> None:
        with self._wake:
            if generation != self._generation:
                return  # reset since these were due: the jobs they announce are gone
        for region in {job.region for job, _ in due}:
            self.drs.advance(region)  # the recovery instances exist before DRS says they launched
        for start in range(0, len(due), PUT_EVENTS_BATCH):
            batch = due[start:start + PUT_EVENTS_BATCH]
            for region in {job.region for job, _ in batch}:
                moto_bridge.put_events(region, [
                    (SOURCE, DETAIL_TYPE, launch_result_detail(job, run),
                     [arn(job.region, "source-server", run.source_server_id)], run.end)
                    for job, run in batch if job.region == region])
            delivered_at = time.time()
            with self._wake:
                if generation != self._generation:
                    return
                self.published += len(batch)
                self.deliveries.extend(
                    {"job_id": job.job_id, "source_server_id": run.source_server_id, "outcome": run.outcome,
                     "ended_at": run.end, "delivered_at": delivered_at, "account": ACCOUNT_ID}
                    for job, run in batch)
