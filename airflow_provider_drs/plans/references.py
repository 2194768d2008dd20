"""Parameter references: `{{ ssm:/path }}`, `{{ cfn:Stack.Output }}`, `{{ instance:s-... }}`.

Plans name values that only exist at run time (an SSM parameter, a CloudFormation output, the EC2
instance a wave launched). This module parses them and substitutes them through a `Resolver`; the
runtime layer implements the resolver with AWS, tests use `StaticResolver`. No AWS here.

`{{` always starts a reference: a string that needs literal braces can't be expressed in version 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, runtime_checkable

from airflow_provider_drs.exceptions import DrsProviderError
from airflow_provider_drs.plans.errors import did_you_mean

SERVER_ID_PATTERN = r"^s-[0-9a-zA-Z]{17}$"

# Value syntax per kind, with the example shown when a value does not match.
KINDS: dict[str, tuple[re.Pattern, str]] = {
    "ssm": (re.compile(r"^/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$"), "{{ ssm:/dr/notify-topic }}"),
    "cfn": (re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}\.[A-Za-z0-9]{1,255}$"), "{{ cfn:NetworkStack.VpcId }}"),
    "instance": (re.compile(SERVER_ID_PATTERN), "{{ instance:s-3578f52ef3bdd58b4 }}"),
}
VALID_FORMS = "{{ ssm:/path }}, {{ cfn:Stack.Output }}, {{ instance:s-... }}"
_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class Reference:
    """One reference found in a string; `span` is its (start, end) slice, braces included."""

    kind: str
    value: str
    span: tuple[int, int]

    def __str__(self) -> str:
        return f"{{{{ {self.kind}:{self.value} }}}}"


@dataclass(frozen=True)
class ReferenceProblem:
    message: str
    hint: str
    span: tuple[int, int]


class ReferenceSyntaxError(DrsProviderError):
    """A string holds `{{ ... }}` that is not one of the valid reference forms."""

    def __init__(self, problem: ReferenceProblem):
        self.problem = problem
        super().__init__(f"{problem.message} (hint: {problem.hint})")


class UnresolvedReference(DrsProviderError):
    """A resolver has no value for a reference (missing parameter, output or instance)."""


def scan_references(text: str) -> tuple[list[Reference], list[ReferenceProblem]]:
    """Every reference in `text`, and every `{{ ... }}` that is not a valid one (never raises)."""
    refs: list[Reference] = []
    problems: list[ReferenceProblem] = []
    end = 0
    for match in _BRACES.finditer(text):
        _unclosed(text, end, match.start(), problems)
        end = match.end()
        span = (match.start(), match.end())
        inner = match.group(1).strip()
        kind, sep, value = inner.partition(":")
        kind, value = kind.strip(), value.strip()
        if not sep or kind not in KINDS:
            hint = did_you_mean(kind, KINDS, "reference kinds") if sep else ""
            problems.append(ReferenceProblem(
                f"'{match.group(0)}' is not a plan reference",
                f"{hint + '; ' if hint else ''}valid forms: {VALID_FORMS}; Airflow templates are not rendered in plans",
                span))
            continue
        pattern, example = KINDS[kind]
        if not pattern.match(value):
            problems.append(ReferenceProblem(f"malformed {kind} reference '{match.group(0)}'", f"write it like {example}", span))
            continue
        refs.append(Reference(kind, value, span))
    _unclosed(text, end, len(text), problems)
    return refs, problems


def _unclosed(text: str, start: int, stop: int, problems: list[ReferenceProblem]) -> None:
    pos = text.find("{{", start, stop)
    if pos >= 0:
        problems.append(ReferenceProblem("'{{' without a closing '}}'", f"close the reference, e.g. {VALID_FORMS}", (pos, stop)))


def parse_references(text: str) -> list[Reference]:
    """The references in `text`, in order; raises ReferenceSyntaxError on the first bad one."""
    refs, problems = scan_references(text)
    if problems:
        raise ReferenceSyntaxError(problems[0])
    return refs


@runtime_checkable
class Resolver(Protocol):
    """Turns a reference into its value. The runtime implements this with SSM, CFN and DRS."""

    def resolve(self, reference: Reference) -> str: ...


class StaticResolver:
    """A resolver over a mapping `{"ssm:/dr/topic": "arn:...", "instance:s-...": "i-..."}`."""

    def __init__(self, values: Mapping[str, str]):
        self.values = dict(values)

    def resolve(self, reference: Reference) -> str:
        key = f"{reference.kind}:{reference.value}"
        if key not in self.values:
            raise UnresolvedReference(f"no value for {reference} (known: {', '.join(sorted(self.values)) or 'none'})")
        return self.values[key]


def render(text: str, resolver: Resolver) -> str:
    """`text` with every reference replaced by `resolver.resolve(reference)`."""
    refs = parse_references(text)
    if not refs:
        return text
    out, pos = [], 0
    for ref in refs:
        out.append(text[pos:ref.span[0]])
        out.append(str(resolver.resolve(ref)))
        pos = ref.span[1]
    out.append(text[pos:])
    return "".join(out)


def render_value(value: Any, resolver: Resolver) -> Any:
    """`render` applied to every string inside dicts and lists (e.g. an action's parameters)."""
    if isinstance(value, str):
        return render(value, resolver)
    if isinstance(value, Mapping):
        return {k: render_value(v, resolver) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(v, resolver) for v in value]
    return value


def iter_strings(value: Any, loc: tuple = ()):
    """(loc, string) for every string value nested in dicts and lists; keys are not visited."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from iter_strings(v, loc + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_strings(v, loc + (i,))
