"""The report of one drill or recovery run: per wave, per server, and the achieved RTO.

Pure Python over the XCom values the DAG's tasks return, so the same code serves the report task,
the `make demo` table and tests. Achieved RTO = from the first StartRecovery of the run (the
earliest job creation) to the last server launched; it is only "met" when every critical server
launched and that span is within the plan's target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

REPORT_VERSION = 1


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seconds_between(start: str | None, end: str | None) -> float | None:
    first, last = parse_time(start), parse_time(end)
    if first is None or last is None:
        return None
    return round((last - first).total_seconds(), 3)


def build_report(
    *,
    plan: Mapping[str, Any],
    mode: str,
    dag_id: str,
    run_id: str,
    started_at: str | None,
    finished_at: str | None,
    waves: Sequence[Mapping[str, Any]],
    servers: Mapping[str, Mapping[str, Any]] | None = None,
    cleanup: Sequence[Mapping[str, Any]] | None = None,
    cleanup_policy: str | None = None,
    approval: Mapping[str, Any] | None = None,
    replaced_instances: Sequence[Mapping[str, Any]] = (),
    readiness: Sequence[Mapping[str, Any]] = (),
    point_in_time: Any = "latest",
    snapshots: Mapping[str, Mapping[str, Any]] | None = None,
    launch_settings: Mapping[str, Any] | None = None,
    restored_launch_settings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Assemble the run report.

    :param plan: ``{"name", "description", "rto_minutes", "rpo_minutes", "region", "source"}``,
        ``source`` being ``{"file", "yaml"}``: the plan file the DAG was built from (the report
        adds its SHA-256).
    :param waves: one mapping per wave, in plan order: ``{"name", "depends_on", "optional",
        "servers" (resolved ids or None), "job" ({"job_id", "creation_date_time"} or None),
        "results" ({server: result} or None), "state" (the wait task's state), "post_tasks" (its
        post action task ids), "post_actions_finished" (when each succeeded, None if it did not)}``.
    :param servers: server id -> ``{"hostname", "replication_state", "lag"}`` from preflight.
    :param cleanup: what the cleanup task terminated (None: it did not run).
    :param approval: a recovery's approval: ``{"decision": "approved"|"rejected", "by", "by_id", "at"}``.
    :param replaced_instances: live recovery instances this run's launches replaced (or, for a
        run that stopped early, were going to replace), as ``hooks.drs_safety.Holding.as_dict``.
    :param readiness: preflight's readiness findings: ``{"check", "message", "stopped_the_run"}``.
    :param point_in_time: the run's ``point_in_time`` parameter, as given.
    :param snapshots: server -> ``{"snapshot_id", "timestamp"}``: the recovery snapshot preflight chose
        for it (none: the server launched from a fresh snapshot, the latest data).
    :param launch_settings: preflight's ``{server: {"changed": {key: [old, new]}, "drift": {key:
        [applied, found]}}}``; restored_launch_settings: a drill's ``{server: "restored" | "left: why"}``.
    """
    servers = servers or {}
    wave_reports = [_wave_report(w, servers, snapshots or {}) for w in waves]
    launched = [s for w in wave_reports for s in w["servers"] if s["launch_status"] == "LAUNCHED"]
    critical_failed = [s for w in wave_reports if w["job_id"] for s in w["servers"]
                       if s["critical"] and s["launch_status"] != "LAUNCHED"]
    job_starts = [w["job_created_at"] for w in wave_reports if w["job_created_at"]]
    first_start = min(job_starts, key=parse_time) if job_starts else None
    last_launch = max((s["launched_at"] for s in launched if s["launched_at"]), key=parse_time, default=None)
    not_run = [w["name"] for w in wave_reports if w["job_id"] is None]
    post_unfinished = [w["name"] for w in wave_reports if w["post_actions"] and not w["post_actions_finished_at"]]
    # A gated wave is back when its gate passed: the application answers, not just its instances.
    not_ready = [w["name"] for w in wave_reports if w["gate"] and w["gate"]["state"] != "passed"]
    complete = not critical_failed and not not_run and not post_unfinished and not not_ready
    # The service is back when the last server launched and every wave's post actions finished.
    back_at = max([last_launch, *(w["post_actions_finished_at"] for w in wave_reports if w["post_actions"]),
                   *(w["gate"]["passed_at"] for w in wave_reports if w["gate"] and w["gate"]["passed_at"])],
                  key=parse_time) if complete and last_launch else None
    achieved = seconds_between(first_start, back_at) if complete else None
    target = plan.get("rto_minutes")
    # Time to decide: run start to the approval (recoveries). Time to recover: from there (or the
    # run start, for a drill) to the service back.
    decided_at = approval.get("at") if approval and approval.get("decision") == "approved" else None
    rejected = bool(approval and approval.get("decision") == "rejected")
    if rejected:
        outcome = "rejected"
    elif complete:
        outcome = "succeeded"
    else:
        outcome = "not_started" if len(not_run) == len(wave_reports) else "failed"
    return {
        "report_version": REPORT_VERSION,
        "plan": plan.get("name"),
        "description": plan.get("description", ""),
        "region": plan.get("region"),
        "mode": mode,
        "dag_id": dag_id,
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "outcome": outcome,
        "approval": dict(approval) if approval else None,
        "rto": {
            "target_minutes": target,
            "first_start_recovery_at": first_start,
            "last_server_launched_at": last_launch if complete else None,
            "service_back_at": back_at,
            "achieved_seconds": achieved,
            "achieved_minutes": round(achieved / 60, 2) if achieved is not None else None,
            "met": bool(achieved is not None and target is not None and achieved <= target * 60),
            "why_not_achieved": (("nobody approved the recovery in time" if approval.get("timed_out")
                                  else f"the recovery was rejected by {approval.get('by')}") if rejected
                                 else _why_not(critical_failed, not_run, post_unfinished, not_ready) if not complete else None),
            "time_to_decide_seconds": seconds_between(started_at, decided_at),
            "time_to_recover_seconds": seconds_between(decided_at or started_at, back_at) if complete else None,
        },
        "point_in_time": point_in_time if isinstance(point_in_time, str) else json.dumps(point_in_time),
        "rpo": _rpo(wave_reports, plan.get("rpo_minutes")),
        "plan_source": _with_sha256(plan["source"]) if plan.get("source") else None,
        "replaced_instances": [dict(r) for r in replaced_instances],
        "readiness": [dict(f) for f in readiness],
        "launch_settings": _launch_section(launch_settings, restored_launch_settings),
        "waves": wave_reports,
        "cleanup": {"policy": cleanup_policy, "ran": cleanup is not None, "terminated": list(cleanup or [])}
        if mode == "drill" else None,
    }


def _launch_section(applied: Mapping[str, Any] | None, restored: Mapping[str, str] | None) -> dict | None:
    """What preflight changed, the drift it found (a warning: the plan's values were applied
    again), and what a drill's restore did."""
    if not applied and not restored:
        return None
    drift = [f"{server} {key}: the plan applied {was}, found {found} (changed outside the plan)"
             for server, result in (applied or {}).items() for key, (was, found) in result.get("drift", {}).items()]
    return {"servers": {s: dict(r) for s, r in (applied or {}).items()}, "drift": drift,
            "restored": dict(restored) if restored is not None else None}


def with_decision(report: Mapping[str, Any], decision: Mapping[str, Any] | None,
                  terminated: list[Mapping[str, Any]] | None, rollback_failed: bool) -> dict[str, Any]:
    """The report of a recovery once its commit-or-roll-back question is answered (or skipped:
    ``decision`` None, nothing was launched)."""
    amended = dict(report)
    amended["decision"] = {**decision, "terminated": [dict(t) for t in terminated or ()],
                           "rollback_failed": rollback_failed} if decision else None
    return amended


# Task states, most telling first: the state of a wave is that of its most telling task.
_STATE_PRECEDENCE = ("failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "running", "deferred",
                     "awaiting_input", "queued", "scheduled", "restarting", "removed", "success", "skipped")


def wave_state(task_states: Mapping[str, str | None]) -> str | None:
    """One state for a wave from the Airflow states of its tasks: failed if any failed; success
    when every task that ran succeeded (skipped ones aside); skipped when none ran."""
    states = {s for s in task_states.values() if s}
    if not states:
        return None
    if states <= {"success", "skipped"}:
        return "success" if "success" in states else "skipped"
    return next((s for s in _STATE_PRECEDENCE if s in states), sorted(states)[0])


def _why_not(critical_failed: list[dict], not_run: list[str], post_unfinished: list[str],
             not_ready: list[str] = ()) -> str:
    parts = []
    if critical_failed:
        parts.append("critical servers did not launch: " + ", ".join(s["source_server_id"] for s in critical_failed))
    if not_run:
        parts.append("waves never started a recovery job: " + ", ".join(not_run))
    if post_unfinished:
        parts.append("post actions did not finish in waves: " + ", ".join(post_unfinished))
    if not_ready:
        parts.append("the ready_when gate did not pass in waves: " + ", ".join(not_ready))
    return "; ".join(parts)


def _with_sha256(source: Mapping[str, Any]) -> dict[str, Any]:
    return {**source, "sha256": hashlib.sha256(source["yaml"].encode("utf-8")).hexdigest()}


def failed_servers_of(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(wave, server row) of each server of the run that was launched and did not come up."""
    return [(wave["name"], s) for wave in report["waves"] for s in wave["servers"]
            if s["launch_status"] not in ("LAUNCHED", "NOT_STARTED")]


def _rpo(wave_reports: Sequence[Mapping[str, Any]], target_minutes: int | None) -> dict[str, Any]:
    """The worst achieved RPO of the launched servers against the plan's target (if any)."""
    ages = [s["rpo_seconds"] for w in wave_reports for s in w["servers"]
            if s["launch_status"] == "LAUNCHED" and s["rpo_seconds"] is not None]
    worst = max(ages, default=None)
    return {
        "target_minutes": target_minutes,
        "worst_seconds": worst,
        "met": None if worst is None or target_minutes is None else worst <= target_minutes * 60,
        "measured": "per server: the recovery's start (StartRecovery) minus the point-in-time snapshot it launched from "
                    "(the snapshot the run's point_in_time chose, when it chose one)",
    }


def _wave_report(wave: Mapping[str, Any], servers: Mapping[str, Mapping[str, Any]],
                 snapshots: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    job = wave.get("job") or {}
    results = wave.get("results") or {}
    optional = set(wave.get("optional") or ())
    server_ids = list(wave.get("servers") or results.keys())
    created = job.get("creation_date_time")
    gate_records = wave.get("gate") or {}
    rows = []
    for server_id in server_ids:
        result = results.get(server_id, {})
        info = servers.get(server_id, {})
        chosen = snapshots.get(server_id)
        # DRS's word on the snapshot the instance came from (pointInTimeSnapshotDateTime), else the
        # time of the one preflight chose (a server that never launched).
        snapshot_time = result.get("point_in_time_snapshot") or (chosen or {}).get("timestamp")
        rows.append({
            "source_server_id": server_id,
            "hostname": info.get("hostname"),
            "critical": server_id not in optional,
            "launch_status": result.get("launch_status", "NOT_STARTED" if not job else "UNKNOWN"),
            "failed_phase": result.get("failed_phase"),
            "raw_error": result.get("raw_error"),
            "recovery_instance_id": result.get("recovery_instance_id"),
            "ec2_instance_id": result.get("ec2_instance_id"),
            "launched_at": result.get("launched_at"),
            "launched_at_source": result.get("launched_at_source"),
            "seconds_to_launch": seconds_between(created, result.get("launched_at")),
            "point_in_time_snapshot": snapshot_time,
            "recovery_snapshot_id": (chosen or {}).get("snapshot_id"),
            "rpo_seconds": seconds_between(snapshot_time, created),
            "phases": result.get("phases", {}),
            **_gate_of(gate_records.get(server_id)),
        })
    ends = list(wave.get("post_actions_finished") or ())
    return {
        "name": wave["name"],
        "depends_on": list(wave.get("depends_on") or ()),
        "state": wave.get("state"),
        "job_id": job.get("job_id"),
        "job_created_at": created,
        "post_actions": len(wave.get("post_tasks") or ends),
        # When the last of them finished; None while any did not (or the wave has none).
        "post_actions_finished_at": max(ends, key=parse_time) if ends and all(ends) else None,
        "gate": _wave_gate(wave, gate_records),
        "servers": rows,
    }


def _snapshot_cell(server: Mapping[str, Any]) -> str:
    """The snapshot a server came back from: the chosen one (id @ time), else DRS's time, else -."""
    taken = server.get("point_in_time_snapshot")
    if server.get("recovery_snapshot_id"):
        return f"{server['recovery_snapshot_id']} @ {taken}"
    return taken or "-"


def _gate_of(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """A server's ready_when result: when it passed, or which check failed and why."""
    if not record:
        return {}
    return {"ready_at": record.get("ready_at"), "gate": {k: record.get(k) for k in ("state", "failed_check", "detail")}}


def _wave_gate(wave: Mapping[str, Any], records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The wave's gate: passed (at the last server's ready_at; skipped and optional failures do
    not hold it), failed, or not_run (no records: the gate never decided)."""
    if not wave.get("gate_task"):
        return None
    if not records:
        return {"state": "not_run", "passed_at": None}
    failed = [s for s, r in records.items() if r.get("state") == "failed" and not r.get("optional")]
    ready = [r["ready_at"] for r in records.values() if r.get("ready_at")]
    if failed:
        return {"state": "failed", "passed_at": None, "failed_servers": failed}
    return {"state": "passed", "passed_at": max(ready, key=parse_time) if ready else None}


def format_table(report: Mapping[str, Any]) -> str:
    """The report as a terminal table: one row per server, grouped by wave, then the RTO."""
    header = ("WAVE", "SERVER", "HOSTNAME", "STATUS", "EC2 INSTANCE", "TO LAUNCH", "SNAPSHOT", "RPO")
    rows = [header]
    for wave in report["waves"]:
        for s in wave["servers"]:
            status = s["launch_status"] + ("" if s["critical"] else " (optional)")
            if s["failed_phase"]:
                status += f" at {s['failed_phase']}"
            seconds = s["seconds_to_launch"]
            rpo = s.get("rpo_seconds")
            rows.append((wave["name"], s["source_server_id"], s["hostname"] or "-", status,
                         s["ec2_instance_id"] or "-", f"{seconds:.1f} s" if seconds is not None else "-",
                         _snapshot_cell(s), f"{rpo:.1f} s" if rpo is not None else "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    rto = report["rto"]
    lines.append(f"\nPoint in time: {report.get('point_in_time') or 'latest'}")
    approval = report.get("approval")
    if approval:
        lines.append(f"\nRecovery {approval['decision']} by {approval['by'] or 'unknown'} at {approval['at']}")
    for replaced in report.get("replaced_instances") or ():
        lines.append(f"Replaces live {'drill' if replaced['is_drill'] else 'recovery'} instance "
                     f"{replaced['recovery_instance_id']} (EC2 {replaced['ec2_instance_id']}) of "
                     f"{replaced['source_server_id']}, from job {replaced['job_id']}")
    launch = report.get("launch_settings") or {}
    for server, result in (launch.get("servers") or {}).items():
        for key, (old, new) in result.get("changed", {}).items():
            lines.append(f"Launch setting {server} {key}: {old} -> {new}")
    lines += [f"WARNING launch setting drift: {d}" for d in launch.get("drift") or ()]
    lines += [f"Launch settings of {s} after the drill: {r}" for s, r in (launch.get("restored") or {}).items()]
    # Preflight's findings (readiness, IAM permissions): what warned, and what stopped the run.
    lines += [f"{'STOPPED THE RUN' if f.get('stopped_the_run') else 'WARNING'} {f['check']}: {f['message']}"
              for f in report.get("readiness") or ()]
    decision = report.get("decision")
    if decision:
        who = "the plan's default (nobody answered)" if decision["timed_out"] else decision["by"] or "unknown"
        if decision["decision"] == "rollback":
            done = "FAILED, see the rollback task" if decision["rollback_failed"] else \
                f"{len(decision['terminated'])} recovery instances terminated"
            lines.append(f"Rolled back by {who} at {decision['at']}: {done}")
        else:
            lines.append(f"Committed by {who} at {decision['at']}")
    if report["outcome"] == "rejected":
        lines.append("Nothing was launched.")
    elif rto["achieved_seconds"] is not None:
        verdict = "met" if rto["met"] else "MISSED"
        lines.append(f"\nAchieved RTO: {rto['achieved_seconds']:.1f} s ({rto['achieved_minutes']} min) "
                     f"against a target of {rto['target_minutes']} min: {verdict}")
    else:
        lines.append(f"\nAchieved RTO: not achieved ({rto['why_not_achieved']}); target {rto['target_minutes']} min")
    rpo = report.get("rpo") or {}
    if rpo.get("worst_seconds") is not None:
        target = (f" against a target of {rpo['target_minutes']} min: {'met' if rpo['met'] else 'MISSED'}"
                  if rpo.get("target_minutes") else " (no rpo_minutes target)")
        lines.append(f"Worst achieved RPO: {rpo['worst_seconds']:.1f} s{target}")
    cleanup = report.get("cleanup")
    if cleanup and cleanup["ran"]:
        lines.append(f"Cleanup ({cleanup['policy']}): {len(cleanup['terminated'])} drill instances terminated")
    elif cleanup:
        lines.append(f"Cleanup ({cleanup['policy']}): did not run; this run's drill instances are still up")
    lines.append(f"Outcome: {report['outcome']} ({report['mode']} {report['run_id']})")
    return "\n".join(lines)
