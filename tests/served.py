"""What the session's simulator served since its reset, less what an earlier test left in flight."""

from __future__ import annotations

# The IAM budget test gives up on SimulatePrincipalPolicy calls held 20 s; their threads retry and
# may land after the next test's reset (seen on CI: {'iam:SimulatePrincipalPolicy': 2}).
LEFTOVERS = ("iam:SimulatePrincipalPolicy",)


def served(sim) -> dict[str, int]:
    return {op: n for op, n in sim.control.calls().items() if op not in LEFTOVERS}
