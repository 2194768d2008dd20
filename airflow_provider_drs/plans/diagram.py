"""Text renderings of a plan's wave graph: Mermaid (READMEs, pull requests) and an indented tree."""

from __future__ import annotations

from airflow_provider_drs.plans.graph import WaveGraph
from airflow_provider_drs.plans.model import Plan


def wave_label(plan: Plan, wave_name: str) -> str:
    """'2 servers, 1 optional, tags Tier=app, post: 1 action' - what a reviewer wants to see."""
    wave = plan.wave(wave_name)
    parts = [f"after {wave.delay_minutes} min"] if wave.delay_minutes else []
    servers = wave.static_servers(plan)
    if servers:
        parts.append(f"{len(servers)} server{'s' if len(servers) != 1 else ''}")
    if wave.optional:
        parts.append(f"{len(wave.optional)} optional")
    for tags in wave.tag_selectors(plan).values():
        parts.append("tags " + ",".join(f"{k}={v}" for k, v in tags.items()))
    for phase in ("pre", "post"):
        actions = getattr(wave, phase)
        if actions:
            parts.append(f"{phase}: " + ", ".join(a.kind for a in actions))
    return ", ".join(parts)


def mermaid(plan: Plan) -> str:
    graph = WaveGraph(plan)
    ids = {name: f"w{i}" for i, name in enumerate(graph.names)}  # wave names may clash with Mermaid words
    critical = set(graph.critical_path)
    lines = ["flowchart LR"]
    for name in graph.order:
        label = f"{name}<br/>{wave_label(plan, name)}".replace('"', "#quot;")
        lines.append(f'    {ids[name]}["{label}"]')
    for name in graph.order:
        for dep in graph.deps[name]:
            lines.append(f"    {ids[dep]} --> {ids[name]}")
    if critical:
        lines.append("    classDef critical stroke-width:3px")
        lines.append(f"    class {','.join(ids[n] for n in graph.order if n in critical)} critical")
    return "\n".join(lines) + "\n"


def text_tree(plan: Plan) -> str:
    """Each wave under the waves it depends on; a wave with several parents is drawn once in full."""
    graph = WaveGraph(plan)
    lines = [f"{plan.name} ({plan.dag_id('drill')}, {plan.dag_id('recovery')}), rto {plan.rto_minutes} min"]
    drawn: set[str] = set()

    def draw(name: str, depth: int) -> None:
        pad = "    " * depth
        if name in drawn:
            lines.append(f"{pad}{name} (see above)")
            return
        drawn.add(name)
        others = [d for d in graph.deps[name]]
        after = f"  [after {' and '.join(others)}]" if len(others) > 1 else ""
        lines.append(f"{pad}{name}: {wave_label(plan, name)}{after}")
        for child in graph.dependents[name]:
            # Draw a shared child under its last parent in order, so it appears after all of them.
            parents = graph.deps[child]
            if max(parents, key=graph.order.index) == name:
                draw(child, depth + 1)
            else:
                lines.append(f"{'    ' * (depth + 1)}{child} (see below)")

    for root in graph.roots():
        draw(root, 1)
    lines.append(f"critical path: {' -> '.join(graph.critical_path)}")
    return "\n".join(lines) + "\n"
