"""Every exception the provider raises. Pure Python: safe to import from any layer.

Messages name the resource (job id, server id, file:line) and say what to do next.
"""

from __future__ import annotations


class DrsProviderError(Exception):
    """Base class of every error raised by airflow-provider-drs."""


class DrsRequestError(DrsProviderError):
    """A request was refused before it reached AWS (bad ids, duplicates, over the per-job limit)."""


class DrsJobLimitExceeded(DrsRequestError):
    """More servers in one StartRecovery than the per-job limit allows."""


class DrsServerInActiveJob(DrsProviderError):
    """DRS answered ConflictException: a source server already takes part in an active job."""

    def __init__(self, message: str, server_id: str | None = None, job_id: str | None = None,
                 job: dict | None = None):
        super().__init__(message)
        self.server_id = server_id
        self.job_id = job_id
        self.job = job  # the job in the way, as DescribeJobs returned it, when known


class DrsPointInTimeError(DrsProviderError):
    """A run's ``point_in_time`` is malformed, or names no snapshot usable for some server."""


class DrsJobNotFound(DrsProviderError):
    """A job id that DRS does not know (wrong region or account, or a typo)."""


class DrsWaitTimeout(DrsProviderError):
    """DRS jobs did not complete within the time the caller allowed (hooks.drs_wait)."""


class DrsRecoveryFailed(DrsProviderError):
    """At least one critical server of a recovery job did not launch."""

    def __init__(self, message: str, failed: list[dict] | None = None):
        super().__init__(message)
        self.failed = failed or []


class DrsNotADrillInstance(DrsRequestError):
    """Refused to terminate a recovery instance that is not a drill instance."""


class DrsNativePlanUnavailable(DrsProviderError):
    """A DRS native recovery plan does not exist, or DRS says it is INVALID: nothing may launch."""


class SsmAutomationFailed(DrsProviderError):
    """An SSM Automation execution ended in a state other than Success."""


class DrsForeignNativePlan(DrsProviderError):
    """A DRS native recovery plan of the wanted name exists but drs-plan did not create it (or
    another plan did): drs-plan export-native refuses to change it unless told to adopt it."""
