"""Drill schedules: 5-field cron expressions and Airflow's presets, checked without croniter.

A hand-written check names the field that is wrong ("hour '25' is out of range 0-23"), which is
what a plan author needs; it accepts what Airflow's cron timetable accepts in practice (lists,
ranges, steps, month and day names, `L` for the last day of the month, `MON#2` for the 2nd Monday).
"""

from __future__ import annotations

import re

# Airflow's presets. Left out on purpose: `@continuous` (back-to-back drills make no sense) and
# `@once` (its one run starts when the DAG is unpaused, and unpausing must never launch a drill).
PRESETS = ("@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
# (name, lowest, highest, names)
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),  # 0 and 7 are both Sunday
)
_RANGE = re.compile(r"^([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?$")


def cron_problem(expression: str) -> str | None:
    """None if `expression` is a valid drill schedule, else a sentence saying what is wrong."""
    expr = expression.strip()
    if expr.startswith("@"):
        if expr in PRESETS:
            return None
        if expr == "@once":
            return "'@once' would launch the drill as soon as the DAG is unpaused; leave schedule out and trigger it by hand"
        return f"unknown schedule preset '{expr}' (presets: {', '.join(PRESETS)})"
    fields = expr.split()
    if len(fields) != 5:
        return f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    for text, (name, low, high, names) in zip(fields, _FIELDS):
        problem = _field_problem(text, name, low, high, names)
        if problem:
            return f"{name} '{text}' {problem}"
    return None


def _field_problem(text: str, name: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for item in text.split(","):
        base, _, step = item.partition("/")
        if _ and not (step.isdigit() and int(step) > 0):
            return f"has a bad step '/{step}' (a step is a positive number)"
        if base in ("*", "?") and (base == "*" or name in ("day of month", "day of week")):
            continue
        if name == "day of month" and base in ("L", "l"):
            continue
        if name == "day of week" and "#" in base:
            day, _, nth = base.partition("#")
            if _value(day, low, high, names) is None or nth not in ("1", "2", "3", "4", "5"):
                return f"has a bad '{base}' (use DAY#N, N from 1 to 5, e.g. MON#2)"
            continue
        if name == "day of week" and len(base) > 1 and base[-1] in "Ll":
            base = base[:-1]  # 5L: last Friday of the month
        match = _RANGE.match(base)
        if not match:
            return "is not a number, range (a-b), list (a,b), step (*/n) or name"
        start, end = (_value(v, low, high, names) if v is not None else None for v in match.groups())
        if start is None or (match.group(2) is not None and end is None):
            return f"is out of range {low}-{high}" if _is_number(match.groups()) else "has an unknown name"
        if end is not None and end < start:
            return f"has a backwards range {base}"
    return None


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    if text.isdigit():
        value = int(text)
        return value if low <= value <= high else None
    return names.get(text.lower())


def _is_number(parts) -> bool:
    return all(p is None or p.isdigit() for p in parts)
