"""Seed strategy fidelity: the original tool's k range, scoring, k-means and ID numbering."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import optuna
import pytest
import shapely
from core_helpers import check_result, fast_params
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import MiniBatchKMeans
from threadpoolctl import threadpool_limits

import core.engine.run
from core import cluster
from core.engine.data import Features, RunContext
from core.engine.tuning import k_search_range, score_labels, tune_k

# --------------------------------------------------------------------------- k search range


@settings(max_examples=300, database=None, deadline=None)
@given(total=st.floats(0, 1e6, allow_nan=False), n=st.integers(1, 5000), target=st.floats(0.01, 1e4))
def test_k_range_is_the_seed_range_clipped_to_the_feature_count(total, n, target):
    low, high = k_search_range(total, n, target)
    assert isinstance(low, int) and isinstance(high, int)
    assert 1 <= low <= high <= max(n, 1)
    expected = int(total / target)
    nominal = (max(expected // 2, 1), max(2 * expected, 2))
    if n >= nominal[1]:
        assert (low, high) == nominal
    else:
        assert high == n  # clipped: never more clusters than features


@pytest.mark.parametrize("total, n, target, wanted", [
    # expected = 10: nominal range 5..20
    (1000.0, 500, 100.0, (5, 20)),
    (1000.0, 20, 100.0, (5, 20)),  # exactly 2 * expected features: no clipping
    (1000.0, 19, 100.0, (19 // 4, 19)),  # one fewer: clipped to the features
    (1000.0, 3, 100.0, (1, 3)),  # fewer features than expected // 2
    (1000.0, 1, 100.0, (1, 1)),  # one feature: one cluster
    (1000.0, 2, 100.0, (1, 2)),
    # expected = 0 or 1: the range still spans 1..2
    (50.0, 100, 100.0, (1, 2)),
    (0.0, 100, 100.0, (1, 2)),
    (150.0, 100, 100.0, (1, 2)),
    (199.0, 1, 100.0, (1, 1)),
    # expected = 3: 1..6
    (350.0, 100, 100.0, (1, 6)),
    (350.0, 6, 100.0, (1, 6)),
    (350.0, 5, 100.0, (1, 5)),
])
def test_k_range_edge_cases(total, n, target, wanted):
    assert k_search_range(total, n, target) == wanted


# --------------------------------------------------------------------------- pass 1 reproduced


def optuna_grid_order(k_values, seed, n_trials):
    """The k values an Optuna grid study (GridSampler, seed) tries, in trial-number order."""
    study = optuna.create_study(sampler=optuna.samplers.GridSampler({"n_clusters": list(k_values)}, seed=seed))
    study.optimize(lambda trial: trial.suggest_categorical("n_clusters", list(k_values)) * 0.0, n_trials=n_trials)
    return [trial.params["n_clusters"] for trial in study.trials]


def _seed_pass_one_by_hand(x, y, w, params, k_values):
    """The original tool's pass 1, written out with sklearn and shapely: try every k in the
    order Optuna's grid study tries them, keep the lowest score (ties: the earlier trial, as
    `study.best_trial` does), name clusters by k-means label + 1 padded to k."""
    best = None
    for k in optuna_grid_order(k_values, params.random_state, len(k_values)):
        if k == 1:
            labels = np.zeros(len(x), dtype=int)
        else:
            model = MiniBatchKMeans(n_clusters=k, batch_size=1024, n_init=1,
                                    reassignment_ratio=params.minibatch_reassignment_ratio,
                                    random_state=params.random_state)
            with threadpool_limits(limits=1, user_api="openmp"):  # same labels, far quicker on a busy machine
                labels = model.fit_predict(np.column_stack([x, y]), sample_weight=w)
        used = np.unique(labels)
        weights = [w[labels == label].sum() for label in used]
        radii = [shapely.minimum_bounding_radius(shapely.multipoints(np.column_stack([x[labels == label],
                                                                                     y[labels == label]])))
                 for label in used]
        w_t, r_t = params.desired_cluster_weight, params.desired_cluster_radius
        score = (params.weight_importance_factor * (r_t / w_t) * abs(w_t - np.median(weights))
                 + abs(r_t - np.median(radii)))
        if best is None or score < best[0]:
            best = (score, k, labels)
    _, k, labels = best
    ids = np.array([f"CLUSTER_{str(label + 1).zfill(len(str(k)))}" for label in labels])
    return k, ids


@pytest.mark.parametrize("importance, radius, random_state", [
    (0.0, 50.0, 3),  # radius only with a tiny target: the largest k wins (two-digit IDs)
    (1.0, 1500.0, 42),
    (5.0, 800.0, 7),
])
def test_pass_one_matches_the_original_tool(importance, radius, random_state):
    rng = np.random.default_rng(random_state)
    x = rng.uniform(0, 10_000, 220)
    y = rng.uniform(0, 10_000, 220)
    w = rng.integers(1, 10, 220).astype(float)
    target = w.sum() / 6  # expected 6 (or 5 after flooring): k in 2..12 or 3..12
    low, high = k_search_range(w.sum(), len(w), target)
    params = fast_params(strategy="seed", desired_cluster_weight=target, desired_cluster_radius=radius,
                         max_cluster_weight=None, max_passes=1, weight_importance_factor=importance,
                         initial_max_trials=high - low + 1, random_state=random_state)
    result = cluster(x, y, w, params)
    check_result(result, w, params, x, y)
    k, expected_ids = _seed_pass_one_by_hand(x, y, w, params, range(low, high + 1))
    if importance == 0.0:
        assert k >= 10  # the case meant to exercise zero padding
    np.testing.assert_array_equal(result.cluster_id.astype(str), expected_ids)
    assert (result.cluster_pass == 1).all()


def test_ids_are_zero_padded_to_the_digits_of_k():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 50_000, 400)
    y = rng.uniform(0, 50_000, 400)
    w = np.ones(400)
    # expected 40 -> k in 20..80: two digits whatever k wins.
    params = fast_params(strategy="seed", desired_cluster_weight=10, max_cluster_weight=None, max_passes=1)
    result = cluster(x, y, w, params)
    ids = result.cluster_id.astype(str)
    assert all(re.fullmatch(r"CLUSTER_\d\d", i) for i in ids), sorted(set(ids))[:5]
    assert "CLUSTER_00" not in ids  # numbering starts at 1
    assert any(i.startswith("CLUSTER_0") for i in ids)  # single-digit labels are padded


@pytest.fixture(scope="module")
def multi_pass():
    """A seed-mode run whose cap is tight enough that later passes surely split clusters."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 20_000, 400)
    y = rng.uniform(0, 20_000, 400)
    w = rng.lognormal(0, 1, 400)
    params = fast_params(strategy="seed", desired_cluster_weight=w.sum() / 12,
                         max_cluster_weight=w.sum() / 12 * 1.1, desired_cluster_radius=3000)
    result = cluster(x, y, w, params)
    return result, check_result(result, w, params, x, y)


def test_second_pass_ids_are_padded_to_their_own_k(multi_pass):
    result, ids = multi_pass
    assert result.passes_run >= 2
    children = {}
    for name in set(ids):
        parts = name.split("_")
        if len(parts) > 2:
            children.setdefault("_".join(parts[:-1]), []).append(parts[-1])
    assert children
    for parent, numbers in children.items():
        widths = {len(n) for n in numbers}
        assert len(widths) == 1, (parent, numbers)  # one width per split, from that split's k
        assert all(int(n) >= 1 for n in numbers)


def test_a_split_into_one_piece_keeps_its_id_and_pass():
    # Stack A: 60 features on one spot, far heavier than the cap; k-means cannot split a point.
    # Spread B: 120 features over the plane that do split.
    rng = np.random.default_rng(4)
    x = np.concatenate([np.full(60, 50_000.0), rng.uniform(0, 20_000, 120)])
    y = np.concatenate([np.full(60, 50_000.0), rng.uniform(0, 20_000, 120)])
    w = np.concatenate([np.full(60, 10.0), rng.uniform(1, 3, 120)])
    params = fast_params(strategy="seed", desired_cluster_weight=100, max_cluster_weight=150)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y)
    stack = ids[:60]
    assert len(set(stack)) == 1
    assert re.fullmatch(r"CLUSTER_\d+", stack[0])  # still its pass-1 ID
    assert (result.cluster_pass[:60] == 1).all()
    assert result.clusters["weight"][list(result.clusters["cluster_id"]).index(stack[0])] == pytest.approx(600)
    # The engine did try further passes (the stack stayed oversized), so the ID was kept, not skipped.
    assert result.passes_run >= 2


def test_id_depth_equals_the_pass_that_made_the_cluster(multi_pass):
    """Each pass that splits a cluster adds one level to its members' IDs (the property tests
    check the same for both strategies on random inputs; here later passes surely run)."""
    result, ids = multi_pass
    depth = np.array([len(i.split("_")) - 1 for i in ids])
    assert depth.max() >= 2  # some clusters were made by later passes
    np.testing.assert_array_equal(result.cluster_pass, depth)


@pytest.mark.parametrize("clusters, cap_factor, radius, importance", [(8, 1.1, 3000, 0.3), (8, 1.0, 1200, 1.0),
                                                                      (5, 1.0, 3000, 1.0)])
def test_pass_two_matches_the_original_tool(clusters, cap_factor, radius, importance):
    """Pass 2 by hand: every cluster over the cap is re-clustered on its own members (in input
    order) with the same search, its pieces named <parent>_<label + 1>; one piece keeps its ID."""
    rng = np.random.default_rng(12)
    x = np.concatenate([rng.normal(0, 800, 150), rng.normal(6000, 1500, 150)])
    y = np.concatenate([rng.normal(0, 800, 150), rng.normal(3000, 1500, 150)])
    w = rng.integers(1, 8, 300).astype(float)
    target = w.sum() / clusters
    params = fast_params(strategy="seed", desired_cluster_weight=target, max_cluster_weight=cap_factor * target,
                         desired_cluster_radius=radius, weight_importance_factor=importance, max_passes=2,
                         initial_max_trials=40, subsequent_max_trials=40, random_state=11)
    result = cluster(x, y, w, params)
    check_result(result, w, params, x, y)

    low, high = k_search_range(w.sum(), len(w), target)
    assert high - low + 1 <= params.initial_max_trials  # every k is tried, as by hand
    _, ids = _seed_pass_one_by_hand(x, y, w, params, range(low, high + 1))
    expected = ids.astype(object)
    passes = np.ones(len(w), dtype=int)
    oversized = [name for name in np.unique(ids) if w[ids == name].sum() > params.max_cluster_weight]
    assert oversized  # the case meant to exercise pass 2
    for name in oversized:
        members = np.flatnonzero(ids == name)
        sub_low, sub_high = k_search_range(w[members].sum(), len(members), target)
        assert sub_high - sub_low + 1 <= params.subsequent_max_trials
        _, sub_ids = _seed_pass_one_by_hand(x[members], y[members], w[members], params,
                                            range(sub_low, sub_high + 1))
        if len(np.unique(sub_ids)) > 1:
            expected[members] = [f"{name}_{s[len('CLUSTER_'):]}" for s in sub_ids]
            passes[members] = 2
    np.testing.assert_array_equal(result.cluster_id.astype(str), expected.astype(str))
    np.testing.assert_array_equal(result.cluster_pass, passes)


# --------------------------------------------------------------------------- the original's pass loop


def test_a_one_piece_cluster_is_not_re_clustered_again():
    """The original re-clusters only clusters the previous pass made. A stack that cannot be
    split comes out of pass 2 in one piece with its pass-1 ID and pass, so pass 3 has nothing
    to do and the run stops (it is not re-split until the oversized count stalls)."""
    x = np.full(60, 50_000.0)
    y = np.full(60, 50_000.0)
    w = np.full(60, 10.0)
    params = fast_params(strategy="seed", desired_cluster_weight=100, max_cluster_weight=150)
    messages = []
    result = cluster(x, y, w, params, progress=lambda fraction, message: messages.append(message))
    check_result(result, w, params, x, y)
    assert len(result.clusters) == 1 and result.clusters["weight"][0] == 600  # still over the cap
    assert (result.cluster_pass == 1).all()
    assert result.passes_run == 2
    assert [m for m in messages if "re-clustered" in m] == ["pass 2: re-clustered 1 of 1 oversized"]


def test_the_pass_loop_stops_when_the_oversized_count_repeats_three_times(monkeypatch):
    """With a partitioner that peels off one feature per split, one oversized cluster is left
    after passes 1, 2 and 3: the original stops at pass 4 (the same count three times), long
    before max_passes, leaving the last remainder over the cap."""
    def peel_last(x, y, w, k, reassignment_ratio, random_state):
        labels = np.zeros(len(x), dtype=np.int64)
        if k >= 2:
            labels[-1] = 1
        return labels

    monkeypatch.setattr(core.engine.run, "kmeans_labels", peel_last)
    x = np.arange(5) * 1000.0
    y = np.zeros(5)
    w = np.full(5, 10.0)
    # Weight dominates the score, so every k >= 2 (two pieces) beats k = 1.
    params = fast_params(strategy="seed", desired_cluster_weight=10, max_cluster_weight=15,
                         weight_importance_factor=5.0, max_passes=100)
    result = cluster(x, y, w, params)
    assert result.passes_run == 3
    assert result.cluster_id.astype(str).tolist() == ["CLUSTER_1_1_1", "CLUSTER_1_1_1", "CLUSTER_1_1_2",
                                                      "CLUSTER_1_2", "CLUSTER_2"]
    assert result.cluster_pass.tolist() == [3, 3, 3, 2, 1]


def test_ties_go_to_optunas_best_trial_not_the_smaller_k():
    """Equal scores: the winner is the first trial in Optuna's grid order, as `study.best_trial`
    gives it, for any number of Optuna threads."""
    rng = np.random.default_rng(3)
    group = Features.checked(rng.uniform(0, 5000, 200), rng.uniform(0, 5000, 200), np.ones(200))

    def two_halves_for_even_k(features, k):  # every even k scores the same, odd k all the same
        halves = (features.x > np.median(features.x)).astype(np.int64)
        return halves if k % 2 == 0 else np.zeros(len(features.x), dtype=np.int64)

    k_values = list(range(4, 17))
    params = fast_params(strategy="seed", desired_cluster_weight=100, random_state=7)
    study = optuna.create_study(sampler=optuna.samplers.GridSampler({"n_clusters": k_values}, seed=7))
    study.optimize(lambda trial: score_labels(
        group, two_halves_for_even_k(group, trial.suggest_int("n_clusters", 4, 16)), params),
        n_trials=len(k_values))
    best_k = study.best_trial.params["n_clusters"]
    assert best_k != min(k for k in k_values if k % 2 == 0)  # this seed really tests the order
    for n_jobs in (1, -1):
        ranked = tune_k(group, two_halves_for_even_k, len(k_values), dataclasses.replace(params, n_jobs=n_jobs),
                        RunContext(), lambda done, planned: None, k_values=k_values)
        assert ranked[0] == best_k


def test_more_trials_than_k_values_tries_each_k_once():
    """As Optuna's GridSampler stops once its grid is used up, so does the study."""
    rng = np.random.default_rng(2)
    group = Features.checked(rng.uniform(0, 5000, 120), rng.uniform(0, 5000, 120), np.ones(120))
    params = fast_params(strategy="seed", desired_cluster_weight=20)
    tried = tune_k(group, lambda features, k: np.arange(len(features.x)) % k, 50, params, RunContext(),
                   lambda done, planned: None, k_values=[3, 4, 5, 6, 7])
    assert sorted(tried) == [3, 4, 5, 6, 7]
