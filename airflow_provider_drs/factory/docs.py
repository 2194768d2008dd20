"""The ``doc_md`` of a plan's DAGs: what the plan recovers, in which order, against which target."""

from __future__ import annotations

from airflow_provider_drs.plans import Plan, WaveGraph


def _action_line(action) -> str:
    spec = action.spec
    if action.kind == "approval":
        return f"approval: {spec.subject}"
    return f"{action.kind}: {spec.document}"


def _actions_cell(wave, stage: str, mode: str) -> str:
    """The stage's steps this DAG runs (``when:`` steps of the other mode are not in it)."""
    return "<br>".join(_action_line(a) for _, a in wave.actions(stage, mode)) or "-"


def plan_doc_md(plan: Plan, mode: str, graph: WaveGraph) -> str:
    lines = [
        f"# {plan.name} ({mode})",
        "",
        plan.description or "",
        "",
        f"- **RTO target:** {plan.rto_minutes} min (achieved RTO in every run's report)",
        f"- **Region:** {plan.region} via connection `{plan.aws_conn_id}`",
    ]
    if mode == "drill":
        lines += [f"- **Schedule:** {plan.drill.schedule or 'manual'}",
                  f"- **Cleanup:** {plan.drill.cleanup} (drill instances of this run only)"]
    else:
        lines += ["- **Approval:** required before anything is launched; launches real recovery instances "
                  "(isDrill false)"]
    lines += [f"- **Source:** `{plan.source_file}`", "", "| wave | after | servers | optional | pre | post |",
              "|---|---|---|---|---|---|"]
    for name in graph.order:
        wave = plan.wave(name)
        servers = list(wave.static_servers(plan)) + [
            f"tags {', '.join(f'{k}={v}' for k, v in tags.items())} ({group})"
            for group, tags in wave.tag_selectors(plan).items()
        ]
        after = (', '.join(wave.depends_on) or "-") + (f", then {wave.delay_minutes} min" if wave.delay_minutes else "")
        lines.append(
            f"| {name} | {after} | {'<br>'.join(servers)} | "
            f"{', '.join(wave.optional) or '-'} | {_actions_cell(wave, 'pre', mode)} | "
            f"{_actions_cell(wave, 'post', mode)} |"
        )
    lines += ["", f"Waves that may run in parallel: {' / '.join(', '.join(sorted(s)) for s in graph.parallel_sets)}"]
    return "\n".join(lines)
