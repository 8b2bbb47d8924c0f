"""The engine with numpy, SciPy, scikit-learn and Optuna only (no pandas, shapely or geopandas).

`make test` also runs this file in .venv-debian, on Debian 12's own packages (numpy 1.24,
scikit-learn 1.2, Optuna 3.1), the oldest versions metadata.txt says work.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import clumped_population

from core import STRATEGIES, ClusteringCancelled, ClusteringParams, cluster

TARGET_WEIGHT, TARGET_RADIUS, MAX_WEIGHT = 60.0, 1500.0, 90.0


@pytest.fixture(scope="module")
def population():
    return clumped_population(3000, seed=3)


def params(strategy, **overrides):
    values = dict(desired_cluster_weight=TARGET_WEIGHT, desired_cluster_radius=TARGET_RADIUS,
                  max_cluster_weight=MAX_WEIGHT, initial_max_trials=10, subsequent_max_trials=5, strategy=strategy)
    values.update(overrides)
    return ClusteringParams(**values)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_feature_gets_one_cluster_and_the_table_adds_up(population, strategy):
    x, y, weights = population
    result = cluster(x, y, weights, params(strategy))
    assert len(result.cluster_id) == len(x) and all(str(i) for i in result.cluster_id)
    table = result.clusters
    ids, inverse = np.unique(result.cluster_id.astype(str), return_inverse=True)
    assert sorted(ids) == sorted(str(i) for i in table["cluster_id"])
    assert np.isclose(table["weight"].sum(), weights.sum())
    per_cluster = np.bincount(inverse, weights=weights)
    by_id = dict(zip((str(i) for i in table["cluster_id"]), table["weight"]))
    assert np.allclose([by_id[i] for i in ids], per_cluster)
    assert np.allclose(result.cluster_weight, per_cluster[inverse])
    assert 0.5 * TARGET_WEIGHT < np.median(table["weight"]) < 1.5 * TARGET_WEIGHT
    for row, name in enumerate(table["cluster_id"]):  # each radius covers its members
        members = result.cluster_id.astype(str) == str(name)
        cx, cy = table["centroid_x"][row], table["centroid_y"][row]
        assert table["radius_m"][row] >= 0 and members.sum() == table["n_features"][row]
        assert np.isfinite(cx) and np.isfinite(cy)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_same_seed_gives_the_same_clusters(population, strategy):
    x, y, weights = population
    first = cluster(x, y, weights, params(strategy))
    again = cluster(x, y, weights, params(strategy))
    assert np.array_equal(first.cluster_id, again.cluster_id)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_two_threads_give_the_same_clusters_as_one(population, strategy):
    # Optuna 3.1's GridSampler draws each trial's k from the values no running trial holds: with
    # trials on threads, which k a trial got depended on timing before the order was fixed up front.
    x, y, weights = population
    one = cluster(x, y, weights, params(strategy, initial_max_trials=20, n_jobs=1))
    two = cluster(x, y, weights, params(strategy, initial_max_trials=20, n_jobs=2))
    assert np.array_equal(one.cluster_id, two.cluster_id)
    assert np.array_equal(one.cluster_pass, two.cluster_pass)
    assert one.trials == two.trials


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_cancel_stops_the_run(population, strategy):
    x, y, weights = population
    calls = []

    def cancel_after_a_few_checks():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(ClusteringCancelled):
        cluster(x, y, weights, params(strategy), is_cancelled=cancel_after_a_few_checks)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_progress_moves_evenly_with_the_trials_that_really_run(strategy):
    x, y, weights = clumped_population(600, seed=5)  # a k grid of about 20 values: fewer than 100 trials
    reports = []
    cluster(x, y, weights, params(strategy, initial_max_trials=100),
            progress=lambda fraction, message: reports.append((fraction, message)))
    trials = [(fraction, message) for fraction, message in reports if message.startswith("pass 1: trial ")]
    planned = {int(message.rsplit(" ", 1)[1]) for _, message in trials}
    assert len(planned) == 1 and planned.pop() == len(trials) < 100  # the grid of k ran out before 100
    fractions = np.array([fraction for fraction, _ in trials])
    assert np.allclose(np.diff(fractions), fractions[0])  # equal steps
    assert np.isclose(fractions[-1], 0.6)  # the first pass's whole share, not 9 % of it
    assert [fraction for fraction, _ in reports] == sorted(fraction for fraction, _ in reports)


def test_seed_fits_check_cancel_between_mini_batches_and_keep_their_labels():
    seed = next(s for s in STRATEGIES if s == "seed")  # the original's MiniBatchKMeans mode
    x, y, weights = clumped_population(20_000, seed=11)  # more rows than one mini-batch of 1024
    one_trial = params(seed, initial_max_trials=1, max_cluster_weight=None, max_passes=1)
    checks = []
    watched = cluster(x, y, weights, one_trial, is_cancelled=lambda: checks.append(1) and False)
    plain = cluster(x, y, weights, one_trial)
    assert np.array_equal(watched.cluster_id, plain.cluster_id)  # checking changes no arithmetic
    # one trial and one final fit: the many checks come from inside the fits, batch by batch
    assert len(checks) > 40, len(checks)
    seen = []

    def cancel_inside_the_first_fit():
        seen.append(1)
        return len(seen) > 10

    with pytest.raises(ClusteringCancelled):
        cluster(x, y, weights, one_trial, is_cancelled=cancel_inside_the_first_fit)
    assert len(seen) == 11  # stopped at the first check after the request: no further batch ran
