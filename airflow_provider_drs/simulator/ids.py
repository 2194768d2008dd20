"""Identifiers, ARNs and timestamps in the exact formats of the DRS model."""

from __future__ import annotations

import random
from datetime import datetime, timezone

ACCOUNT_ID = "123456789012"  # moto's default account: EC2 instances we create land there


def hex_id(rng: random.Random, length: int = 17) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def job_id(rng: random.Random) -> str:
    return "drsjob-" + hex_id(rng)


def recovery_instance_id(rng: random.Random) -> str:
    # Same shape as an EC2 id but never equal to one, so clients that mix them up are caught.
    return "i-" + hex_id(rng)


def recovery_plan_id(rng: random.Random) -> str:
    return "rp-" + hex_id(rng)


def recovery_plan_step_id(rng: random.Random) -> str:
    return "rps-" + hex_id(rng)


def recovery_plan_execution_id(rng: random.Random) -> str:
    return "rpe-" + hex_id(rng)


def recovery_plan_execution_step_id(rng: random.Random) -> str:
    return "rpes-" + hex_id(rng)


def uuid(rng: random.Random) -> str:
    h = hex_id(rng, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def arn(region: str, kind: str, resource_id: str) -> str:
    return f"arn:aws:drs:{region}:{ACCOUNT_ID}:{kind}/{resource_id}"


def iso(ts: float) -> str:
    """ISO8601DatetimeString: the model's pattern requires the trailing ``Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
