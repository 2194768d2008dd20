from __future__ import annotations

import pytest

from airflow_provider_drs.plans import (
    Reference,
    ReferenceSyntaxError,
    Resolver,
    StaticResolver,
    UnresolvedReference,
    parse_references,
    render,
    render_value,
)


def test_parse_every_kind_with_spans():
    text = "a {{ ssm:/dr/topic }} b {{cfn:Net.VpcId}} {{  instance:s-3578f52ef3bdd58b4  }}"
    refs = parse_references(text)
    assert [(r.kind, r.value) for r in refs] == [
        ("ssm", "/dr/topic"), ("cfn", "Net.VpcId"), ("instance", "s-3578f52ef3bdd58b4")]
    assert text[slice(*refs[0].span)] == "{{ ssm:/dr/topic }}"
    assert text[slice(*refs[1].span)] == "{{cfn:Net.VpcId}}"
    assert str(refs[2]) == "{{ instance:s-3578f52ef3bdd58b4 }}"
    assert parse_references("no references") == []


@pytest.mark.parametrize("text, message", [
    ("{{ secret:/x }}", "is not a plan reference"),
    ("{{ ds }}", "is not a plan reference"),
    ("{{ sm:/x }}", "is not a plan reference"),
    ("{{ cfn:NoOutput }}", "malformed cfn reference"),
    ("{{ instance:i-0123 }}", "malformed instance reference"),
    ("{{ ssm:/bad path }}", "malformed ssm reference"),
    ("x {{ ssm:/a", "without a closing"),
])
def test_bad_syntax(text, message):
    with pytest.raises(ReferenceSyntaxError, match=message):
        parse_references(text)


def test_did_you_mean_kind():
    with pytest.raises(ReferenceSyntaxError) as info:
        parse_references("{{ ssn:/x }}")
    assert "did you mean 'ssm'?" in info.value.problem.hint


def test_render_substitutes_every_reference():
    resolver = StaticResolver({"ssm:/dr/topic": "arn:aws:sns:us-east-1:123456789012:dr",
                               "instance:s-3578f52ef3bdd58b4": "i-0abc"})
    assert isinstance(resolver, Resolver)
    assert render("{{ ssm:/dr/topic }}", resolver) == "arn:aws:sns:us-east-1:123456789012:dr"
    assert render("id={{instance:s-3578f52ef3bdd58b4}}, again {{ instance:s-3578f52ef3bdd58b4 }}.", resolver) == \
        "id=i-0abc, again i-0abc."
    assert render_value({"InstanceId": ["{{ instance:s-3578f52ef3bdd58b4 }}"], "n": 3}, resolver) == \
        {"InstanceId": ["i-0abc"], "n": 3}
    with pytest.raises(UnresolvedReference, match="cfn:A.B"):
        render("{{ cfn:A.B }}", resolver)


def test_custom_resolver_sees_reference_objects():
    seen = []

    class Upper:
        def resolve(self, reference: Reference) -> str:
            seen.append(reference)
            return reference.value.upper()

    assert render("<{{ ssm:/a/b }}>", Upper()) == "</A/B>"
    assert seen[0].kind == "ssm"
