"""Validation errors of the plan language, in the one-line format CI logs and editors understand.

`FILE:LINE: field.path: message (hint: what to do)` - the path is written the way a user would
point at it in the YAML (`waves[1].depends_on[0]`), so the error can be found without the model.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from airflow_provider_drs.exceptions import DrsProviderError

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(loc: Sequence[object]) -> str:
    """`('waves', 1, 'depends_on', 0)` -> `waves[1].depends_on[0]`; odd keys are quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


@dataclass(frozen=True)
class PlanError:
    """One problem in one file. `line` is 1-based; `path` is '' for file-level problems."""

    file: str
    line: int
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: "
        if self.path:
            where += f"{self.path}: "
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


class PlanValidationError(DrsProviderError):
    """A plan (or a file it depends on) is invalid; `.errors` holds every problem found."""

    def __init__(self, errors: Iterable[PlanError], subject: str = "plan"):
        self.errors = list(errors)
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(f"{subject} is invalid ({len(self.errors)} error(s)):\n{lines}")


def did_you_mean(word: object, choices: Iterable[str], what: str = "known") -> str:
    """A hint naming the closest choice, then all choices (short lists) so the fix is obvious."""
    choices = list(dict.fromkeys(c for c in choices if isinstance(c, str)))  # keep the file's order
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6) if choices else []
    parts = []
    if close:
        parts.append(f"did you mean '{close[0]}'?")
    if not choices:
        parts.append(f"there are no {what} to refer to")
    elif len(choices) <= 12:
        parts.append(f"{what}: {', '.join(choices)}")
    return " ".join(parts)


class ErrorCollector:
    """Collects errors of one file, turning field paths into line numbers as they are added."""

    def __init__(self, file: str, lines):
        self.file = file
        self.lines = lines
        self.errors: list[PlanError] = []

    def add(self, loc: Sequence[object], message: str, hint: str | None = None, line: int | None = None) -> None:
        self.errors.append(
            PlanError(self.file, line if line is not None else self.lines.line(loc), format_path(loc), message, hint or None)
        )

    def line(self, loc: Sequence[object]) -> int:
        return self.lines.line(loc)
