"""The provider's Airflow plugin, registered by the ``airflow.plugins`` entry point (setup.cfg).

Not through ``get_provider_info``'s ``plugins`` key: Airflow reads that only when
``[core] lazy_discover_providers`` is off, and it is on by default."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_drs.timetables.drill import DrillTimetable


class DrsPlugin(AirflowPlugin):
    name = "airflow_provider_drs"
    # Custom timetables must be registered for the scheduler to deserialize the drill DAGs.
    timetables = [DrillTimetable]
