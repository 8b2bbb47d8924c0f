"""Bad and awkward input: the API raises ClusteringInputError naming the problem, the CLI
exits non-zero with one `error: ...` line; the awkward-but-valid cases still cluster."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from core_helpers import check_cap, check_result, fast_params, run_cli
from pyproj import CRS, Transformer
from synthetic import clumped_population, clumped_population_frame

from core import DEFAULT_STRATEGY, ClusteringInputError, ClusteringParams, cluster
from core.cli.main import main
from core.io.files import cluster_frame, read_layer

STRATEGIES = ["compact", "balanced", "seed"]


def _points(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 5000, n), rng.uniform(0, 5000, n)


def _cli_error(capsys, *args) -> str:
    """Run the CLI in-process; it must return non-zero and print exactly one `error:` line."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


CLI_TARGETS = ["--target-weight", 240, "--target-radius", 1000, "--initial-trials", 4,
               "--subsequent-trials", 3, "--quiet"]


# --------------------------------------------------------------------------- API: arrays


def test_empty_input_is_rejected():
    with pytest.raises(ClusteringInputError, match="no features"):
        cluster([], [], [], fast_params())


def test_non_numeric_weights_are_rejected():
    x, y = _points(3)
    with pytest.raises(ClusteringInputError, match="weights must be numbers"):
        cluster(x, y, ["1", "two", "3"], fast_params())


@pytest.mark.parametrize("bad, count, word", [
    ([-1.0, 2.0, -0.5], 2, "negative"),
    ([np.nan, 2.0, 3.0], 1, "missing"),
    ([None, None, 3.0], 2, "missing"),
    ([np.inf, 2.0, 3.0], 1, "infinite"),
])
def test_bad_weight_values_are_counted_and_named(bad, count, word):
    x, y = _points(3)
    with pytest.raises(ClusteringInputError) as info:
        cluster(x, y, np.array(bad, dtype=object), fast_params())
    message = str(info.value)
    assert word in message
    assert message.startswith(f"{count} feature(s)")


def test_weight_count_must_match_features():
    x, y = _points(4)
    with pytest.raises(ClusteringInputError, match="4 features but 3 weights"):
        cluster(x, y, [1.0, 2.0, 3.0], fast_params())


def test_missing_coordinates_are_counted():
    x, y = _points(5)
    x[1] = np.nan
    y[3] = np.inf
    with pytest.raises(ClusteringInputError, match="^2 feature"):
        cluster(x, y, np.ones(5), fast_params())


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_all_zero_weights_are_refused(strategy):
    x, y = _points(30, seed=4)
    with pytest.raises(ClusteringInputError, match="every one of the 30 feature.s. weighs 0"):
        cluster(x, y, np.zeros(30), fast_params(strategy=strategy))


@pytest.mark.parametrize("values, word", [
    (dict(desired_cluster_weight=0), "target weight must be > 0"),
    (dict(desired_cluster_weight=-5), "target weight must be > 0"),
    (dict(desired_cluster_radius=0), "target radius must be > 0"),
    (dict(desired_cluster_radius=-1), "target radius must be > 0"),
    (dict(max_cluster_weight=200), "below the target weight"),
    (dict(strategy="kmeans"), "strategy must be one of"),
    (dict(n_jobs=0), "n_jobs"),
])
def test_bad_parameters_are_named(values, word):
    with pytest.raises(ClusteringInputError, match=word):
        fast_params(**values)


@pytest.mark.parametrize("values, word", [
    (dict(max_cluster_weight=float("nan")), "max cluster weight must be a finite number"),
    (dict(min_cluster_weight=float("nan")), "min cluster weight must be a finite number"),
    (dict(desired_cluster_radius=float("inf")), "target radius must be a finite number"),
    (dict(desired_cluster_weight="240"), "target weight must be a number"),
    (dict(weight_importance_factor=float("nan")), "weight importance factor must be a finite number"),
    (dict(n_jobs=True), "n_jobs"),
    (dict(random_state=1.5), "random_state must be a whole number"),
    (dict(initial_max_trials=0), "initial_max_trials must be a whole number from 1 to"),
    (dict(max_passes=3, max_cluster_weight=None), "max cluster weight is required"),
])
def test_malformed_parameters_are_named(values, word):
    # A NaN cap used to pass validation (every comparison with NaN is False) and silently disable the cap.
    with pytest.raises(ClusteringInputError, match=word):
        fast_params(**values)


def test_numpy_numbers_are_accepted_as_parameters():
    params = fast_params(desired_cluster_weight=np.float64(240), desired_cluster_radius=np.int64(1000),
                         max_cluster_weight=np.float32(300), random_state=np.int64(5))
    assert params.desired_cluster_weight == 240 and params.random_state == 5


def test_missing_parameters_are_named_from_a_dict():
    with pytest.raises(ClusteringInputError, match="missing clustering parameter.*desired_cluster_radius"):
        ClusteringParams.from_dict({"desired_cluster_weight": 240})


def test_unknown_parameter_names_are_listed():
    with pytest.raises(ClusteringInputError, match="unknown clustering parameter.*target_wieght"):
        ClusteringParams.from_dict({"desired_cluster_weight": 1, "desired_cluster_radius": 1,
                                    "target_wieght": 3})


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("max_weight", [None, 12.0])
def test_more_clusters_needed_than_features(strategy, max_weight):
    # 5 features of 100 each with a target of 10: at most 5 clusters are possible.
    x = np.array([0.0, 100.0, 200.0, 300.0, 400.0])
    y = np.zeros(5)
    w = np.full(5, 100.0)
    params = fast_params(desired_cluster_weight=10, max_cluster_weight=max_weight, strategy=strategy,
                         max_passes=1 if max_weight is None else 100)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y)
    assert len(set(ids)) <= 5
    if strategy != "seed" and max_weight is not None:
        # Every feature outweighs the cap, so each is its own cluster and is reported.
        assert len(set(ids)) == 5
        check_cap(result, w, max_weight)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_duplicate_coordinates(strategy):
    # 80 features stacked on one point next to a spread of others.
    x, y = _points(40, seed=7)
    x = np.concatenate([np.full(80, 2500.0), x])
    y = np.concatenate([np.full(80, 2500.0), y])
    w = np.full(len(x), 10.0)
    params = fast_params(desired_cluster_weight=100, max_cluster_weight=150, strategy=strategy)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y)
    if strategy != "seed":
        check_cap(result, w, 150)
        assert len(result.heavy_features) == 0
    # A cluster made only of the stacked point has radius 0.
    table = result.clusters.to_frame().set_index("cluster_id")
    stacked_only = [c for c in set(ids[:80]) if set(np.flatnonzero(ids == c)) <= set(range(80))]
    for name in stacked_only:
        assert table.loc[name, "radius_m"] == pytest.approx(0.0, abs=1e-6)


def test_one_feature_heavier_than_the_max_is_alone_and_reported():
    x, y, w = clumped_population(600, seed=5)
    w = w.copy()
    cap = 30.0
    heavy = 123
    w[heavy] = 5 * cap
    params = fast_params(desired_cluster_weight=25, max_cluster_weight=cap, desired_cluster_radius=1500)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y)
    assert (ids == ids[heavy]).sum() == 1
    assert list(result.heavy_features) == [heavy]
    others = result.clusters["weight"][result.clusters["cluster_id"] != ids[heavy]]
    assert others.max() <= cap
    check_cap(result, w, cap)


# --------------------------------------------------------------------------- file adapter


def _frame(n=40, seed=0):
    frame = clumped_population_frame(n, seed)
    frame["label"] = [f"f{i}" for i in range(n)]
    return frame


def test_frame_empty_layer():
    with pytest.raises(ClusteringInputError, match="no features"):
        cluster_frame(_frame().iloc[:0], fast_params(), "population")


def test_frame_missing_weight_field_lists_numeric_fields():
    with pytest.raises(ClusteringInputError, match=r"'pop' not found; numeric fields are: cell_id, population"):
        cluster_frame(_frame(), fast_params(), "pop")


def test_frame_non_numeric_weight_field():
    with pytest.raises(ClusteringInputError, match="'label' is not numeric"):
        cluster_frame(_frame(), fast_params(), "label")


def test_frame_null_and_negative_weights_are_counted():
    frame = _frame()
    frame.loc[[2, 5, 9], "population"] = np.nan
    with pytest.raises(ClusteringInputError, match="^3 feature.*missing"):
        cluster_frame(frame, fast_params(), "population")
    frame = _frame()
    frame.loc[[4], "population"] = -2.0
    with pytest.raises(ClusteringInputError, match="^1 feature.*negative"):
        cluster_frame(frame, fast_params(), "population")


def _with_missing_geometries():
    frame = _frame(40, seed=2)
    geometry = frame.geometry.copy()
    geometry.iloc[3] = None
    geometry.iloc[17] = shapely.Point()  # empty
    geometry.iloc[30] = None
    frame = frame.set_geometry(geometry)
    return frame, np.array([3, 17, 30])


def test_frame_null_or_empty_geometries_are_counted():
    frame, _ = _with_missing_geometries()
    with pytest.raises(ClusteringInputError, match="^3 feature.*null or empty geometry"):
        cluster_frame(frame, fast_params(), "population")


def test_frame_keep_null_geometries_keeps_them_in_order_unclustered():
    frame, missing = _with_missing_geometries()
    out, clusters, result = cluster_frame(frame, fast_params(), "population", keep_null_geometries=True)
    assert len(out) == len(frame)
    assert list(out.index) == list(frame.index)
    assert list(out["cell_id"]) == list(frame["cell_id"])
    assert out["cluster_id"].isna().to_numpy()[missing].all()
    assert out["cluster_weight"].isna().to_numpy()[missing].all()
    assert out["cluster_pass"].isna().to_numpy()[missing].all()
    kept = np.setdiff1d(np.arange(len(frame)), missing)
    assert out["cluster_id"].notna().to_numpy()[kept].all()
    # Weights of the clustered rows only, recomputed from the frame itself.
    check_result(result, frame["population"].to_numpy()[kept])
    totals = out.iloc[kept].groupby("cluster_id")["population"].sum()
    np.testing.assert_allclose(out.iloc[kept]["cluster_weight"], totals.reindex(out.iloc[kept]["cluster_id"]))


def test_frame_only_missing_geometries():
    frame = _frame(3)
    frame = frame.set_geometry(gpd.GeoSeries([None, None, None], crs=frame.crs))
    with pytest.raises(ClusteringInputError, match="no feature has a geometry"):
        cluster_frame(frame, fast_params(), "population", keep_null_geometries=True)


def test_frame_labelled_degrees_but_holding_metres():
    frame = gpd.GeoDataFrame({"population": [1.0, 2.0]},
                             geometry=gpd.points_from_xy([600_000.0, 600_100.0], [900_000.0, 900_100.0]), crs=4326)
    with pytest.raises(ClusteringInputError, match="coordinates are not longitudes/latitudes"):
        cluster_frame(frame, fast_params(), "population")


def test_frame_without_crs_needs_an_epsg():
    frame = _frame().set_crs(None, allow_override=True)
    with pytest.raises(ClusteringInputError, match="no coordinate reference system"):
        cluster_frame(frame, fast_params(), "population")


@pytest.mark.parametrize("epsg", [4326, 4269])
def test_frame_geographic_epsg_is_rejected(epsg):
    with pytest.raises(ClusteringInputError, match=f"EPSG:{epsg} is geographic"):
        cluster_frame(_frame(), fast_params(), "population", epsg=epsg)


def test_frame_unknown_epsg_is_rejected_clearly():
    with pytest.raises(ClusteringInputError, match="EPSG:99999"):
        cluster_frame(_frame(), fast_params(), "population", epsg=99999)


def _utm_zone_by_hand(lon, lat):
    zone = int(np.floor((lon + 180) / 6)) + 1
    return (32600 if lat >= 0 else 32700) + zone


def test_geographic_layer_is_measured_in_the_utm_zone_of_its_centre():
    # Points around Santiago de Chile (zone 19 south), in degrees.
    rng = np.random.default_rng(11)
    lon = -70.65 + rng.normal(scale=0.05, size=150)
    lat = -33.45 + rng.normal(scale=0.05, size=150)
    frame = gpd.GeoDataFrame({"population": rng.integers(1, 20, 150).astype(float)},
                             geometry=gpd.points_from_xy(lon, lat), crs=4326)
    params = fast_params(desired_cluster_weight=100, max_cluster_weight=150, desired_cluster_radius=2000)
    out, _, result = cluster_frame(frame, params, "population")
    west, south, east, north = lon.min(), lat.min(), lon.max(), lat.max()
    zone = _utm_zone_by_hand((west + east) / 2, (south + north) / 2)
    assert zone == 32719

    def radii_in(epsg):
        to_metric = Transformer.from_crs(4326, CRS.from_epsg(epsg), always_xy=True)
        x, y = to_metric.transform(lon, lat)
        radii = {}
        for name in np.unique(result.cluster_id.astype(str)):
            members = result.cluster_id.astype(str) == name
            radii[name] = shapely.minimum_bounding_radius(shapely.multipoints(np.column_stack([x[members],
                                                                                              y[members]])))
        return np.array([radii[c] for c in result.clusters["cluster_id"]])

    np.testing.assert_allclose(result.clusters["radius_m"], radii_in(zone), rtol=1e-7, atol=1e-6)
    # The neighbouring zone measures measurably differently, so the check above can tell them apart.
    neighbour = radii_in(zone + 1)
    big = result.clusters["radius_m"] > 100
    assert np.max(np.abs(neighbour[big] / result.clusters["radius_m"][big] - 1)) > 1e-4


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def layer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_input")
    frame = _frame(60, seed=3)
    frame.to_parquet(folder / "good.parquet")
    frame.iloc[:0].to_file(folder / "empty.gpkg")
    nulls = frame.copy()
    nulls.loc[[1, 4], "population"] = np.nan
    nulls.to_parquet(folder / "null_weights.parquet")
    negative = frame.copy()
    negative.loc[[7], "population"] = -3.0
    negative.to_parquet(folder / "negative.parquet")
    zero = frame.copy()
    zero["population"] = 0.0
    zero.to_parquet(folder / "zero.parquet")
    missing, _ = _with_missing_geometries()
    missing.to_parquet(folder / "missing_geometry.parquet")
    pd.DataFrame({"lon": [121.0, 121.1], "lat": [14.5, 14.6], "population": ["a", "b"]}).to_csv(
        folder / "text_weights.csv", index=False)
    pd.DataFrame({"x": [600_000.0, 600_100.0, 121.0], "y": [900_000.0, 900_100.0, 14.5],
                  "population": [1.0, 2.0, 3.0]}).to_csv(folder / "metres.csv", index=False)
    (folder / "empty.csv").write_text("")
    (folder / "header_only.csv").write_text("lon,lat,population\n")
    pd.DataFrame({"east": [1.0], "north": [2.0]}).to_csv(folder / "no_lon_lat.csv", index=False)
    return folder


@pytest.mark.parametrize("name, extra, expected", [
    ("empty.gpkg", [], "no features"),
    ("good.parquet", ["--weight-field", "pop"], "'pop' not found"),
    ("good.parquet", ["--weight-field", "label"], "'label' is not numeric"),
    ("text_weights.csv", ["--weight-field", "population"], "'population' is not numeric"),
    ("null_weights.parquet", ["--weight-field", "population"], "2 feature(s) have a missing"),
    ("negative.parquet", ["--weight-field", "population"], "1 feature(s) have a negative weight"),
    ("missing_geometry.parquet", ["--weight-field", "population"], "3 feature(s) have a null or empty geometry"),
    ("good.parquet", ["--epsg", 4326], "EPSG:4326 is geographic"),
    ("good.parquet", ["--epsg", 99999], "EPSG:99999"),
    ("good.parquet", ["--epsg", 2263], "not metres"),
    ("nothing_here.gpkg", [], "input file not found"),
    ("metres.csv", [], "2 row(s) have x/y outside longitude/latitude range"),
    ("empty.csv", [], "cannot read empty.csv"),
    ("header_only.csv", [], "no features"),
    ("no_lon_lat.csv", [], "found: east, north"),
])
def test_cli_input_errors(capsys, layer_dir, tmp_path, name, extra, expected):
    line = _cli_error(capsys, "cluster", layer_dir / name, tmp_path / "out.gpkg", *CLI_TARGETS, *extra)
    assert expected in line
    assert not (tmp_path / "out.gpkg").exists()


@pytest.mark.parametrize("values, expected", [
    (["--target-weight", 0], "target weight must be > 0"),
    (["--target-weight", -3], "target weight must be > 0"),
    (["--target-radius", 0], "target radius must be > 0"),
    (["--target-radius", -10], "target radius must be > 0"),
    (["--max-weight", 100], "below the target weight"),
    (["--max-weight", "nan"], "max cluster weight must be a finite number"),
    (["--jobs", 0], "n_jobs must be -1"),
])
def test_cli_parameter_errors(capsys, layer_dir, tmp_path, values, expected):
    # argparse keeps the last value, so these override CLI_TARGETS.
    line = _cli_error(capsys, "cluster", layer_dir / "good.parquet", tmp_path / "out.gpkg", *CLI_TARGETS,
                      *values)
    assert expected in line


def test_cli_unwritable_output_is_one_error_line(capsys, layer_dir, tmp_path):
    line = _cli_error(capsys, "cluster", layer_dir / "good.parquet", tmp_path / "no_such_dir" / "out.gpkg",
                      *CLI_TARGETS)
    assert "out.gpkg" in line


def test_cli_unknown_output_format(capsys, layer_dir, tmp_path):
    line = _cli_error(capsys, "cluster", layer_dir / "good.parquet", tmp_path / "out.xyz", *CLI_TARGETS)
    assert "unknown output format '.xyz'" in line


def test_cli_all_zero_weights_is_an_error(capsys, layer_dir, tmp_path):
    line = _cli_error(capsys, "cluster", layer_dir / "zero.parquet", tmp_path / "out.parquet",
                      "--weight-field", "population", *CLI_TARGETS)
    assert "every one of the 60 feature(s) weighs 0" in line
    assert not (tmp_path / "out.parquet").exists()


def test_cli_keep_null_geometries(capsys, layer_dir, tmp_path):
    code = main([str(a) for a in ["cluster", layer_dir / "missing_geometry.parquet", tmp_path / "out.parquet",
                                  "--weight-field", "population", "--keep-null-geometries", *CLI_TARGETS]])
    assert code == 0
    source = read_layer(layer_dir / "missing_geometry.parquet")
    out = read_layer(tmp_path / "out.parquet")
    assert list(out["cell_id"]) == list(source["cell_id"])
    missing = (source.geometry.isna() | source.geometry.is_empty).to_numpy()
    assert missing.sum() == 3
    assert out["cluster_id"].isna().to_numpy()[missing].all()
    assert out["cluster_weight"].isna().to_numpy()[missing].all()
    assert out["cluster_pass"].isna().to_numpy()[missing].all()
    assert out["cluster_id"].notna().to_numpy()[~missing].all()


def test_cli_error_in_a_real_process_has_no_traceback(layer_dir, tmp_path):
    done = run_cli("cluster", layer_dir / "good.parquet", tmp_path / "out.gpkg", *CLI_TARGETS, "--epsg", 4326)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["error: EPSG:4326 is geographic (degrees); give a projected CRS "
                                                "in metres"]


def test_keyword_parameters_next_to_a_params_object_override_it():
    x, y = _points(12, seed=1)
    params = fast_params(desired_cluster_weight=2, max_cluster_weight=3)
    result = cluster(x, y, np.ones(12), params, strategy="seed", random_state=7)
    assert (result.params.strategy, result.params.random_state) == ("seed", 7)
    assert params.strategy == DEFAULT_STRATEGY  # the caller's object is left alone
    # The override is validated like any parameter.
    with pytest.raises(ClusteringInputError, match="max cluster weight"):
        cluster(x, y, np.ones(12), params, max_cluster_weight=1)


def test_frame_with_a_repeated_index_keeps_rows_in_order():
    frame, missing = _with_missing_geometries()
    frame.index = ["a"] * 20 + ["b"] * 20
    out, _, result = cluster_frame(frame, fast_params(), "population", keep_null_geometries=True)
    assert list(out.index) == list(frame.index)
    assert list(out["cell_id"]) == list(frame["cell_id"])
    assert out["cluster_id"].isna().to_numpy().nonzero()[0].tolist() == missing.tolist()
    kept = np.setdiff1d(np.arange(len(frame)), missing)
    np.testing.assert_array_equal(out["cluster_id"].to_numpy()[kept].astype(str), result.cluster_id.astype(str))


def test_mismatched_coordinate_lengths():
    with pytest.raises(ClusteringInputError, match="x has 3 values but y has 2"):
        cluster([0.0, 1.0, 2.0], [0.0, 1.0], None, fast_params())


@pytest.mark.parametrize("vertex_xy, vertex_owner, word", [
    ([[0, 0], [1, 1], [2, 2]], [0, 1], "differ in length"),
    ([[0, 0], [1, 1], [2, 2]], [0, 1, 3], "features that do not exist"),
    ([[0, 0], [1, 1], [2, 2]], [0, 0, 1], "every feature needs at least one vertex"),
    ([[0, 0], [1, np.nan], [2, 2]], [0, 1, 2], "vertices have missing or infinite coordinates"),
])
def test_bad_vertex_arrays(vertex_xy, vertex_owner, word):
    with pytest.raises(ClusteringInputError, match=word):
        cluster([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], None, fast_params(), vertex_xy=np.array(vertex_xy, float),
                vertex_owner=vertex_owner)


def test_default_weight_is_one_per_feature():
    x, y = _points(50, seed=9)
    params = fast_params(desired_cluster_weight=10, max_cluster_weight=12)
    result = cluster(x, y, None, params)
    check_result(result, np.ones(50), params, x, y)
    np.testing.assert_array_equal(result.clusters["weight"], result.clusters["n_features"])
    check_cap(result, np.ones(50), 12)


def test_projected_crs_in_feet_is_rejected():
    frame = _frame()
    with pytest.raises(ClusteringInputError, match="not metres"):
        cluster_frame(frame.to_crs(2263), fast_params(), "population")  # New York, US survey feet
    with pytest.raises(ClusteringInputError, match="not metres"):
        cluster_frame(frame, fast_params(), "population", epsg=2263)
