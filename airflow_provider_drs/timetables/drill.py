"""The drill schedule: a cron timetable that never runs a slot that is already past.

Airflow's cron timetable, with catchup off, still runs the most recent past slot when a DAG is
unpaused (on a DAG with a start date, ``run_immediately=False`` does not prevent it, and after a
pause it always does): unpausing a weekly drill on a Tuesday launched Monday's drill at once. A
drill launches instances, so it must start only when its schedule says: the next cron time after
now, or after the previous scheduled run, whichever is later. Registered with Airflow by the
provider's plugin, so the scheduler can deserialize it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.timetables.base import DagRunInfo
from airflow.timetables.trigger import CronTriggerTimetable
from airflow.sdk.timezone import coerce_datetime, utcnow

if TYPE_CHECKING:
    from airflow.timetables.base import DataInterval, TimeRestriction


class DrillTimetable(CronTriggerTimetable):
    """Cron schedule for drills: the first run after (un)pausing is the next cron time, never a
    past one; missed slots are never run."""

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        candidates = [self._align_to_next(coerce_datetime(utcnow()))]
        if last_automated_data_interval is not None:
            candidates.append(self._get_next(last_automated_data_interval.end))
        if restriction.earliest is not None:
            candidates.append(self._align_to_next(restriction.earliest))
        next_start = max(candidates)
        if restriction.latest is not None and restriction.latest < next_start:
            return None
        return DagRunInfo.interval(coerce_datetime(next_start - self._interval), next_start)
