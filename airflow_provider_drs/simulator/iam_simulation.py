"""IAM SimulatePrincipalPolicy, which moto 5.2.5 lacks, served over moto's IAM state.

The principal's policies are the ones IAM would evaluate: a user's inline and attached policies and
those of its groups, a role's inline and attached policies, a group's own. moto collects them and
matches actions and resources (moto.iam.access_control); conditions are evaluated here, because
moto's evaluator is built for trust policies and turns an Allow whose condition does not hold into
a deny. A condition whose key the request's ContextEntries do not give does not hold, and the key is
reported in MissingContextValues, as IAM does. The answer is the IAM query-protocol XML of
botocore's iam model (EvaluationResults: EvalActionName, EvalResourceName, EvalDecision,
MatchedStatements, MissingContextValues).

A caller whose access key belongs to a moto IAM user must itself be allowed
iam:SimulatePrincipalPolicy on the principal (AccessDenied otherwise); other credentials (the
simulator's usual dummy keys) are not checked, as for every other call the simulator forwards.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from .ids import ACCOUNT_ID

OPERATION = "iam:SimulatePrincipalPolicy"
XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(user|role|group)/(?:.*/)?([\w+=,.@-]+)$")
_CREDENTIAL = re.compile(r"Credential=([A-Z0-9a-z]+)/")


class IamError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def handles(name: str | None) -> bool:
    return name == OPERATION


def answer(body: bytes, authorization: bytes | None) -> tuple[int, str]:
    """(HTTP status, XML) for a SimulatePrincipalPolicy request."""
    request_id = str(uuid.uuid4())
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        return 200, _result_xml(simulate_request(form, authorization), request_id)
    except IamError as error:
        kind = "Sender" if error.status < 500 else "Receiver"
        return error.status, (f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>{kind}</Type><Code>{error.code}</Code>'
                              f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId>"
                              "</ErrorResponse>")


def _members(form: dict[str, list[str]], name: str) -> list[str]:
    items = sorted(((int(k.rsplit(".", 1)[1]), v[0]) for k, v in form.items()
                    if re.fullmatch(rf"{re.escape(name)}\.member\.\d+", k)))
    return [value for _, value in items]


def _context(form: dict[str, list[str]]) -> dict[str, list[str]]:
    context: dict[str, list[str]] = {}
    n = 1
    while f"ContextEntries.member.{n}.ContextKeyName" in form:
        key = form[f"ContextEntries.member.{n}.ContextKeyName"][0]
        context[key.lower()] = _members(form, f"ContextEntries.member.{n}.ContextKeyValues")
        n += 1
    return context


def simulate_request(form: dict[str, list[str]], authorization: bytes | None) -> list[dict[str, Any]]:
    source = (form.get("PolicySourceArn") or [""])[0]
    actions = _members(form, "ActionNames")
    if not source or not actions:
        raise IamError(400, "ValidationError", "PolicySourceArn and ActionNames are required")
    backend = _backend()
    policies = principal_policies(backend, source)
    _check_caller(backend, authorization, source)
    resources = _members(form, "ResourceArns") or ["*"]
    context = _context(form)
    return [evaluate(policies, action, resource, context) for action in actions for resource in resources]


def _backend() -> Any:
    from moto.iam.models import iam_backends  # looked up each time: a reset replaces the backends

    return iam_backends[ACCOUNT_ID]["aws"]


def principal_policies(backend: Any, arn: str) -> list[tuple[str, str, dict]]:
    """(policy id, source type, document) of every policy IAM evaluates for this principal."""
    from moto.iam.access_control import IAMPolicy

    match = _PRINCIPAL.match(arn)
    if not match:
        raise IamError(400, "InvalidInput", f"Invalid ARN: {arn} is not a user, group or role ARN")
    kind, name = match.group(2), match.group(3)
    out: list[tuple[str, str, dict]] = []

    def attached(listing: Any) -> None:
        policies, _ = listing
        for policy in policies:
            managed = "aws-managed" if ":aws:policy/" in policy.arn else "user-managed"
            out.append((policy.name, managed, IAMPolicy(policy)._policy_json))

    def inline(source: str, names: Any, get: Any) -> None:
        for policy_name in names:
            found = get(policy_name)
            document = found[1] if isinstance(found, tuple) else found["policy_document"]
            out.append((policy_name, source, IAMPolicy(document)._policy_json))

    try:
        if kind == "user":
            backend.get_user(name)
            inline("user", backend.list_user_policies(name), lambda p: backend.get_user_policy(name, p))
            attached(backend.list_attached_user_policies(name))
            groups = [g.name for g in backend.get_groups_for_user(name)]
        elif kind == "role":
            backend.get_role(name)
            inline("role", backend.list_role_policies(name), lambda p: backend.get_role_policy(name, p))
            attached(backend.list_attached_role_policies(name))
            groups = []
        else:
            groups = [backend.get_group(name).name]
        for group in groups:
            inline("group", backend.list_group_policies(group), lambda p, g=group: backend.get_group_policy(g, p))
            attached(backend.list_attached_group_policies(group))
    except IamError:
        raise
    except Exception as error:  # moto's NoSuchEntity / IAMNotFoundException
        raise IamError(404, "NoSuchEntity", f"The {kind} with name {name} cannot be found.") from error
    return out


def _check_caller(backend: Any, authorization: bytes | None, principal: str) -> None:
    match = _CREDENTIAL.search((authorization or b"").decode("latin-1"))
    user = _user_of_key(backend, match.group(1)) if match else None
    if user is None:
        return
    arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    decision = evaluate(principal_policies(backend, arn), OPERATION, principal, {})["EvalDecision"]
    if decision != "allowed":
        raise IamError(403, "AccessDenied",
                       f"User: {arn} is not authorized to perform: {OPERATION} on resource: {principal}")


def _user_of_key(backend: Any, key: str) -> str | None:
    for user in backend.users.values():
        if any(k.access_key_id == key for k in user.access_keys):
            return user.name
    return None


def _matches(patterns: Any, value: str, ignore_case: bool = False) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    if ignore_case:
        return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _applies(statement: dict, action: str, resource: str) -> bool:
    if "NotAction" in statement:
        if _matches(statement["NotAction"], action, ignore_case=True):  # IAM actions ignore case
            return False
    elif not _matches(statement.get("Action", []), action, ignore_case=True):
        return False
    if "NotResource" in statement:
        return not _matches(statement["NotResource"], resource)
    return _matches(statement.get("Resource", []), resource)


def _condition_holds(condition: dict, context: dict[str, list[str]], missing: set[str]) -> bool:
    """Every operator and key must hold (AND); values of one key are alternatives (OR)."""
    for operator, keys in condition.items():
        quantifier, _, op = operator.rpartition(":")
        if_exists = op.endswith("IfExists")
        op = op.removesuffix("IfExists")
        for key, expected in keys.items():
            wanted = [expected] if isinstance(expected, str) else [str(v).lower() if isinstance(v, bool) else str(v)
                                                                   for v in expected]
            actual = context.get(key.lower())
            if op == "Null":
                if (actual is None) != (wanted[0].lower() == "true"):
                    return False
                continue
            if actual is None:
                if if_exists:
                    continue
                missing.add(key)
                return False
            test = _OPERATORS.get(op)
            if test is None:
                raise IamError(400, "InvalidInput", f"drs-sim cannot evaluate condition operator {operator}")
            negated = op.startswith(("StringNot", "ArnNot"))  # not equal to any of the values
            hits = [(all if negated else any)(test(a, w) for w in wanted) for a in actual]
            if not (all(hits) if quantifier == "ForAllValues" or negated else any(hits)):
                return False
    return True


_OPERATORS = {
    "StringEquals": lambda a, w: a == w,
    "StringNotEquals": lambda a, w: a != w,
    "StringEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
    "StringLike": lambda a, w: fnmatch.fnmatchcase(a, w),
    "StringNotLike": lambda a, w: not fnmatch.fnmatchcase(a, w),
    "ArnEquals": lambda a, w: a == w,
    "ArnLike": lambda a, w: fnmatch.fnmatchcase(a, w),
    "Bool": lambda a, w: a.lower() == w.lower(),
}


def evaluate(policies: list[tuple[str, str, dict]], action: str, resource: str,
             context: dict[str, list[str]]) -> dict[str, Any]:
    """IAM's decision for one action on one resource: an explicit Deny wins, then any Allow."""
    allowed: list[dict[str, str]] = []
    denied: list[dict[str, str]] = []
    missing: set[str] = set()
    for policy_id, source_type, document in policies:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if not _applies(statement, action, resource):
                continue
            if not _condition_holds(statement.get("Condition") or {}, context, missing):
                continue
            matched = {"SourcePolicyId": policy_id, "SourcePolicyType": source_type}
            (denied if statement.get("Effect") == "Deny" else allowed).append(matched)
    decision = "explicitDeny" if denied else "allowed" if allowed else "implicitDeny"
    return {"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision,
            "MatchedStatements": denied or allowed, "MissingContextValues": sorted(missing) if not allowed else []}


def _result_xml(results: list[dict[str, Any]], request_id: str) -> str:
    members = []
    for result in results:
        matched = "".join(f"<member><SourcePolicyId>{escape(m['SourcePolicyId'])}</SourcePolicyId>"
                          f"<SourcePolicyType>{m['SourcePolicyType']}</SourcePolicyType></member>"
                          for m in result["MatchedStatements"])
        missing = "".join(f"<member>{escape(k)}</member>" for k in result["MissingContextValues"])
        members.append(f"<member><EvalActionName>{escape(result['EvalActionName'])}</EvalActionName>"
                       f"<EvalResourceName>{escape(result['EvalResourceName'])}</EvalResourceName>"
                       f"<EvalDecision>{result['EvalDecision']}</EvalDecision>"
                       f"<MatchedStatements>{matched}</MatchedStatements>"
                       f"<MissingContextValues>{missing}</MissingContextValues></member>")
    return (f'<SimulatePrincipalPolicyResponse xmlns="{XMLNS}"><SimulatePrincipalPolicyResult>'
            f"<IsTruncated>false</IsTruncated><EvaluationResults>{''.join(members)}</EvaluationResults>"
            f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{request_id}</RequestId>"
            "</ResponseMetadata></SimulatePrincipalPolicyResponse>")

