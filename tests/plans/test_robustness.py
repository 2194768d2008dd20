"""Mangled plans never crash the loader: every mutation ends in errors or a valid plan."""

from __future__ import annotations

import os

from airflow_provider_drs.plans import load_catalogue

from .test_valid_plans import SAMPLES


def _mutations(text: str):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        yield "\n".join(lines[:i] + lines[i + 1:])  # drop a line
        if ":" in line:
            key = line.split(":", 1)[0]
            for value in ("[]", "{}", "null", "7", "'{{ x'", "[1, {a: b}]"):
                yield "\n".join(lines[:i] + [f"{key}: {value}"] + lines[i + 1:])


def test_mutated_samples_never_crash(tmp_path):
    for name in ("three-tier.yaml", "diamond.yaml"):
        with open(os.path.join(SAMPLES, name)) as handle:
            text = handle.read()
        for n, mutated in enumerate(_mutations(text)):
            path = tmp_path / f"{n}-{name}"
            path.write_text(mutated)
            catalogue = load_catalogue([path])
            assert catalogue.plans or catalogue.errors, mutated
            for error in catalogue.errors:
                assert error.line >= 1 and str(error).startswith(f"{path}:")
