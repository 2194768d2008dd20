"""What every plan model shares: the strict frozen base and the errors whose message and hint
reach the user as written (see structure.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


def rule_error(message: str, hint: str | None = None) -> PydanticCustomError:
    """A validation error whose message and hint go to the user as written (see structure.py)."""
    return PydanticCustomError("plan_rule", "{message}", {"message": message, "hint": hint or ""})


def one_kind_at_most(data: dict, kinds: tuple[str, ...], noun: str, example: str) -> list[str]:
    """The kinds a mapping such as an action or a probe names; an error for several, or for none
    and nothing else."""
    named = [k for k in kinds if k in data]
    if len(named) > 1:
        raise rule_error(f"{noun} has exactly one kind, this one has {', '.join(named)}",
                         f"make each its own list item ('- {example}')")
    if not data:
        raise rule_error(f"empty {noun.split(' ', 1)[1]}", f"{noun} is one of: {', '.join(kinds)}")
    return named


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
