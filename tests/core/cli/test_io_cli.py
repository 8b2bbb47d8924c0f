"""File adapters and the CLI end to end: every format in, rows kept in order with their
columns plus the cluster fields; the summary layer; --help; progress; cancel."""

from __future__ import annotations

import json
import os
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from core_helpers import ID_PATTERN, check_result, fast_params, run_cli
from synthetic import clumped_population, clumped_population_frame

from core import ClusteringCancelled, cluster
from core.cli.main import main
from core.io.files import OUTPUT_FIELDS, cluster_frame, read_layer

STRATEGIES = ["compact", "balanced", "seed"]
FAST_CLI = ["--weight-field", "population", "--target-weight", 30, "--target-radius", 1500, "--max-weight", 40,
            "--initial-trials", 5, "--subsequent-trials", 3, "--quiet"]


def _source_frame(n=250, seed=6):
    frame = clumped_population_frame(n, seed)
    frame["name"] = [f"cell-{i}" for i in range(n)]
    frame["code"] = (np.arange(n) * 7) % 13
    # Shuffle so "input order" is not simply sorted by anything the engine might sort by.
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


def _write_input(frame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    elif path.suffix == ".csv":
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["lon"] = frame.geometry.x
        table["lat"] = frame.geometry.y
        table.to_csv(path, index=False)
    else:
        frame.to_file(path)


def _check_output(source: pd.DataFrame, out: pd.DataFrame):
    """Every source row, in order, all its columns unchanged, plus consistent cluster fields."""
    assert len(out) == len(source)
    for column in source.columns:
        if column == "geometry":
            continue
        assert column in out.columns, column
        if pd.api.types.is_numeric_dtype(source[column]):
            np.testing.assert_allclose(out[column].to_numpy(float), source[column].to_numpy(float), err_msg=column)
        else:
            assert list(out[column].astype(str)) == list(source[column].astype(str)), column
    for field in OUTPUT_FIELDS:
        assert field in out.columns
    ids = out["cluster_id"].astype(str)
    assert ids.map(lambda s: bool(ID_PATTERN.match(s))).all()
    totals = out.groupby(ids)["population"].sum()
    np.testing.assert_allclose(out["cluster_weight"].to_numpy(float), totals.reindex(ids).to_numpy(), rtol=1e-9)
    assert (out["cluster_pass"].astype(int) >= 1).all()
    return ids


@pytest.mark.parametrize("extension", [".parquet", ".gpkg", ".shp", ".geojson", ".fgb", ".csv"])
def test_each_input_format_round_trips(tmp_path, extension):
    source = _source_frame()
    path = tmp_path / f"input{extension}"
    _write_input(source, path)
    read_back = read_layer(path)
    assert read_back.crs is not None and read_back.crs.to_epsg() == 4326
    out_path = tmp_path / "out.parquet"
    summary_path = tmp_path / "summary.gpkg"
    code = main([str(a) for a in ["cluster", path, out_path, *FAST_CLI, "--summary", summary_path]])
    assert code == 0
    out = gpd.read_parquet(out_path)
    # The file's own row order is the input order (a FlatGeobuf written with a spatial
    # index stores its rows in Hilbert order, so it may differ from `source`).
    expected = pd.DataFrame(read_back.drop(columns="geometry"))
    if extension != ".fgb":
        assert list(read_back["name"]) == list(source["name"])
    ids = _check_output(expected, out)
    assert list(out["name"]) == list(read_back["name"])  # input order, not re-sorted
    # Geometries come back where they were.
    assert np.allclose(shapely.get_coordinates(out.geometry.values),
                       shapely.get_coordinates(read_back.geometry.values))
    summary = gpd.read_file(summary_path)
    _check_summary(summary, out, ids)


def _check_summary(summary, out, ids):
    assert len(summary) == ids.nunique()
    assert set(summary["cluster_id"]) == set(ids)
    assert (summary.geom_type == "Polygon").all(), summary.geom_type.value_counts()
    assert summary.crs == out.crs
    totals = out.groupby(ids)["population"].agg(["sum", "size"])
    summary = summary.set_index("cluster_id").loc[totals.index]
    np.testing.assert_allclose(summary["weight"], totals["sum"], rtol=1e-9)
    np.testing.assert_array_equal(summary["n_features"], totals["size"])
    # Every member lies in (or on the edge of) its cluster's polygon.
    hull = gpd.GeoSeries(summary.geometry.values, index=summary.index, crs=out.crs).reindex(ids.to_numpy())
    assert shapely.dwithin(hull.values, out.geometry.values, 1e-7).all()


@pytest.mark.parametrize("extension", [".parquet", ".gpkg", ".geojson", ".fgb"])
def test_each_output_format_keeps_rows_and_columns(tmp_path, extension):
    source = _source_frame(150, seed=2)
    source.to_parquet(tmp_path / "in.parquet")
    out_path = tmp_path / f"out{extension}"
    assert main([str(a) for a in ["cluster", tmp_path / "in.parquet", out_path, *FAST_CLI]]) == 0
    out = read_layer(out_path)
    _check_output(source.drop(columns="geometry"), out)
    assert np.allclose(shapely.get_coordinates(out.geometry.values), shapely.get_coordinates(source.geometry.values))


def test_csv_output_carries_geometry_as_wkt(tmp_path):
    source = _source_frame(120, seed=3)
    source.to_parquet(tmp_path / "in.parquet")
    assert main([str(a) for a in ["cluster", tmp_path / "in.parquet", tmp_path / "out.csv", *FAST_CLI]]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    _check_output(source.drop(columns="geometry"), out)
    geometry = shapely.from_wkt(out["wkt"].to_numpy())
    assert np.allclose(shapely.get_coordinates(geometry), shapely.get_coordinates(source.geometry.values))


def test_shapefile_output_keeps_rows_in_order(tmp_path):
    """Shapefile keeps 10 characters of a field name: wrok writes the names it stores, without OGR warnings."""
    source = _source_frame(100, seed=4)
    source.to_parquet(tmp_path / "in.parquet")
    assert main([str(a) for a in ["cluster", tmp_path / "in.parquet", tmp_path / "out.shp", *FAST_CLI]]) == 0
    out = read_layer(tmp_path / "out.shp")
    assert list(out.columns[-4:]) == ["cluster_id", "cluster_we", "cluster_pa", "geometry"]
    assert list(out["name"]) == list(source["name"])
    totals = out.groupby("cluster_id")["population"].sum()
    np.testing.assert_allclose(out["cluster_we"], totals.reindex(out["cluster_id"]).to_numpy(), rtol=1e-6)


def test_polygon_input_summary_and_radius(tmp_path):
    """Polygons in: summary hulls cover every member polygon; radii cover the shapes, not just centroids."""
    x, y, w = clumped_population(150, seed=9)
    cells = gpd.GeoSeries(shapely.box(x - 50, y - 50, x + 50, y + 50), crs=32651)
    frame = gpd.GeoDataFrame({"population": w, "cell": np.arange(len(w))}, geometry=cells.values, crs=32651)
    params = fast_params(desired_cluster_weight=20, max_cluster_weight=30, desired_cluster_radius=1500)
    out, summary, result = cluster_frame(frame, params, "population")
    ids = out["cluster_id"].astype(str)
    check_result(result, w, params, x, y, check_radius=False)
    assert (summary.geom_type == "Polygon").all()
    hull = gpd.GeoSeries(summary.set_index("cluster_id").geometry).reindex(ids.to_numpy())
    assert shapely.covers(hull.values.buffer(1e-6), frame.geometry.values).all()
    for name, radius in zip(result.clusters["cluster_id"], result.clusters["radius_m"]):
        members = frame.geometry.values[(ids == name).to_numpy()]
        assert radius == pytest.approx(shapely.minimum_bounding_radius(shapely.GeometryCollection(list(members))),
                                       rel=1e-7)


def test_cli_in_a_real_process_with_summary(tmp_path):
    source = _source_frame(200, seed=8)
    source.to_file(tmp_path / "in.gpkg")
    done = run_cli("cluster", tmp_path / "in.gpkg", tmp_path / "out.gpkg", *FAST_CLI[:-1],
                   "--summary", tmp_path / "clusters.gpkg")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    out = read_layer(tmp_path / "out.gpkg")
    ids = _check_output(source.drop(columns="geometry"), out)
    assert stats["clusters"] == ids.nunique()
    _check_summary(read_layer(tmp_path / "clusters.gpkg"), out, ids)


@pytest.mark.parametrize("argv", [["--help"], ["cluster", "--help"]])
def test_help_works_and_shows_the_example(argv):
    done = run_cli(*argv)
    assert done.returncode == 0
    assert "usage: python -m core" in done.stdout
    assert "example:" in done.stdout
    assert "python -m core cluster grids.parquet clustered.gpkg --weight-field population" in done.stdout
    assert done.stderr == ""


# --------------------------------------------------------------------------- progress and cancel


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("max_weight, min_weight, n_jobs", [(None, None, 1), (300.0, None, 1), (300.0, 60.0, 1),
                                                            (300.0, None, -1)])
def test_progress_is_monotonic_and_ends_at_one(strategy, max_weight, min_weight, n_jobs):
    x, y, w = clumped_population(3000, seed=12)
    calls = []
    params = fast_params(strategy=strategy, max_cluster_weight=max_weight, min_cluster_weight=min_weight,
                         max_passes=1 if max_weight is None else 100, weight_importance_factor=0.5, n_jobs=n_jobs)
    cluster(x, y, w, params, progress=lambda fraction, message: calls.append((fraction, message)))
    fractions = [f for f, _ in calls]
    assert len(fractions) >= 3
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b >= a for a, b in zip(fractions, fractions[1:])), fractions
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in calls)


def test_progress_through_the_file_adapter():
    calls = []
    cluster_frame(_source_frame(200), fast_params(desired_cluster_weight=30, max_cluster_weight=40), "population",
                  progress=lambda fraction, message: calls.append(fraction))
    assert calls[-1] == 1.0
    assert all(b >= a for a, b in zip(calls, calls[1:]))


@pytest.fixture(scope="module")
def big_input():
    return clumped_population(20_000, seed=13)


class _CancelAfter:
    """is_cancelled() that turns True on its `after`-th call; counts every poll and progress report."""

    def __init__(self, after):
        self.after = after
        self.calls = 0
        self.progress_after_flag = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1
            return self.calls >= self.after

    def progress(self, fraction, message):
        with self.lock:
            if self.calls >= self.after:
                self.progress_after_flag += 1


CANCEL_CASES = [("compact", 1), ("balanced", 1), ("seed", 1), ("compact", -1), ("balanced", -1), ("seed", -1)]


def _full_run(big_input, params):
    """One uncancelled run, counting its polls."""
    counter = _CancelAfter(after=10**9)
    cluster(*big_input, params, is_cancelled=counter, progress=counter.progress)
    return counter


@pytest.mark.parametrize("strategy, n_jobs", CANCEL_CASES)
def test_cancel_after_a_few_polls_stops_at_once(big_input, strategy, n_jobs):
    """Counted, not timed: once the flag is up the run raises without reporting further progress,
    after at most one poll per thread still in flight."""
    params = fast_params(strategy=strategy, n_jobs=n_jobs, initial_max_trials=6, subsequent_max_trials=3)
    total_calls = _full_run(big_input, params).calls
    assert total_calls >= 4
    threads = 1 if n_jobs == 1 else os.cpu_count()
    for after in (2, total_calls // 2, total_calls - 1):
        flag = _CancelAfter(after)
        with pytest.raises(ClusteringCancelled):
            cluster(*big_input, params, is_cancelled=flag, progress=flag.progress)
        assert flag.progress_after_flag == 0
        assert flag.calls - after <= threads, f"{flag.calls - after} polls after the flag (call {after})"


def test_cancel_through_the_file_adapter():
    with pytest.raises(ClusteringCancelled):
        cluster_frame(_source_frame(200), fast_params(desired_cluster_weight=30, max_cluster_weight=40),
                      "population", is_cancelled=lambda: True)


def test_mixed_geometry_types_are_measured_by_their_full_shapes(tmp_path):
    rng = np.random.default_rng(17)
    x, y = rng.uniform(0, 6000, 80), rng.uniform(0, 6000, 80)
    shapes = []
    for i in range(80):
        kind = i % 4
        if kind == 0:
            shapes.append(shapely.Point(x[i], y[i]))
        elif kind == 1:
            shapes.append(shapely.box(x[i] - 120, y[i] - 60, x[i] + 120, y[i] + 60))
        elif kind == 2:
            shapes.append(shapely.LineString([(x[i] - 200, y[i]), (x[i] + 200, y[i] + 50)]))
        else:
            shapes.append(shapely.MultiPoint([(x[i], y[i]), (x[i] + 90, y[i] - 90)]))
    frame = gpd.GeoDataFrame({"population": rng.uniform(1, 5, 80)}, geometry=shapes, crs=32651)
    frame.to_file(tmp_path / "mixed.gpkg")
    assert main([str(a) for a in ["cluster", tmp_path / "mixed.gpkg", tmp_path / "out.parquet", "--weight-field",
                                  "population", "--target-weight", 25, "--target-radius", 800, "--max-weight", 30,
                                  "--initial-trials", 5, "--subsequent-trials", 3, "--quiet",
                                  "--summary", tmp_path / "summary.shp"]]) == 0
    out = gpd.read_parquet(tmp_path / "out.parquet")
    ids = _check_output(pd.DataFrame(frame.drop(columns="geometry")), out)
    summary = gpd.read_file(tmp_path / "summary.shp")
    assert (summary.geom_type == "Polygon").all()
    assert len(summary) == ids.nunique()
    hull = gpd.GeoSeries(summary.set_index("cluster_id").geometry).reindex(ids.to_numpy())
    assert shapely.covers(hull.values.buffer(1e-6), frame.geometry.values).all()
    radii = dict(zip(summary["cluster_id"], summary["radius_m"]))
    for name in ids.unique():
        members = shapely.GeometryCollection(list(frame.geometry.values[(ids == name).to_numpy()]))
        assert radii[name] == pytest.approx(shapely.minimum_bounding_radius(members), rel=1e-6)


def test_layer_option_picks_a_layer_of_a_geopackage(tmp_path):
    first, second = _source_frame(60, seed=1), _source_frame(90, seed=2)
    first.to_file(tmp_path / "two.gpkg", layer="first")
    second.to_file(tmp_path / "two.gpkg", layer="second")
    assert main([str(a) for a in ["cluster", tmp_path / "two.gpkg", tmp_path / "out.parquet", "--layer", "second",
                                  *FAST_CLI]]) == 0
    out = gpd.read_parquet(tmp_path / "out.parquet")
    _check_output(pd.DataFrame(second.drop(columns="geometry")), out)


def test_cli_reports_heavy_features_and_stays_quiet_when_asked(tmp_path, capsys):
    source = _source_frame(120, seed=5)
    source.loc[7, "population"] = 500.0  # alone over the max of 40
    source.to_parquet(tmp_path / "in.parquet")
    loud = [a for a in FAST_CLI if a != "--quiet"]
    assert main([str(a) for a in ["cluster", tmp_path / "in.parquet", tmp_path / "out.parquet", *loud]]) == 0
    captured = capsys.readouterr()
    stats = json.loads(captured.out.strip().splitlines()[-1])
    assert stats["heavy_features"] == 1
    assert captured.err.strip().splitlines()[-1].startswith("note: 1 feature(s) alone outweigh the max weight")
    out = gpd.read_parquet(tmp_path / "out.parquet")
    assert (out["cluster_id"] == out["cluster_id"][7]).sum() == 1
    assert main([str(a) for a in ["cluster", tmp_path / "in.parquet", tmp_path / "out2.parquet", *FAST_CLI]]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
