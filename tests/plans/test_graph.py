from __future__ import annotations

import graphlib

import pytest

from airflow_provider_drs.plans import WaveGraph, find_cycles, load_catalogue

from .test_valid_plans import SAMPLES


@pytest.fixture(scope="module")
def plans():
    return load_catalogue(SAMPLES).plans


def test_diamond(plans):
    graph = WaveGraph(plans["diamond"])
    assert graph.order == ["core", "app", "web-a", "web-b"]
    assert graph.parallel_sets == [{"core"}, {"app", "web-a"}, {"web-b"}]
    assert graph.critical_path == ["core", "app", "web-b"]  # ties go to file order
    assert graph.upstream("web-b") == ["core", "app", "web-a"]
    assert graph.downstream("core") == ["app", "web-a", "web-b"]
    assert graph.downstream("web-b") == [] and graph.roots() == ["core"]
    with pytest.raises(KeyError):
        graph.upstream("nope")


def test_three_tier_chain(plans):
    graph = WaveGraph(plans["three-tier"])
    assert graph.order == ["database", "app", "web"]
    assert graph.parallel_sets == [{"database"}, {"app"}, {"web"}]
    assert graph.critical_path == ["database", "app", "web"]


def test_order_is_stable_in_file_order_not_by_level():
    graph = WaveGraph.from_edges(["a", "b", "c", "d"], {"b": ["a"], "d": ["c"]})
    assert graph.order == ["a", "b", "c", "d"]
    assert graph.parallel_sets == [{"a", "c"}, {"b", "d"}]
    # a wave written before its dependency still comes after it
    graph = WaveGraph.from_edges(["late", "early"], {"late": ["early"]})
    assert graph.order == ["early", "late"]


def test_critical_path_prefers_longer_chain_then_more_servers():
    graph = WaveGraph(names=["a", "b", "c", "d"], deps={"c": ["a"], "d": ["b"]}, weights={"a": 1, "b": 5, "c": 1, "d": 1})
    assert graph.critical_path == ["b", "d"]
    graph = WaveGraph.from_edges(["a", "b", "c"], {"b": ["a"]})
    assert graph.critical_path == ["a", "b"]


def test_cycles_are_named_whole_and_separately():
    deps = {"a": ["c"], "b": ["a"], "c": ["b"], "x": ["y"], "y": ["x"], "z": ["z"], "ok": []}
    assert find_cycles(list(deps), deps) == [["a", "c", "b", "a"], ["x", "y", "x"], ["z", "z"]]
    assert find_cycles(["a", "b"], {"a": ["b", "unknown"], "b": []}) == []
    with pytest.raises(graphlib.CycleError):
        WaveGraph.from_edges(["a", "b"], {"a": ["b"], "b": ["a"]})
