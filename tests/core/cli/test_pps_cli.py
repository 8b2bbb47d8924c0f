"""`python -m core sample` end to end: cluster a layer, stratify its clusters, draw PPS, check the files."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from core_helpers import run_cli
from synthetic import clumped_population_frame

SAMPLE_FIELDS = ["inclusion_prob", "design_weight", "selection_order", "certainty", "replacement"]


@pytest.fixture(scope="module")
def clustered(tmp_path_factory):
    """A clustered layer and its cluster layer, the clusters split into east and west strata."""
    folder = tmp_path_factory.mktemp("pps")
    source = folder / "cells.gpkg"
    clumped_population_frame(600, seed=3).to_file(source)
    members, hulls = folder / "clustered.gpkg", folder / "hulls.gpkg"
    done = run_cli("cluster", source, members, "--weight-field", "population", "--target-weight", 30,
                   "--target-radius", 1500, "--max-weight", 40, "--initial-trials", 5, "--subsequent-trials", 3,
                   "--summary", hulls, "--quiet")
    assert done.returncode == 0, done.stderr
    clusters = gpd.read_file(hulls)
    clusters["side"] = np.where(clusters["centroid_x"] < clusters["centroid_x"].median(), "west", "east")
    clusters.to_file(hulls)
    return folder, members, hulls


def test_sample_per_stratum_from_a_table_with_members(clustered):
    folder, members, hulls = clustered
    table = folder / "sizes.csv"
    table.write_text("side,n,replacements\nwest,4,1\neast,3,2\n")
    out, member_out = folder / "sample.gpkg", folder / "sample_members.gpkg"
    done = run_cli("sample", hulls, out, "--sizes", table, "--stratum-field", "side", "--seed", 5,
                   "--members", members, "--members-output", member_out)
    assert done.returncode == 0, done.stderr
    frame, sample = gpd.read_file(hulls), gpd.read_file(out)
    assert set(SAMPLE_FIELDS) <= set(sample.columns) and set(frame.columns) <= set(sample.columns)
    for side, n, r in (("west", 4, 1), ("east", 3, 2)):
        mine = sample[sample["side"] == side]
        assert mine["selection_order"].tolist() == list(range(1, n + r + 1))
        assert mine["replacement"].astype(bool).tolist() == [False] * n + [True] * r
        stratum = frame[frame["side"] == side]
        # No certainty units here (checked), so pi = n * size / stratum total.
        assert not mine["certainty"].astype(bool).any() and stratum["weight"].max() * n < stratum["weight"].sum()
        expected = n * mine["weight"] / stratum["weight"].sum()
        np.testing.assert_allclose(mine["inclusion_prob"], expected)
        np.testing.assert_allclose(mine["design_weight"], 1 / expected)
    assert sample["cluster_id"].is_unique

    source, chosen = gpd.read_file(members), gpd.read_file(member_out)
    wanted = source[source["cluster_id"].isin(sample["cluster_id"])]
    assert chosen["cell_id"].tolist() == wanted["cell_id"].tolist()  # every member once, in input order
    by_cluster = sample.set_index("cluster_id")
    for field in SAMPLE_FIELDS:
        np.testing.assert_allclose(chosen[field].astype(float), by_cluster.loc[chosen["cluster_id"], field].astype(float))


def test_same_seed_same_sample_and_summary_on_stdout(clustered, tmp_path):
    _, _, hulls = clustered
    runs = [run_cli("sample", hulls, tmp_path / f"s{i}.gpkg", "--n", 5, "--seed", 8) for i in range(2)]
    assert all(done.returncode == 0 for done in runs)
    assert '"selected": 5' in runs[0].stdout
    first, second = (gpd.read_file(tmp_path / f"s{i}.gpkg") for i in range(2))
    assert first["cluster_id"].tolist() == second["cluster_id"].tolist()


@pytest.mark.parametrize("arguments, message", [
    (["--n", 10_000], "but n = 10000 PSUs were asked for"),
    (["--n", 3, "--weight-field", "people"], "field 'people' is not in the cluster layer"),
    (["--n", 3, "--stratum-field", "region"], "field 'region' is not in the cluster layer"),
    (["--n", 3, "--members", "x.gpkg"], "--members and --members-output go together"),
])
def test_bad_requests_fail_before_writing(clustered, tmp_path, arguments, message):
    _, _, hulls = clustered
    out = tmp_path / "sample.gpkg"
    out.write_bytes(b"keep me")
    done = run_cli("sample", hulls, out, *arguments)
    assert done.returncode == 2 and message in done.stderr
    assert out.read_bytes() == b"keep me"


def test_an_input_is_never_the_output(clustered):
    folder, members, hulls = clustered
    before = hulls.read_bytes()
    done = run_cli("sample", hulls, hulls, "--n", 3)
    assert done.returncode == 2 and "is an input of this run" in done.stderr
    done = run_cli("sample", hulls, folder / "s.gpkg", "--n", 3, "--members", members, "--members-output", members)
    assert done.returncode == 2 and "is an input of this run" in done.stderr
    assert hulls.read_bytes() == before


def test_zero_weight_clusters_are_named(clustered, tmp_path):
    _, _, hulls = clustered
    frame = gpd.read_file(hulls)
    frame.loc[2, "weight"] = 0
    broken = tmp_path / "broken.gpkg"
    frame.to_file(broken)
    done = run_cli("sample", broken, tmp_path / "out.gpkg", "--n", 3)
    assert done.returncode == 2
    assert f"zero or negative weight, which PPS cannot select: {frame.loc[2, 'cluster_id']}" in done.stderr


def test_report_shows_the_design_and_every_psu(clustered, tmp_path):
    folder, _, hulls = clustered
    table = folder / "sizes_report.csv"
    table.write_text("side,n\nwest,3\neast,2\n")
    out, report = tmp_path / "sample.gpkg", tmp_path / "sample.html"
    done = run_cli("sample", hulls, out, "--sizes", table, "--stratum-field", "side", "--replacements", 1,
                   "--report", report, "--quiet")
    assert done.returncode == 0, done.stderr
    sample, frame, text = gpd.read_file(out), gpd.read_file(hulls), report.read_text()
    assert "PSUs (5 selected, 2 replacements)" in text and text.count("data:image/png;base64,") == 1
    for row in sample.itertuples():
        assert f"<td>{row.cluster_id}</td>" in text and f"<td>{row.inclusion_prob:.4f}</td>" in text
    for side in ("west", "east"):
        total = frame.loc[frame["side"] == side, "weight"].sum()
        assert f"<td>{side}</td><td>{(frame['side'] == side).sum()}</td><td>{total:,.1f}</td>" in text
        # Horvitz-Thompson from the PSUs gives the stratum total back: the design weights are right.
        assert text.count(f"<td>{total:,.1f}</td>") == 2


def test_a_stratum_marked_not_sampled_is_left_out_and_said_so(clustered, tmp_path):
    import json

    folder, _, hulls = clustered
    table = tmp_path / "sizes.csv"
    table.write_text("side,n,replacements\nwest,3,1\neast,0,\n")
    refused = run_cli("sample", hulls, tmp_path / "s.gpkg", "--sizes", table, "--stratum-field", "side")
    assert refused.returncode == 2 and "n for stratum 'east' is 0" in refused.stderr
    assert not (tmp_path / "s.gpkg").exists()
    table.write_text("side,n,replacements\nwest,3,1\neast,not sampled,\n")
    done = run_cli("sample", hulls, tmp_path / "s.gpkg", "--sizes", table, "--stratum-field", "side",
                   "--report", tmp_path / "s.html")
    assert done.returncode == 0, done.stderr
    sample = gpd.read_file(tmp_path / "s.gpkg", layer="s")
    assert set(sample["side"]) == {"west"} and len(sample) == 4
    east = next(s for s in json.loads(done.stdout)["strata"] if s["stratum"] == "east")
    assert east["n"] == 0 and not east["sampled"] and "interval" not in east  # no NaN figures in the JSON
    text = (tmp_path / "s.html").read_text()
    assert "<td>east</td>" in text and "not sampled" in text and "not estimated" in text
