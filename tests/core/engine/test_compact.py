"""The compact (default) strategy: power-diagram clusters, tuned k, and the hard cases.

Every check runs the real engine and recomputes what it expects from the inputs
(brute-force power distances, shapely hulls, pandas sums), never from the engine's figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from core_helpers import check_cap, check_result, fast_params, run_cli
from synthetic import clumped_population

from core import ClusteringInputError, cluster
from core.engine.balanced import band_k_values
from core.engine.compact import K_BAND, power_partition
from core.engine.data import Features, RunContext
from core.engine.finish import band_excess, finish_band
from core.engine.power import PowerBalancer, power_nearest


def in_band_share(weights, target):
    weights = np.asarray(weights, dtype=float)
    return float(np.mean(np.abs(weights - target) <= 0.2 * target))


def brute_force_power_argmin(x, y, centres, prices):
    cost = (x[:, None] - centres[None, :, 0]) ** 2 + (y[:, None] - centres[None, :, 1]) ** 2 - prices[None, :]
    return cost


def test_lifted_query_finds_the_power_argmin_over_all_centres():
    # Prices spread far wider than centre spacing, so nearest-by-distance is often wrong.
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 10_000, (3000, 2)) + (400_000.0, 1_200_000.0)
    centres = rng.uniform(0, 10_000, (200, 2)) + (400_000.0, 1_200_000.0)
    prices = rng.normal(0, 4e6, 200)
    index, cost = power_nearest(points, centres, prices, 3)
    full = brute_force_power_argmin(points[:, 0], points[:, 1], centres, prices)
    expected = np.sort(full, axis=1)[:, :3]
    np.testing.assert_allclose(cost, expected, rtol=1e-9, atol=1e-3)
    np.testing.assert_allclose(np.take_along_axis(full, index, axis=1), expected, rtol=1e-9, atol=1e-3)
    nearest_by_distance = np.argmin(full + prices[None, :], axis=1)
    assert (nearest_by_distance != index[:, 0]).mean() > 0.2  # the shortcut alone would be wrong here


@pytest.mark.parametrize("seed", [1, 2])
def test_final_labels_form_a_true_power_diagram(seed):
    # Large enough that balancing runs in its boundary mode (exact passes + shortlists).
    x, y, w = clumped_population(20_000, seed=seed)
    params = fast_params(desired_cluster_weight=120.0, initial_max_trials=3)
    partition = power_partition(Features.checked(x, y, w), params, 3, RunContext(), lambda *_: None)
    assert len(partition.centres) * len(x) > 300_000
    cost = brute_force_power_argmin(x, y, partition.centres, partition.prices)
    own = cost[np.arange(len(x)), partition.labels]
    # Every feature's label is its argmin of d² − p over ALL centres (ties within rounding).
    assert np.all(own <= cost.min(axis=1) + 1e-6 * np.abs(cost).max())
    weights = np.bincount(partition.labels, w, minlength=len(partition.centres))
    assert in_band_share(weights[weights > 0], 120.0) >= 0.95


def hull_overlap_by_shapely(groups):
    hulls = [shapely.convex_hull(shapely.MultiPoint(g)) for g in groups]
    solid = [h for h in hulls if h.area > 0]
    total = sum(h.area for h in solid)
    return (total - shapely.union_all(solid).area) / total


def test_grid_like_input_gives_round_non_overlapping_clusters_in_band():
    x, y, w = clumped_population(6000, seed=3)
    params = fast_params(initial_max_trials=8)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y, check_radius=False)
    check_cap(result, w, 300.0)
    stats = result.stats()
    assert stats["share_within_20pct"] >= 0.95
    assert stats["clusters_out_of_band"] == int(np.sum(np.abs(result.clusters["weight"] - 240) > 48))
    groups = [np.column_stack([x[ids == c], y[ids == c]]) for c in result.clusters["cluster_id"]]
    assert stats["hull_overlap_share"] == pytest.approx(hull_overlap_by_shapely(groups), abs=1e-9)
    assert stats["hull_overlap_share"] == 0.0
    # Weighted RMS spread recomputed by hand.
    frame = pd.DataFrame({"id": ids, "w": w, "wx": w * x, "wy": w * y})
    sums = frame.groupby("id").sum()
    cx, cy = (sums["wx"] / sums["w"]).reindex(ids).to_numpy(), (sums["wy"] / sums["w"]).reindex(ids).to_numpy()
    rms = np.sqrt(np.sum(w * ((x - cx) ** 2 + (y - cy) ** 2)) / w.sum())
    assert stats["weighted_rms_m"] == pytest.approx(rms, rel=1e-9)


def test_trials_are_reported_and_lie_in_the_band():
    x, y, w = clumped_population(4000, seed=4)
    params = fast_params(initial_max_trials=5)
    result = cluster(x, y, w, params)
    assert 1 <= len(result.trials) <= 5
    band = band_k_values(w.sum(), len(w), params, K_BAND)
    assert all(k in band for k, _ in result.trials)
    assert all(np.isfinite(score) and score >= 0 for _, score in result.trials)
    assert result.stats()["k_trials"] == len(result.trials)
    assert len({k for k, _ in result.trials}) == len(result.trials)  # each k once


def test_random_state_seeds_the_order_of_trials_and_repeats_exactly():
    x, y, w = clumped_population(4000, seed=5)
    orders = {}
    for state in (1, 2, 3):
        params = fast_params(initial_max_trials=6, random_state=state)
        first = cluster(x, y, w, params)
        again = cluster(x, y, w, params)
        np.testing.assert_array_equal(first.cluster_id, again.cluster_id)
        assert first.trials == again.trials
        orders[state] = [k for k, _ in first.trials]
    # The seed picks which k starts the warm-start chain (the start itself).
    assert len({tuple(order) for order in orders.values()}) > 1
    assert len({order[0] for order in orders.values()}) > 1


def test_any_n_jobs_gives_the_same_output():
    x, y, w = clumped_population(5000, seed=6)
    one = cluster(x, y, w, fast_params(n_jobs=1))
    every = cluster(x, y, w, fast_params(n_jobs=-1))
    two = cluster(x, y, w, fast_params(n_jobs=2))
    for other in (every, two):
        np.testing.assert_array_equal(one.cluster_id, other.cluster_id)
        assert one.trials == other.trials


def test_a_feature_heavier_than_the_band_is_placed_alone_and_k_comes_from_the_rest():
    x, y, w = clumped_population(6000, seed=3)
    heavy = 1234
    w = w.copy()
    w[heavy] = 5000.0  # far above the band's upper edge (288) and the cap (300)
    params = fast_params(initial_max_trials=8)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y, check_radius=False)
    check_cap(result, w, 300.0)
    assert list(result.placed_alone) == [heavy]
    assert (ids == ids[heavy]).sum() == 1
    others = result.clusters["weight"][result.clusters["cluster_id"] != ids[heavy]]
    assert in_band_share(others, 240.0) >= 0.95
    rest = np.delete(w, heavy).sum()
    assert len(others) in band_k_values(rest, len(w) - 1, params, K_BAND)


def test_a_feature_between_the_band_and_the_cap_is_placed_alone_too():
    x, y, w = clumped_population(3000, seed=8)
    w = w.copy()
    w[10] = 295.0  # over target + 20 % (288), under the cap (300)
    result = cluster(x, y, w, fast_params(initial_max_trials=5))
    ids = np.asarray(result.cluster_id)
    assert list(result.placed_alone) == [10] and len(result.heavy_features) == 0
    assert (ids == ids[10]).sum() == 1


def town_and_hamlet():
    x, y, w = clumped_population(3000, seed=9)
    # A hamlet of 5 houses (weight 50 < 192, the band's lower edge) 20 km from everything.
    hx = x.max() + 20_000 + np.arange(5) * 30.0
    hy = np.full(5, y.mean())
    return np.concatenate([x, hx]), np.concatenate([y, hy]), np.concatenate([w, np.full(5, 10.0)])


def test_a_remote_hamlet_is_kept_and_reported(tmp_path):
    x, y, w = town_and_hamlet()
    params = fast_params(initial_max_trials=5)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y, check_radius=False)
    hamlet = set(ids[-5:])
    assert len(hamlet) == 1 and (ids == ids[-1]).sum() == 5  # the hamlet alone, whole
    assert result.remote_hamlets == [ids[-1]]
    assert result.stats()["remote_hamlets"] == 1
    assert ids[-1] in set(result.out_of_band_ids)
    # The rest stays in band: the hamlet did not drag a town cluster out to it.
    others = result.clusters["weight"][result.clusters["cluster_id"] != ids[-1]]
    assert in_band_share(others, 240.0) >= 0.95
    # The CLI names it on stderr.
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"population": w}, geometry=gpd.points_from_xy(x, y), crs=32651)
    frame.to_file(tmp_path / "in.gpkg")
    done = run_cli("cluster", tmp_path / "in.gpkg", tmp_path / "out.gpkg", "--weight-field", "population",
                   "--target-weight", 240, "--target-radius", 1000, "--max-weight", 300, "--initial-trials", 5,
                   timeout=300)
    assert done.returncode == 0, done.stderr
    written = gpd.read_file(tmp_path / "out.gpkg")["cluster_id"].to_numpy()
    assert len(set(written[-5:])) == 1 and (written == written[-1]).sum() == 5
    note = [line for line in done.stderr.splitlines() if "remote hamlet" in line]
    assert len(note) == 1 and f"({written[-1]})" in note[0]


def test_a_remote_hamlet_is_merged_when_min_weight_asks():
    x, y, w = town_and_hamlet()
    params = fast_params(initial_max_trials=5, min_cluster_weight=100.0)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y, check_radius=False)
    assert result.remote_hamlets == []
    assert (ids == ids[-1]).sum() > 5  # joined a cluster of the town
    assert result.merged_clusters >= 1


def test_co_located_and_duplicate_points_stay_together_and_balanced():
    rng = np.random.default_rng(10)
    spots = rng.uniform(0, 8000, (300, 2)).round()
    stacks = rng.integers(1, 9, 300)  # up to 8 features on one spot
    xy = np.repeat(spots, stacks, axis=0)
    w = rng.integers(1, 4, len(xy)).astype(float)
    x, y = xy[:, 0], xy[:, 1]
    params = fast_params(desired_cluster_weight=120.0, max_cluster_weight=150.0, initial_max_trials=5)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y)
    check_cap(result, w, 150.0)
    # Features on one spot have equal power distances: one cluster takes the whole stack.
    per_spot = pd.Series(ids).groupby(np.repeat(np.arange(300), stacks)).nunique()
    assert (per_spot == 1).mean() >= 0.99
    assert result.stats()["share_within_20pct"] >= 0.9
    assert result.stats()["hull_overlap_share"] == 0.0


def test_every_point_on_one_spot():
    x, y, w = np.full(50, 7.0), np.full(50, 3.0), np.full(50, 10.0)
    params = fast_params(desired_cluster_weight=100.0, max_cluster_weight=120.0)
    result = cluster(x, y, w, params)
    check_result(result, w, params, x, y)
    check_cap(result, w, 120.0)


def long_polygons(seed):
    """Buildings whose centroids sit in one place while their outlines reach far: long strips."""
    rng = np.random.default_rng(seed)
    n = 800
    cx, cy = rng.uniform(0, 6000, n), rng.uniform(0, 6000, n)
    polygons = []
    for i in range(n):
        length = 600.0 if i % 10 == 0 else 20.0  # every tenth is a 600 m strip
        angle = rng.uniform(0, np.pi)
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        ex, ey = -np.sin(angle) * 5, np.cos(angle) * 5
        polygons.append(shapely.Polygon([(cx[i] - dx - ex, cy[i] - dy - ey), (cx[i] + dx - ex, cy[i] + dy - ey),
                                         (cx[i] + dx + ex, cy[i] + dy + ey), (cx[i] - dx + ex, cy[i] - dy + ey)]))
    return polygons


def test_polygons_poking_into_a_neighbour_are_measured_on_their_full_outline():
    polygons = long_polygons(11)
    centroids = shapely.centroid(polygons)
    x, y = shapely.get_x(centroids), shapely.get_y(centroids)
    vertex_xy, owner = shapely.get_coordinates(polygons, return_index=True)
    w = np.ones(len(polygons))
    params = fast_params(desired_cluster_weight=40.0, max_cluster_weight=50.0, desired_cluster_radius=600.0,
                         initial_max_trials=5)
    result = cluster(x, y, w, params, vertex_xy=vertex_xy, vertex_owner=owner)
    ids = check_result(result, w, params, x, y, check_radius=False)
    groups = [shapely.get_coordinates([polygons[i] for i in np.flatnonzero(ids == c)])
              for c in result.clusters["cluster_id"]]
    expected = hull_overlap_by_shapely(groups)
    assert expected > 0  # the strips do reach into neighbouring clusters' hulls
    assert result.stats()["hull_overlap_share"] == pytest.approx(expected, rel=1e-6)
    # On centroids alone the clusters would not overlap: the power cells are disjoint.
    point_groups = [np.column_stack([x[ids == c], y[ids == c]]) for c in result.clusters["cluster_id"]]
    assert hull_overlap_by_shapely(point_groups) == pytest.approx(0.0, abs=1e-12)


def test_clumpy_data_starves_no_cell():
    # Towns of very different spread and weight, far apart, over an almost empty plain:
    # a centre stranded between towns would go empty; every cluster must still get its share.
    rng = np.random.default_rng(12)
    towns = [((0, 0), 150, 1500), ((9000, 500), 1200, 900), ((4000, 9000), 60, 500), ((15000, 12000), 2500, 400)]
    parts = [np.column_stack([rng.normal(cx, spread, n), rng.normal(cy, spread, n)])
             for (cx, cy), spread, n in towns]
    plain = rng.uniform(-3000, 18000, (200, 2))
    xy = np.vstack(parts + [plain])
    w = np.concatenate([rng.lognormal(0.5, 0.7, len(xy) - 200), np.full(200, 0.05)])
    params = fast_params(desired_cluster_weight=w.sum() / 25, max_cluster_weight=1.25 * w.sum() / 25,
                         desired_cluster_radius=800.0, initial_max_trials=6)
    result = cluster(xy[:, 0], xy[:, 1], w, params)
    check_result(result, w, params, xy[:, 0], xy[:, 1], check_radius=False)
    check_cap(result, w, params.max_cluster_weight)
    weights = np.asarray(result.clusters["weight"])
    assert weights.min() >= 0.5 * params.desired_cluster_weight  # no starved cluster
    # Towns hold 11.7, 6.7, 3.6 and 2.9 clusters' worth: whole counts leave a few off the band.
    assert in_band_share(weights, params.desired_cluster_weight) >= 0.85


def test_n_clusters_gives_exactly_that_many_balanced_clusters():
    x, y, w = clumped_population(4000, seed=13)
    for k in (1, 7, 30):
        params = fast_params(n_clusters=k, desired_cluster_weight=w.sum() / 20,
                             max_cluster_weight=2 * w.sum() / k + 1)
        result = cluster(x, y, w, params)
        check_result(result, w, params, x, y, check_radius=False)
        assert len(result.clusters) == k
        assert len(result.trials) <= 1  # no tuning
        mean = w.sum() / k
        assert np.all(np.abs(result.clusters["weight"] - mean) <= 0.2 * mean)


@pytest.mark.parametrize("value, message", [
    (0, "number of clusters must be a whole number >= 1"),
    (2.5, "number of clusters must be a whole number >= 1"),
    (True, "number of clusters must be a whole number >= 1"),
])
def test_n_clusters_validation(value, message):
    with pytest.raises(ClusteringInputError, match=message):
        fast_params(n_clusters=value)


def test_n_clusters_beyond_the_features_or_the_cap_is_refused_before_work():
    x, y, w = np.arange(5.0), np.zeros(5), np.full(5, 10.0)
    with pytest.raises(ClusteringInputError, match="6 clusters were asked for but the input has only 5 features"):
        cluster(x, y, w, fast_params(n_clusters=6))
    with pytest.raises(ClusteringInputError, match="above the max cluster weight"):
        cluster(x, y, w, fast_params(n_clusters=1, desired_cluster_weight=40.0, max_cluster_weight=45.0))


def test_remote_hamlet_search_is_exact_at_the_gap():
    from core.engine.hamlets import remote_hamlets

    rng = np.random.default_rng(14)
    town = rng.uniform(0, 3000, (2000, 2))
    east = town[np.argmax(town[:, 0])]
    # Stacked duplicates in the town must not make "hamlets" of their own.
    town = np.vstack([town, town[:300]])
    for gap, remote in ((3990.0, False), (4010.0, True), (9000.0, True)):
        pair = np.array([east + (gap, 0.0), east + (gap + 5.0, 0.0)])  # due east of the town's edge
        points = np.vstack([town, pair])
        found = remote_hamlets(points[:, 0], points[:, 1], np.ones(len(points)), gap=4000.0, light_below=10.0)
        assert [group.tolist() for group in found] == ([[len(town), len(town) + 1]] if remote else [])
        # Heavier than the threshold: not a hamlet, however far.
        heavy = np.r_[np.ones(len(town)), 20.0, 20.0]
        assert remote_hamlets(points[:, 0], points[:, 1], heavy, gap=4000.0, light_below=10.0) == []


def villages(counts, spots, seed=3, spread=12.0):
    """Unit houses around each spot (a position, or an x on a row); one centre per village."""
    rng = np.random.default_rng(seed)
    centres = np.array([(spot, 0.0) if np.isscalar(spot) else spot for spot in spots], dtype=float)
    points = np.vstack([rng.normal(centre, spread, (c, 2)) for centre, c in zip(centres, counts)])
    return points + (500_000.0, 3_700_000.0), centres + (500_000.0, 3_700_000.0)


def assert_power_diagram(points, centres, prices, labels):
    cost = brute_force_power_argmin(points[:, 0], points[:, 1], centres, prices)
    own = cost[np.arange(len(points)), labels]
    assert np.all(own <= cost.min(axis=1) + 1e-9 * np.abs(cost).max())


def test_finish_closes_a_band_the_price_balance_stalls_on():
    # A row of villages, one house too many at one end and one too few at the other: every
    # single price step moves a house into a neighbour that is already full. Only a chain of
    # moves through the full villages closes the band.
    points, centres = villages([11, 10, 10, 10, 10, 9], [0, 100, 200, 300, 400, 500])
    w = np.ones(len(points))
    labels, prices, converged = PowerBalancer(points, w).balance(centres, np.zeros(6), 9.5, 10.5, 2000)
    assert not converged  # the stall this step exists for
    labels, prices = finish_band(points, w, centres, prices, labels, 9.5, 10.5)
    assert np.bincount(labels, minlength=6).tolist() == [10] * 6
    assert_power_diagram(points, centres, prices, labels)


def test_finish_reaches_an_isolated_light_cell_and_keeps_a_power_diagram():
    # The light village lies far beyond a block of nine: every house of the block has eight
    # nearer centres than it, so none lists it among its candidates; yet two must move there.
    block = [(100.0 * i, 100.0 * j) for i in range(3) for j in range(3)]
    points, centres = villages([10] * 8 + [12, 8], block + [(1400.0, 200.0)])
    w = np.ones(len(points))
    labels = power_nearest(points, centres, np.zeros(10), 1)[0][:, 0]
    labels, prices = finish_band(points, w, centres, np.zeros(10), labels, 9.5, 10.5)
    assert np.bincount(labels, minlength=10).tolist() == [10] * 10
    assert_power_diagram(points, centres, prices, labels)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finish_never_adds_weight_outside_the_bounds_and_stays_a_power_diagram(seed):
    x, y, w = clumped_population(4000, seed=seed)
    points = np.column_stack([x, y])
    rng = np.random.default_rng(seed)
    centres = points[rng.choice(len(points), 40, replace=False)]
    prices = rng.normal(0, 1e5, 40)
    labels = power_nearest(points, centres, prices, 1)[0][:, 0]
    mean = w.sum() / 40
    low, high = 0.8 * mean, 1.2 * mean
    before = band_excess(np.bincount(labels, w, minlength=40), low, high)
    labels, prices = finish_band(points, w, centres, prices, labels, low, high)
    after = band_excess(np.bincount(labels, w, minlength=40), low, high)
    assert after < before or before == 0
    assert_power_diagram(points, centres, prices, labels)
