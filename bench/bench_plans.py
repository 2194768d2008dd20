"""Load and validate 50 generated plans (20 waves, 100 servers each); print timings as JSON.

Run: python bench/bench_plans.py [--plans 50 --waves 20 --servers 100 --repeat 3]
The figure is the best of `--repeat` runs of load_catalogue() over the folder (parse + validate).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from airflow_provider_drs.plans import load_catalogue


def plan_yaml(index: int, waves: int, servers: int) -> str:
    per_wave = servers // waves
    lines = [
        "version: 1", f"plan: bench-{index:03d}", f"description: generated plan {index}",
        "region: us-east-1", "rto_minutes: 120",
        "drill: {schedule: '0 6 * * 1', cleanup: always}",
        "notifications: {sns_topic_arn: '{{ ssm:/dr/topic }}'}",
        "protection_groups:",
    ]
    ids = [[f"s-{index:05d}{w:04d}{s:08d}" for s in range(per_wave)] for w in range(waves)]
    for w in range(waves):
        lines.append(f"  group-{w:02d}:")
        lines.append("    servers:")
        lines += [f"      - {sid}" for sid in ids[w]]
    lines.append("waves:")
    for w in range(waves):
        lines.append(f"  - name: wave-{w:02d}")
        deps = sorted({w - 1, w // 2 - 1} - {-1, w}) if w else []
        if deps:
            lines.append(f"    depends_on: [{', '.join(f'wave-{d:02d}' for d in deps)}]")
        lines.append(f"    protection_groups: [group-{w:02d}]")
        lines.append(f"    optional: [{ids[w][-1]}]")
        lines.append("    post:")
        lines.append("      - ssm_automation:")
        lines.append("          document: AWS-RestartEC2Instance")
        lines.append(f"          parameters: {{InstanceId: ['{{{{ instance:{ids[w][0]} }}}}']}}")
    return "\n".join(lines) + "\n"


def size_arguments(parser: argparse.ArgumentParser) -> None:
    """The generated estate's size and the number of timed runs (shared with bench_dag_parse)."""
    parser.add_argument("--plans", type=int, default=50)
    parser.add_argument("--waves", type=int, default=20)
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.plans):
            with open(os.path.join(folder, f"plan-{i:03d}.yaml"), "w") as handle:
                handle.write(plan_yaml(i, args.waves, args.servers))
        timings = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            catalogue = load_catalogue(folder)
            timings.append(time.perf_counter() - start)
    if catalogue.errors or len(catalogue.plans) != args.plans:
        print("\n".join(str(e) for e in catalogue.errors[:20]), file=sys.stderr)
        return 1
    seconds = min(timings)
    print(json.dumps({
        "plans": args.plans, "waves_per_plan": args.waves, "servers_per_plan": args.servers,
        "seconds": round(seconds, 4), "per_plan_ms": round(seconds * 1000 / args.plans, 2),
        "runs": [round(t, 4) for t in timings],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
