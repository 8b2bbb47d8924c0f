"""Strata through the engine: each stratum clustered alone, its own targets, readable prefixed IDs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from core_helpers import fast_params

from core import ClusteringInputError, cluster
from core.frame.strata import cluster_strata, params_from_fields, params_from_table, stratum_keys

GRIDS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "grids.parquet"


@pytest.fixture(scope="module")
def grids():
    if not GRIDS.exists():
        pytest.skip("../shared/data/grids.parquet is not here")
    import geopandas as gpd

    frame = gpd.read_parquet(GRIDS)
    projected = frame.geometry.to_crs(3121)
    frame["x"], frame["y"] = projected.x.to_numpy(), projected.y.to_numpy()
    # grids is one PSGC, all urban: a synthetic east/west split gives the urban field two values.
    frame["urban"] = frame["x"] > np.median(frame["x"])
    frame["band"] = np.digitize(frame["y"], np.quantile(frame["y"], [0.25, 0.5, 0.75]))
    return frame


def test_keys_are_readable_and_file_safe(grids):
    keys = stratum_keys({"PSGC": grids["PSGC"], "urban": grids["urban"]})
    assert set(keys) == {"PSGC1102305007_urban", "PSGC1102305007_not-urban"}
    assert list(stratum_keys({"region": ["Davao del Sur", "N/A", "x"]})) == ["Davao-del-Sur", "N-A", "x"]


def test_keys_refuse_missing_values_and_collisions():
    with pytest.raises(ClusteringInputError, match="2 feature.*no value in stratum field 'region'"):
        stratum_keys({"region": ["a", None, float("nan")]})
    with pytest.raises(ClusteringInputError, match="same key 'a-b'"):
        stratum_keys({"region": ["a b", "a/b"]})


def test_each_stratum_is_clustered_on_its_own(grids):
    x, y, w = grids["x"].to_numpy(), grids["y"].to_numpy(), grids["population"].to_numpy(float)
    keys = stratum_keys({"urban": grids["urban"], "band": grids["band"]})
    base = fast_params()
    by_stratum = {k: base for k in set(keys)}
    result = cluster_strata(x, y, w, keys, by_stratum, base, n_jobs=2)
    assert len(result.strata) == 8
    ids = result.cluster_id.astype(str)
    for key in set(keys):
        members = keys == key
        alone = cluster(x[members], y[members], w[members], base)
        assert list(ids[members]) == [f"{key}_{name}" for name in alone.cluster_id]
        rows = result.clusters["stratum"] == key
        np.testing.assert_allclose(np.sort(result.clusters["weight"][rows]), np.sort(alone.clusters["weight"]))
    # every cluster lies in one stratum, and no feature is lost
    assert np.isclose(result.clusters["weight"].sum(), w.sum())
    assert sum(result.clusters["n_features"]) == len(x)
    serial = cluster_strata(x, y, w, keys, by_stratum, base, n_jobs=1)
    assert list(serial.cluster_id) == list(result.cluster_id)


def test_table_gives_each_stratum_its_targets(grids):
    x, y, w = grids["x"].to_numpy(), grids["y"].to_numpy(), grids["population"].to_numpy(float)
    keys = stratum_keys({"PSGC": grids["PSGC"], "urban": grids["urban"]})
    rows = [  # as csv.DictReader gives them: text
        {"PSGC": "1102305007", "urban": "TRUE", "target_weight": "150", "max_weight": "200", "max_radius": ""},
        {"PSGC": "1102305007", "urban": "false", "target_weight": "600", "max_weight": "700",
         "max_radius": "1500"},
    ]
    params, warnings = params_from_table(rows, ["PSGC", "urban"], keys, fast_params())
    assert warnings == []
    urban, rural = params["PSGC1102305007_urban"], params["PSGC1102305007_not-urban"]
    assert (urban.desired_cluster_weight, urban.max_cluster_weight, urban.max_cluster_radius) == (150, 200, None)
    assert (rural.desired_cluster_weight, rural.max_cluster_radius) == (600, 1500)
    result = cluster_strata(x, y, w, keys, params, fast_params())
    for stratum_params, stratum_result in result.strata.values():
        assert stratum_result.clusters["weight"].max() <= stratum_params.max_cluster_weight
    urban_weights = result.strata["PSGC1102305007_urban"][1].clusters["weight"]
    assert abs(np.median(urban_weights) - 150) < 0.2 * 150
    rural_radii = result.clusters["radius_m"][result.clusters["stratum"] == "PSGC1102305007_not-urban"]
    assert rural_radii.max() <= 1500
    assert result.stats()["strata"] == 2


def test_table_keyed_by_stratum_column_and_its_errors():
    keys = np.array(["north", "south", "south"], dtype=object)
    base = fast_params()
    params, warnings = params_from_table([{"stratum": "north", "n_clusters": "3"}, {"stratum": "south"},
                                          {"stratum": "east", "target_weight": 10}], ["region"], keys, base)
    assert params["north"].n_clusters == 3 and params["south"] == base
    assert warnings == ["strata table row(s) east match no feature"]
    with pytest.raises(ClusteringInputError, match="stratum south: max cluster weight .*below the target"):
        params_from_table([{"stratum": "north"}, {"stratum": "south", "max_weight": "100"}], ["region"], keys, base)
    with pytest.raises(ClusteringInputError, match="stratum north: target_radius must be a number"):
        params_from_table([{"stratum": "north", "target_radius": "wide"}, {"stratum": "south"}], ["r"], keys, base)
    with pytest.raises(ClusteringInputError, match="stratum north: n_clusters must be a whole number"):
        params_from_table([{"stratum": "north", "n_clusters": "2.5"}, {"stratum": "south"}], ["r"], keys, base)
    with pytest.raises(ClusteringInputError, match="stratum south has no row in the strata table"):
        params_from_table([{"stratum": "north"}], ["region"], keys, base)
    with pytest.raises(ClusteringInputError, match="stratum north: the strata table has two rows"):
        params_from_table([{"stratum": "north"}, {"stratum": "north"}], ["region"], keys, base)
    with pytest.raises(ClusteringInputError, match="unknown column.*target_wieght"):
        params_from_table([{"stratum": "north", "target_wieght": 3}], ["region"], keys, base)


def test_targets_from_fields_on_the_features():
    keys = np.array(["urban", "urban", "not-urban"], dtype=object)
    radius = [500.0, 500.0, 2000.0]
    params = params_from_fields(keys, {"target_radius": radius}, fast_params())
    assert params["urban"].desired_cluster_radius == 500 and params["not-urban"].desired_cluster_radius == 2000
    with pytest.raises(ClusteringInputError, match="stratum urban: the target_radius field holds several values"):
        params_from_fields(keys, {"target_radius": [500.0, 700.0, 2000.0]}, fast_params())


def test_more_clusters_than_features_names_the_stratum():
    base = fast_params()
    with pytest.raises(ClusteringInputError, match="stratum b: 5 clusters asked but it has only 1"):
        cluster_strata([0, 1, 2], [0, 0, 0], [1, 1, 1], ["a", "a", "b"],
                       {"a": base, "b": dataclasses.replace(base, n_clusters=5)}, base)


def test_count_notes_say_when_caps_split_a_fixed_count():
    from core.frame.strata import StrataResult, count_notes

    x, y = np.arange(40.0) * 100, np.zeros(40)
    base = fast_params(max_cluster_weight=None, max_passes=1)
    wide = cluster(x, y, None, base, max_cluster_radius=300)  # the radius cap adds clusters
    asked = dataclasses.replace(wide, params=dataclasses.replace(base, n_clusters=2))
    assert count_notes(asked) == [f"{len(wide.clusters)} clusters instead of the 2 asked for: the maximum weight "
                                  "or radius split some"]
    assert count_notes(wide) == []
    strata = StrataResult(wide.cluster_id, wide.cluster_weight, wide.cluster_pass, wide.clusters, base,
                          strata={"north": (asked.params, asked), "south": (base, wide)})
    assert count_notes(strata)[0].startswith(f"stratum north: {len(wide.clusters)} clusters instead of the 2")


def test_exactly_n_clusters_per_stratum_from_the_table(grids):
    x, y, w = grids["x"].to_numpy(), grids["y"].to_numpy(), grids["population"].to_numpy(float)
    keys = stratum_keys({"urban": grids["urban"]})
    base = fast_params(max_cluster_weight=None, max_passes=1)
    params, _ = params_from_table([{"urban": "true", "n_clusters": "12"}, {"urban": "false", "n_clusters": "30"}],
                                  ["urban"], keys, base)
    result = cluster_strata(x, y, w, keys, params, base)
    for key, wanted in (("urban", 12), ("not-urban", 30)):
        weights = result.clusters["weight"][result.clusters["stratum"] == key]
        assert len(weights) == wanted  # exactly N, tuning skipped
        mean = w[keys == key].sum() / wanted
        assert np.all(np.abs(weights - mean) <= 0.25 * mean)  # and balanced
