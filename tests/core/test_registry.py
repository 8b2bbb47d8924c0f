"""core.registry: every parameter declared once, and each front end's options generated from it."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from aws.cli import build_parser as aws_parser
from core.cli.main import build_parser as core_parser
from core.params import DEFAULTS, ClusteringInputError, ClusteringParams
from core.registry import ENGINE_PARAMETERS, PARAMETERS, REQUIRED, STRATUM_COLUMNS, engine_params, reference_markdown


def options_of(parser) -> dict:
    """{option string: dest} of a parser, its subcommands included."""
    found = {}
    for action in parser._actions:
        for option in action.option_strings:
            found[option] = action.dest
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                found.update({f"{sub} {o}": d for o, d in options_of(subparser).items()})
    return found


def test_every_engine_field_is_declared_once_with_the_engine_default():
    fields = {f.name: f for f in dataclasses.fields(ClusteringParams)}
    declared = [entry.engine_field for entry in ENGINE_PARAMETERS]
    assert sorted(declared) == sorted(fields) and len(set(declared)) == len(declared)
    for entry in ENGINE_PARAMETERS:
        expected = REQUIRED if fields[entry.engine_field].default is dataclasses.MISSING else DEFAULTS[entry.engine_field]
        assert entry.default == expected or entry.default is expected, entry.name


def test_each_front_end_takes_the_registry_flags_under_the_registry_names():
    """Adding a parameter to the registry adds it to `python -m core cluster` and `python -m aws submit`."""
    cluster, submit = options_of(core_parser()), options_of(aws_parser())
    for entry in ENGINE_PARAMETERS:
        for flag in (entry.cli, *entry.cli_aliases):
            assert cluster[f"cluster {flag}"] == entry.name, flag
            assert submit[f"submit {flag}"] == entry.name, flag
    sample = {o: d for o, d in options_of(core_parser()).items() if o.startswith("sample ")}
    assert sample["sample --seed"] == "sample_seed" and sample["sample --n"] == "n"
    assert cluster["classify --seed"] == "seed" and cluster["classify --random-state"] == "seed"
    # per-stratum fields: one --X-field option per strata-table column
    assert {f"cluster {PARAMETERS[name].cli}-field" for name in STRATUM_COLUMNS} <= set(cluster)


@pytest.mark.parametrize("values, expected", [
    ({}, {"max_cluster_weight": None, "max_passes": 1}),  # empty: no cap, one pass
    ({"max_weight": 0}, {"max_cluster_weight": None, "max_passes": 1}),  # 0: the same
    ({"max_weight": 300}, {"max_cluster_weight": 300.0, "max_passes": 100}),
    ({"max_weight": 300, "max_passes": 3}, {"max_passes": 3}),
    ({"seed": 9, "jobs": -1}, {"random_state": 9, "n_jobs": -1}),
])
def test_engine_params_apply_one_meaning_of_empty(values, expected):
    params = engine_params({"target_weight": 240, "target_radius": 1000, **values})
    assert {name: getattr(params, name) for name in expected} == expected


@pytest.mark.parametrize("values, message", [
    ({"max_passes": 5}, r"maximum passes \(5\) applies only with a maximum weight"),
    ({"reassignment_ratio": 0.3}, "reassignment ratio applies only with the seed strategy"),
    ({"target_radius": -5}, r"target cluster radius must be > 0 \(got -5\)"),
    ({"jobs": 0}, "parallel threads must be -1"),
    ({"seed": -1}, "random seed must be from 0 to"),
    ({"colour": 1}, "unknown parameter"),
    ({"target_weight": None}, "target cluster weight is required"),
])
def test_engine_params_refuse_what_cannot_apply(values, message):
    with pytest.raises(ClusteringInputError, match=message):
        engine_params({"target_weight": 240, "target_radius": 1000, **values})


def test_reference_lists_every_parameter_with_its_names():
    text = reference_markdown()
    for entry in PARAMETERS.values():
        assert f"| `{entry.name}` | `{entry.qgis}` | `{entry.cli}`" in text
    assert "formerly `RANDOM_SEED`, `--random-state`" in text
