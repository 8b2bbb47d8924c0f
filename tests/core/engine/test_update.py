"""Update mode (core.engine.update): a previous frame re-clustered under new weights, keeping what fits.

Every figure is recomputed here from the IDs and weights (pandas), never read from the engine's report
and trusted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from core_helpers import check_cap, check_result, fast_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import clumped_population

from core import ClusteringInputError, cluster

BAND = 0.2


def _weights_by_cluster(ids, w):
    return pd.Series(np.asarray(w, float)).groupby(np.asarray(ids).astype(str)).sum()


def _out_of_band(ids, w, target):
    totals = _weights_by_cluster(ids, w)
    return int((np.abs(totals - target) > BAND * target).sum())


def _grown(x, y, w, factor, seed=1):
    """±10 % noise per feature, and one area a fifth of the features wide grown by `factor`."""
    rng = np.random.default_rng(seed)
    new = w * rng.lognormal(0.0, 0.1, len(w))
    distance = np.hypot(x - np.average(x, weights=w), y - np.average(y, weights=w))
    new[distance <= np.quantile(distance, 0.2)] *= factor
    return new


@pytest.fixture(scope="module")
def frame():
    """A compact frame on a clumped population, and that population grown by 25 % in one district."""
    x, y, w = clumped_population(12_000, seed=5)
    params = fast_params()
    previous = cluster(x, y, w, params)
    return x, y, w, params, previous, _grown(x, y, w, 1.25)


def _check_report(report, previous_ids, ids, w):
    """The update's report against figures recomputed from the two ID columns."""
    previous_ids, ids = np.asarray(previous_ids, dtype=object), np.asarray(ids).astype(str)
    had = np.array([p is not None for p in previous_ids])
    changed = had & (ids != previous_ids.astype(str))
    assert report.changed_feature_share == pytest.approx(changed.sum() / had.sum())
    assert report.changed_weight_share == pytest.approx(w[changed].sum() / w[had].sum())
    assert report.new_features == int((~had).sum())
    before, after = set(previous_ids[had].astype(str)), set(ids)
    assert set(report.new) == after - before
    assert set(report.retired) == before - after
    kept = after & before
    same = {name for name in kept
            if np.array_equal(np.flatnonzero(ids == name), np.flatnonzero(previous_ids.astype(str) == name))}
    assert set(report.unchanged) == same
    assert set(report.reshaped) == kept - same


def test_unchanged_weights_change_nothing(frame):
    x, y, w, params, previous, _ = frame
    assert _out_of_band(previous.cluster_id, w, params.desired_cluster_weight) == 0  # the premise
    update = cluster(x, y, w, params, previous_ids=previous.cluster_id)
    np.testing.assert_array_equal(update.cluster_id.astype(str), previous.cluster_id.astype(str))
    assert update.update.changed_feature_share == 0
    assert len(update.update.unchanged) == len(previous.clusters)


def test_a_cluster_that_cannot_reach_the_band_is_left_as_it_was(frame):
    """A remote hamlet stays light whatever the update tries: with unchanged weights nothing moves."""
    x, y, w, params, _, _ = frame
    x2, y2 = np.concatenate([x, x.max() + 50_000 + np.arange(5.0) * 30]), np.concatenate([y, np.full(5, y.mean())])
    w2 = np.concatenate([w, np.full(5, 10.0)])
    previous = cluster(x2, y2, w2, params)
    assert _out_of_band(previous.cluster_id, w2, params.desired_cluster_weight) >= 1  # the hamlet
    update = cluster(x2, y2, w2, params, previous_ids=previous.cluster_id)
    np.testing.assert_array_equal(update.cluster_id.astype(str), previous.cluster_id.astype(str))


def test_new_weights_are_back_in_band_with_most_clusters_kept(frame):
    x, y, w, params, previous, grown = frame
    target = params.desired_cluster_weight
    assert _out_of_band(previous.cluster_id, grown, target) > 0  # the growth pushed some out
    update = cluster(x, y, grown, params, previous_ids=previous.cluster_id)
    ids = check_result(update, grown, params, x, y)
    check_cap(update, grown, params.max_cluster_weight)
    assert _out_of_band(ids, grown, target) == 0
    kept = np.mean(ids == previous.cluster_id.astype(str))
    assert kept >= 0.8
    _check_report(update.update, previous.cluster_id, ids, grown)
    # Clusters away from the growth and in band keep every member.
    assert len(update.update.unchanged) >= 0.5 * len(previous.clusters)
    assert update.stats()["changed_feature_share"] == pytest.approx(1 - kept)


def test_an_update_keeps_more_than_a_fresh_run(frame):
    from core.engine.update import kept_share

    x, y, w, params, previous, grown = frame
    update = cluster(x, y, grown, params, previous_ids=previous.cluster_id)
    fresh = cluster(x, y, grown, params)
    assert kept_share(previous.cluster_id, update.cluster_id, grown)[0] > kept_share(
        previous.cluster_id, fresh.cluster_id, grown)[0]


def test_new_features_join_clusters_and_are_counted(frame):
    x, y, w, params, previous, _ = frame
    rng = np.random.default_rng(3)
    heaviest = np.argsort(-w)[:40]  # new homes where people already live
    x2 = np.concatenate([x, x[heaviest] + rng.normal(0, 50, 40)])
    y2 = np.concatenate([y, y[heaviest] + rng.normal(0, 50, 40)])
    w2 = np.concatenate([w, w[heaviest]])
    previous_ids = np.concatenate([previous.cluster_id.astype(object), np.full(40, None, dtype=object)])
    update = cluster(x2, y2, w2, params, previous_ids=previous_ids)
    ids = check_result(update, w2, params, x2, y2)
    assert _out_of_band(ids, w2, params.desired_cluster_weight) == 0
    _check_report(update.update, previous_ids, ids, w2)
    assert update.update.new_features == 40


def test_removed_features_are_handled(frame):
    x, y, w, params, previous, _ = frame
    ids = previous.cluster_id.astype(str)
    gone_cluster = ids[0]
    # One cluster disappears entirely, another loses half its members (now far under the band).
    other = ids[np.flatnonzero(ids != gone_cluster)[0]]
    halved = np.flatnonzero(ids == other)[::2]
    keep = np.ones(len(x), dtype=bool)
    keep[ids == gone_cluster] = False
    keep[halved] = False
    update = cluster(x[keep], y[keep], w[keep], params, previous_ids=previous.cluster_id[keep])
    new_ids = check_result(update, w[keep], params, x[keep], y[keep])
    assert gone_cluster not in set(new_ids)
    assert _out_of_band(new_ids, w[keep], params.desired_cluster_weight) == 0
    _check_report(update.update, previous.cluster_id[keep], new_ids, w[keep])


def test_a_hand_edited_frame_with_its_own_ids(frame):
    """Previous IDs of any form (here numbers and names) are kept as they are; new ones do not collide."""
    x, y, w, params, previous, grown = frame
    _, codes = np.unique(previous.cluster_id.astype(str), return_inverse=True)
    previous_ids = np.array([f"psu {c}" if c % 2 else int(c) for c in codes], dtype=object)
    update = cluster(x, y, grown, params, previous_ids=previous_ids)
    ids = update.cluster_id.astype(str)
    assert _out_of_band(ids, grown, params.desired_cluster_weight) == 0
    before = set(str(p) for p in previous_ids)
    assert set(update.update.new) == set(ids) - before
    assert (ids == previous_ids.astype(str)).mean() >= 0.8
    assert len(update.clusters) == len(set(ids))


def test_a_seed_frame_is_updated_from_its_clusters_centres():
    x, y, w = clumped_population(6000, seed=8)
    params = fast_params()
    seed = cluster(x, y, w, fast_params(strategy="seed"))
    update = cluster(x, y, w, params, previous_ids=seed.cluster_id)
    ids = check_result(update, w, params, x, y)
    check_cap(update, w, params.max_cluster_weight)
    # Seed clusters are often out of band; the update brings them in while keeping part of the frame.
    assert _out_of_band(ids, w, params.desired_cluster_weight) < _out_of_band(seed.cluster_id, w,
                                                                              params.desired_cluster_weight)
    assert np.mean(ids == seed.cluster_id.astype(str)) > 0.3
    _check_report(update.update, seed.cluster_id, ids, w)


@pytest.mark.parametrize("previous_ids, message", [
    (["CLUSTER_1"] * 3, "4 features but 3 previous cluster IDs"),
    ([None, "", np.nan, None], "empty on every feature"),
])
def test_bad_previous_ids_are_refused(previous_ids, message):
    with pytest.raises(ClusteringInputError, match=message):
        cluster(np.arange(4.0), np.zeros(4), np.ones(4), fast_params(), previous_ids=previous_ids)


def test_a_fixed_cluster_count_is_refused_with_an_update():
    with pytest.raises(ClusteringInputError, match="fixed number of clusters"):
        cluster(np.arange(4.0), np.zeros(4), np.ones(4), fast_params(n_clusters=2, max_passes=1),
                previous_ids=["a", "a", "b", "b"])


@st.composite
def releases(draw):
    """A small clumped population, its compact frame's settings, and a new release of its weights."""
    n = draw(st.integers(50, 1500))
    seed = draw(st.integers(0, 2**20))
    x, y, w = clumped_population(n, seed)
    target = w.sum() / draw(st.sampled_from([2, 5, 12]))
    values = dict(desired_cluster_weight=target, max_cluster_weight=1.25 * target,
                  desired_cluster_radius=draw(st.sampled_from([500.0, 2000.0])))
    factor = draw(st.sampled_from([1.0, 1.1, 1.3]))
    noise = draw(st.sampled_from([0.0, 0.1, 0.3]))
    rng = np.random.default_rng(seed + 1)
    new = w * rng.lognormal(0.0, noise, n) if noise else w.copy()
    new[x < np.quantile(x, 0.3)] *= factor
    drop = draw(st.sampled_from([0, 1, 10]))
    return x, y, w, new, values, drop


@settings(max_examples=25, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(release=releases())
def test_update_properties(release):
    x, y, w, new, values, drop = release
    params = fast_params(**values)
    previous = cluster(x, y, w, params)
    keep = np.ones(len(x), dtype=bool)
    keep[:drop] = False  # removed features
    x, y, w, new, previous_ids = x[keep], y[keep], w[keep], new[keep], previous.cluster_id[keep]
    # With unchanged weights a frame in band stays exactly as it was.
    if not drop and _out_of_band(previous_ids, w, params.desired_cluster_weight) == 0:
        same = cluster(x, y, w, params, previous_ids=previous_ids)
        np.testing.assert_array_equal(same.cluster_id.astype(str), previous_ids.astype(str))
    update = cluster(x, y, new, params, previous_ids=previous_ids)
    ids = check_result(update, new, params, x, y)
    check_cap(update, new, params.max_cluster_weight)
    _check_report(update.update, previous_ids, ids, new)
    # Unique IDs, and stable ones: a previous ID that is kept still names mostly the same features.
    for name in set(update.update.unchanged) | set(update.update.reshaped):
        was = previous_ids.astype(str) == name
        assert (ids[was] == name).any()
    # Reproducible.
    again = cluster(x, y, new, params, previous_ids=previous_ids)
    np.testing.assert_array_equal(again.cluster_id, update.cluster_id)
