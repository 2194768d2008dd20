"""One receiver of DRS launch-result events per triggerer process and queue.

Every DrsJobTrigger with an events queue holds the receiver of its event loop for that queue; the
receiver long-polls SQS while anyone holds it and hands each launch result to the job pollers of
its loop (``triggers.drs_poller``). Several triggerers share one queue, and SQS gives each message
to one receiver, so a message is:
- consumed (deleted) by the triggerer whose poller watches its job;
- handed back (made visible again) by any other, at once for its first few receives, then after a
  growing delay, so a triggerer that watches the job takes it within a receive or two and an event
  nobody watches does not spin;
- deleted once UNCLAIMED_EVENT_SECONDS old, claimed or not: every triggerer has had its chance,
  and a wait that starts later reads its job with DescribeJobs first, so nothing piles up and
  nothing is missed.
A message that is not a DRS launch result is never deleted (it is someone else's: the queue should
be dedicated, and a warning says so once); it is handed back after MAX_HAND_BACK_SECONDS.
Events only speed waits up: if the queue cannot be read, the waits poll as they do without one,
and go back to events once it can.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_drs.hooks.drs_events import UNCLAIMED_EVENT_SECONDS, LaunchEventQueue, QueuedEvent
from airflow_provider_drs.hooks.drs_wait import PollingPolicy
from airflow_provider_drs.triggers.drs_poller import JobPoller

log = logging.getLogger(__name__)

# Receives of one message during which another triggerer may take it at once; then it waits.
IMMEDIATE_HAND_BACKS = 4
MAX_HAND_BACK_SECONDS = 10
# After a round with nothing of its own, a receiver lets the others' long polls take the handed-back
# messages before it asks again.
YIELD_SECONDS = 0.2
MAX_ERROR_BACKOFF = 30.0


def hand_back_delay(event: QueuedEvent) -> int:
    """Seconds before a message this triggerer does not want is visible again."""
    if event.receive_count <= IMMEDIATE_HAND_BACKS:
        return 0
    return min(MAX_HAND_BACK_SECONDS, 2 ** (event.receive_count - IMMEDIATE_HAND_BACKS - 1))


class LaunchEventReceiver:
    """Long-polls one events queue for the job pollers of one event loop."""

    _registry: dict[tuple, LaunchEventReceiver] = {}

    def __init__(self, key: tuple, queue: LaunchEventQueue, loop: asyncio.AbstractEventLoop):
        self.key, self.queue, self.loop = key, queue, loop
        self.holders: dict[int, tuple[PollingPolicy, float | None]] = {}
        self._task: asyncio.Task | None = None
        self.healthy = True
        self.warned_foreign = False

    @classmethod
    def for_queue(cls, queue_url: str, hook_params: dict[str, Any]) -> LaunchEventReceiver:
        loop = asyncio.get_running_loop()
        key = (id(loop), queue_url, tuple(sorted((k, repr(v)) for k, v in hook_params.items())))
        receiver = cls._registry.get(key)
        if receiver is None or receiver.loop is not loop:
            receiver = cls._registry[key] = cls(key, LaunchEventQueue(queue_url, **hook_params), loop)
        return receiver

    def hold(self, policy: PollingPolicy) -> None:
        """A wait relies on this queue: receive while it lasts; its policy polls as without events
        while the queue cannot be read."""
        self.holders[id(policy)] = (policy, policy.events_interval)
        if not self.healthy:
            policy.events_interval = None
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._run(), name="drs-launch-events")

    def release(self, policy: PollingPolicy) -> None:
        self.holders.pop(id(policy), None)

    async def _run(self) -> None:
        errors = 0
        try:
            async with self.queue.async_client() as client:
                while self.holders:
                    try:
                        events = await self.queue.receive(client)
                        await self._dispatch(client, events)
                    except (ClientError, BotoCoreError, OSError, asyncio.TimeoutError) as error:
                        errors += 1
                        self._set_healthy(False, error)
                        await asyncio.sleep(min(MAX_ERROR_BACKOFF, 2.0 ** errors))
                        continue
                    errors = 0
                    self._set_healthy(True)
        except Exception as error:  # the client itself failed: the waits fall back to polling
            self._set_healthy(False, error)
            await asyncio.sleep(MAX_ERROR_BACKOFF)
        finally:
            task = asyncio.current_task()
            if self.holders and not (task and task.cancelling()):  # someone came in while the client closed
                self._task = self.loop.create_task(self._run(), name="drs-launch-events")
            elif LaunchEventReceiver._registry.get(self.key) is self:
                del LaunchEventReceiver._registry[self.key]

    async def _dispatch(self, client: Any, events: list[QueuedEvent]) -> None:
        pollers = JobPoller.of_loop(self.loop)
        consumed, handed_back, dropped = [], [], []
        for event in events:
            if event.result is None:
                self._warn_foreign(event)
                handed_back.append((event, MAX_HAND_BACK_SECONDS))
            elif any(p.on_launch_result(event.result) for p in pollers):
                consumed.append(event)
            elif event.age() >= UNCLAIMED_EVENT_SECONDS:
                dropped.append(event)
            else:
                handed_back.append((event, hand_back_delay(event)))
        if consumed or dropped:
            await self.queue.delete(client, consumed + dropped)
        if handed_back:
            await self.queue.hand_back(client, handed_back)
        if handed_back and not consumed:
            await asyncio.sleep(YIELD_SECONDS)

    def _warn_foreign(self, event: QueuedEvent) -> None:
        if not self.warned_foreign:
            self.warned_foreign = True
            log.warning("drs.events queue=%s holds messages that are not DRS launch results (message %s): they "
                        "are left alone; give the events rule a queue of its own (drs-plan events-setup)",
                        self.queue.queue_url, event.message_id)

    def _set_healthy(self, healthy: bool, error: BaseException | None = None) -> None:
        if healthy == self.healthy:
            return
        self.healthy = healthy
        if healthy:
            log.info("drs.events queue=%s readable again: waits go back to events", self.queue.queue_url)
        else:
            log.warning("drs.events queue=%s unreadable (%s): waits poll as without events until it is "
                        "readable", self.queue.queue_url, error)
        for policy, events_interval in self.holders.values():
            policy.events_interval = events_interval if healthy else None
        for poller in JobPoller.of_loop(self.loop):
            poller.reschedule()
