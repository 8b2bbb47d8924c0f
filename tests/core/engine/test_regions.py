"""Large inputs in regions: convex pieces of about equal weight, clusters that never cross them."""

import numpy as np
import pytest

from core.engine.data import Features, RunContext
from core.engine.regions import _weighted_cut, cut_regions, region_count, share_clusters


def test_region_count_needs_both_many_features_and_many_clusters():
    assert region_count(200_000, 5_000) == 1
    assert region_count(1_000_000, 10_000) == 4
    assert region_count(1_000_000, 300) == 2  # never under 150 clusters a region
    assert region_count(10_000_000, 70_000) == 40


@pytest.mark.parametrize("share", [0.1, 0.5, 2 / 3])
def test_weighted_cut_matches_a_full_sort(share):
    rng = np.random.default_rng(3)
    values = rng.lognormal(0, 2, 50_000)
    weights = rng.integers(0, 9, 50_000).astype(float)
    cut = _weighted_cut(values, weights, share)
    order = np.argsort(values)
    running = np.cumsum(weights[order])
    expected = values[order][np.searchsorted(running, share * weights.sum())]
    assert cut == expected


def test_regions_are_convex_disjoint_and_of_about_equal_weight():
    rng = np.random.default_rng(5)
    towns = rng.uniform(0, 100_000, (40, 2))
    xy = towns[rng.integers(0, 40, 200_000)] + rng.normal(0, 3000, (200_000, 2))
    w = rng.lognormal(0, 1, len(xy))
    body = Features(xy[:, 0], xy[:, 1], w)
    regions = cut_regions(body, 7, RunContext())
    assert sorted(np.concatenate(regions).tolist()) == list(range(len(xy)))
    weights = np.array([w[idx].sum() for idx in regions])
    assert weights.max() / weights.min() < 1.001
    # Convex and disjoint: no region's point lies inside another region's hull.
    import shapely

    hulls = [shapely.convex_hull(shapely.multipoints(xy[idx])) for idx in regions]
    for i, hull in enumerate(hulls):
        others = np.concatenate([idx for j, idx in enumerate(regions) if j != i])
        assert not shapely.contains_xy(hull, xy[others, 0], xy[others, 1]).any()


def test_a_fixed_count_is_shared_by_weight_and_adds_up():
    assert share_clusters(10, np.array([1.0, 1.0, 1.0])) == [4, 3, 3]
    assert share_clusters(5, np.array([100.0, 1.0, 1.0, 1.0])) == [2, 1, 1, 1]
    assert sum(share_clusters(1001, np.random.default_rng(1).uniform(1, 2, 40))) == 1001


@pytest.fixture
def small_regions(monkeypatch):
    """Regions from 20,000 features and 30 clusters on, so a test input of 80,000 is cut in four."""
    import core.engine.compact
    import core.engine.regions

    monkeypatch.setattr(core.engine.regions, "REGION_FEATURES", 20_000)
    monkeypatch.setattr(core.engine.regions, "MIN_REGION_CLUSTERS", 30)
    cuts = []

    def recorded(body, count, context):
        cuts.append(count)
        return cut_regions(body, count, context)

    monkeypatch.setattr(core.engine.compact, "cut_regions", recorded)
    return cuts


def clumped(n=80_000, seed=2):
    from synthetic import clumped_population

    return clumped_population(n, seed)


def test_regioned_run_keeps_every_promise(small_regions):
    from core import cluster
    from core.engine.hulls import convex_hulls, hull_overlap_share

    x, y, w = clumped()
    target = w.sum() / 400
    messages = []
    one = cluster(x, y, w, desired_cluster_weight=target, desired_cluster_radius=1000,
                  max_cluster_weight=1.25 * target, n_jobs=1, progress=lambda f, message: messages.append(message))
    assert [m for m in messages if "region" in m] == [f"pass 1: region {i} of 4" for i in range(1, 5)]
    two = cluster(x, y, w, desired_cluster_weight=target, desired_cluster_radius=1000,
                  max_cluster_weight=1.25 * target, n_jobs=2)
    assert small_regions == [4, 4]
    assert np.array_equal(one.cluster_id, two.cluster_id)  # the same whatever the threads
    stats = one.stats()
    assert stats["share_within_20pct"] >= 0.99 and stats["clusters_over_max"] == 0
    assert 360 <= stats["clusters"] <= 440
    assert one.hull_overlap == 0.0
    rows = one.cluster_row
    assert hull_overlap_share(convex_hulls(x, y, rows, len(one.clusters))) == 0.0


def test_regioned_run_gives_exactly_the_clusters_asked_for(small_regions):
    from core import cluster

    x, y, w = clumped()
    result = cluster(x, y, w, desired_cluster_weight=w.sum() / 300, desired_cluster_radius=1000, n_clusters=301,
                     max_passes=1)
    assert len(result.clusters) == 301 and small_regions == [4]
    hamlet = np.isin(result.clusters["cluster_id"], result.remote_hamlets)
    weights = result.clusters["weight"][~hamlet]
    assert weights.max() / weights.min() < 1.4
