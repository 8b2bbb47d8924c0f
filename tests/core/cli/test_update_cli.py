"""`python -m core cluster --previous-field`: a previous run's output updated for new weights, end to end."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from core_helpers import run_cli
from synthetic import clumped_population_frame

from core.cli.main import main

SETTINGS = ["--weight-field", "population", "--target-weight", 60, "--target-radius", 1500, "--max-weight", 75,
            "--initial-trials", 5, "--subsequent-trials", 3]


def _totals(frame, field="cluster_id"):
    return frame.groupby(frame[field].astype(str))["population"].sum()


def test_previous_output_is_updated_in_a_real_process(tmp_path):
    source = clumped_population_frame(3000, seed=11)
    first_in, first_out, second_in, second_out = (tmp_path / name for name in
                                                  ("a.parquet", "a_out.parquet", "b.parquet", "b_out.parquet"))
    source.to_parquet(first_in)
    assert main(["cluster", str(first_in), str(first_out), *map(str, SETTINGS), "--quiet"]) == 0
    previous = gpd.read_parquet(first_out)
    # The new release: the western third grows by 30 %, and the earlier run's IDs travel as `psu_2024`.
    release = previous.rename(columns={"cluster_id": "psu_2024"}).drop(columns=["cluster_weight", "cluster_pass"])
    west = release.geometry.x < release.geometry.x.quantile(0.3)
    release.loc[west, "population"] *= 1.3
    release.to_parquet(second_in)
    done = run_cli("cluster", second_in, second_out, *SETTINGS, "--previous-field", "psu_2024", timeout=300)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    updated = gpd.read_parquet(second_out)
    assert list(updated["psu_2024"]) == list(release["psu_2024"])  # the previous field is kept as it was
    totals = _totals(updated)
    assert ((totals - 60).abs() <= 12).all()
    changed = (updated["cluster_id"].astype(str) != updated["psu_2024"].astype(str))
    assert stats["changed_feature_share"] == pytest.approx(changed.mean(), abs=5e-4)
    assert changed.mean() < 0.3
    new = set(updated["cluster_id"]) - set(updated["psu_2024"])
    assert stats["clusters_new"] == len(new)
    assert stats["clusters_retired"] == len(set(updated["psu_2024"]) - set(updated["cluster_id"]))
    # Clusters that kept their members also kept their weight under the old field's name.
    untouched = [name for name in set(updated["cluster_id"])
                 if set(np.flatnonzero(updated["cluster_id"] == name)) == set(np.flatnonzero(updated["psu_2024"] == name))]
    assert stats["clusters_unchanged"] == len(untouched) > 0


def test_a_missing_previous_field_is_refused_before_any_work(tmp_path, capsys):
    path = tmp_path / "in.parquet"
    frame = clumped_population_frame(200, seed=2)
    frame.to_parquet(path)
    out = tmp_path / "out.parquet"
    assert main(["cluster", str(path), str(out), *map(str, SETTINGS), "--previous-field", "psu", "--quiet"]) == 2
    message = capsys.readouterr().err
    assert "previous cluster field 'psu' not found" in message and "population" in message
    assert not out.exists()


def test_new_features_with_an_empty_previous_id_are_placed(tmp_path):
    frame = clumped_population_frame(1500, seed=4)
    first = tmp_path / "first.gpkg"
    frame.to_file(first)
    out = tmp_path / "out.gpkg"
    assert main(["cluster", str(first), str(out), *map(str, SETTINGS), "--quiet"]) == 0
    previous = gpd.read_file(out, layer="out")
    added = previous.iloc[:25].copy()
    added["cluster_id"] = pd.NA  # new homes: no previous cluster
    grown = pd.concat([previous, added], ignore_index=True)
    second = tmp_path / "second.gpkg"
    grown.to_file(second)
    result = tmp_path / "result.gpkg"
    assert main(["cluster", str(second), str(result), *map(str, SETTINGS), "--previous-field", "cluster_id",
                 "--quiet"]) == 0
    updated = gpd.read_file(result, layer="result")
    assert updated["cluster_id"].notna().all() and len(updated) == len(grown)
    assert ((_totals(updated) - 60).abs() <= 12).all()
