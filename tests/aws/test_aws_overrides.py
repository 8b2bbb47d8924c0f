"""Per-file parameter resolution."""

from __future__ import annotations

import pandas as pd
import pytest

from aws.overrides import resolve_params, value_label
from core import ClusteringInputError

BASE = {"desired_cluster_weight": 240, "desired_cluster_radius": 1000, "max_cluster_weight": 300}


def test_later_matching_patterns_win_and_others_are_ignored():
    params = resolve_params(BASE, "ph/mindanao/davao.parquet", params_by_key={
        "ph/*": {"desired_cluster_radius": 2000}, "*davao*": {"desired_cluster_radius": 700},
        "*/luzon/*": {"desired_cluster_weight": 999}})
    assert (params.desired_cluster_radius, params.desired_cluster_weight) == (700, 240)


@pytest.mark.parametrize("values, expected", [([1.0, 1.0], "1"), ([True], "true"), (["urban"], "urban")])
def test_column_values_compare_as_text(values, expected):
    frame = pd.DataFrame({"kind": values})
    params = resolve_params(BASE, "k", frame, params_by_column={
        "field": "kind", "values": {expected: {"desired_cluster_radius": 123}}})
    assert params.desired_cluster_radius == 123 and value_label(values[0]) == expected


@pytest.mark.parametrize("column, expected", [
    ([0, 1], "one value per file"), ([2, 2], "has value '2'"), ([None, None], "found 0")])
def test_column_override_refuses_ambiguous_or_unlisted_values(column, expected):
    frame = pd.DataFrame({"urban": column})
    with pytest.raises(ClusteringInputError, match=expected):
        resolve_params(BASE, "k", frame, params_by_column={"field": "urban", "values": {"0": {}, "1": {}}})


def test_override_column_must_exist():
    with pytest.raises(ClusteringInputError, match="'urban' not found"):
        resolve_params(BASE, "k", pd.DataFrame({"x": [1]}), params_by_column={"field": "urban", "values": {}})
