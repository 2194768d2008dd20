"""The one wait on DRS jobs (hooks/drs_wait.py), against the simulator over HTTP: it ends when DRS
says the jobs completed, with the launches it saw; it paces itself by the policy; a job that is not
listed is an error only after the tolerance; a time limit is honoured."""

from __future__ import annotations

import time

import pytest

from airflow_provider_drs.exceptions import DrsJobNotFound, DrsWaitTimeout
from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_wait import MISSING_JOB_TOLERANCE, JobWatch, PollingPolicy, wait_for_jobs

DB, APP = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36"


@pytest.fixture
def hook(sim):
    return DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")


def test_the_policy_reads_slowly_while_converting_and_fast_once_launching():
    policy = PollingPolicy(min_interval=2, max_interval=30, slow_factor=0.1)
    assert policy.interval(age=5, launching=False) == 2  # a young job: never below the minimum
    assert policy.interval(age=120, launching=False) == 12  # a tenth of its age
    assert policy.interval(age=3600, launching=False) == 30  # never above the maximum
    assert policy.interval(age=3600, launching=True) == 2


def test_the_wait_ends_when_drs_says_completed_and_keeps_what_it_saw(hook):
    job_id = hook.start_recovery([DB, APP], is_drill=True)["jobID"]
    sleeps: list[float] = []
    watch = wait_for_jobs(hook, [job_id], PollingPolicy(0.05, 0.2), timeout=60, sleep=lambda s: (sleeps.append(s),
                                                                                                 time.sleep(s)))
    assert watch.jobs[job_id]["status"] == "COMPLETED"
    assert sleeps and all(0.05 <= s <= 0.2 for s in sleeps)
    results = watch.results(hook)
    assert {r["launch_status"] for r in results.values()} == {"LAUNCHED"} and set(results) == {DB, APP}
    assert set(watch.observed_launched) <= {DB, APP}


def test_a_job_nobody_lists_is_an_error_after_the_tolerance_not_before(hook):
    watch = JobWatch(["drsjob-00000000000000000"], PollingPolicy(0.01, 0.01))
    for _ in range(MISSING_JOB_TOLERANCE - 1):
        assert watch.read(hook) is False
    with pytest.raises(DrsJobNotFound, match="drsjob-00000000000000000 not found in region us-east-1"):
        watch.read(hook)


def test_a_listed_job_resets_the_missing_streak(hook):
    job_id = hook.start_recovery([DB], is_drill=True)["jobID"]
    watch = JobWatch([job_id, "drsjob-00000000000000001"], PollingPolicy(0.01, 0.01))
    watch.missing_reads = MISSING_JOB_TOLERANCE - 1
    with pytest.raises(DrsJobNotFound, match="drsjob-00000000000000001"):  # one of the two still missing
        watch.read(hook)
    single = JobWatch([job_id], PollingPolicy(0.01, 0.01))
    single.missing_reads = MISSING_JOB_TOLERANCE - 1
    single.read(hook)
    assert single.missing_reads == 0


def test_the_time_limit_is_honoured_and_names_the_jobs_still_running(hook, sim):
    sim.control.set_time_scale(1.0)  # seconds a phase: still converting when the limit passes
    job_id = hook.start_recovery([DB], is_drill=True)["jobID"]
    started = time.monotonic()
    with pytest.raises(DrsWaitTimeout, match=f"{job_id} did not complete within 0.5 s"):
        wait_for_jobs(hook, [job_id], PollingPolicy(0.1, 5), timeout=0.5)
    assert time.monotonic() - started < 3  # the last pause is cut to the limit, not a whole interval
