"""Property-based tests of cluster(): invariants that must hold for any input."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import shapely
from core_helpers import check_cap, check_result, fast_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import clumped_population

from core import CLUSTER_COLUMNS, cluster

STRATEGIES = ["compact", "balanced", "seed"]


@st.composite
def problems(draw):
    """(x, y, w, params values) for a small input of varied layout and weights."""
    n = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**20))
    rng = np.random.default_rng(seed)
    layout = draw(st.sampled_from(["clumped", "uniform", "stacked", "line"]))
    if layout == "clumped":
        x, y, w = clumped_population(n, seed)
    else:
        if layout == "uniform":
            x, y = rng.uniform(0, 20_000, n), rng.uniform(0, 20_000, n)
        elif layout == "stacked":  # few distinct positions: many exact duplicates
            x, y = rng.integers(0, 3, n) * 500.0, rng.integers(0, 3, n) * 500.0
        else:  # every point on one line
            x = rng.uniform(0, 20_000, n)
            y = 2.0 * x + 100.0
        w = rng.lognormal(0.0, 1.0, n)
    # All-zero weights are refused (test_bad_input), so some weight is always there.
    kind = draw(st.sampled_from(["as_is", "integers_with_zeros", "equal", "one_heavy"]))
    if kind == "integers_with_zeros":
        w = rng.integers(0, 4, n).astype(float)
        w[0] = max(w[0], 1.0)
    elif kind == "equal":
        w = np.full(n, 3.0)
    total = float(w.sum())
    # From a third of one cluster's worth up to far more clusters than features.
    clusters_wanted = draw(st.sampled_from([0.3, 1, 2, 3, 7, 12, 25, 400]))
    target = total / clusters_wanted if total > 0 else 1.0
    cap_factor = draw(st.sampled_from([None, 1.0, 1.25, 2.0]))
    cap = None if cap_factor is None else target * cap_factor
    if kind == "one_heavy":
        w = w.copy()
        w[draw(st.integers(0, n - 1))] = (cap or target) * draw(st.sampled_from([1.5, 10.0]))
    values = dict(
        desired_cluster_weight=target,
        desired_cluster_radius=draw(st.sampled_from([200.0, 1000.0, 5000.0])),
        max_cluster_weight=cap,
        max_passes=100 if cap is not None else 1,
        min_cluster_weight=draw(st.sampled_from([None, 0.3 * target])),
        weight_importance_factor=draw(st.sampled_from([0.0, 1.0, 5.0])),
        random_state=draw(st.integers(0, 1000)),
        initial_max_trials=draw(st.integers(5, 8)),
        subsequent_max_trials=draw(st.integers(3, 5)),
    )
    return x, y, w, values


def _same_result(a, b):
    np.testing.assert_array_equal(a.cluster_id.astype(str), b.cluster_id.astype(str))
    np.testing.assert_array_equal(a.cluster_weight, b.cluster_weight)
    np.testing.assert_array_equal(a.cluster_pass, b.cluster_pass)
    for column in CLUSTER_COLUMNS:
        np.testing.assert_array_equal(np.asarray(a.clusters[column]), np.asarray(b.clusters[column]), err_msg=column)
    np.testing.assert_array_equal(a.heavy_features, b.heavy_features)


def _check_invariants_and_reproducibility(strategy, problem):
    x, y, w, values = problem
    params = fast_params(strategy=strategy, **values)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y)
    if w.sum() == 0:
        assert set(ids) == {"CLUSTER_0"}
    if strategy != "seed" and params.max_cluster_weight is not None:
        check_cap(result, w, params.max_cluster_weight)
    assert np.all(result.clusters["radius_m"] >= 0)
    assert np.all(result.cluster_pass >= 1)
    if not values["min_cluster_weight"]:
        # Each pass that splits a cluster adds one level to the IDs of its members.
        depth = np.array([len(i.split("_")) - 1 for i in ids])
        np.testing.assert_array_equal(result.cluster_pass, depth)
    # Same input, same random_state: the very same output.
    _same_result(result, cluster(x, y, w, params))


@settings(max_examples=50, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems())
def test_invariants_and_reproducibility_balanced(problem):
    _check_invariants_and_reproducibility("balanced", problem)


@settings(max_examples=50, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems())
def test_invariants_and_reproducibility_compact(problem):
    _check_invariants_and_reproducibility("compact", problem)


# k-means passes cost more: fewer examples keep the suite quick.
@settings(max_examples=12, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems())
def test_invariants_and_reproducibility_seed(problem):
    _check_invariants_and_reproducibility("seed", problem)


def _run_with_timeout(function, timeout):
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # re-raised in the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"did not finish within {timeout} s (deadlock?)"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=8, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems())
def test_all_cores_give_the_same_output_as_one(strategy, problem):
    x, y, w, values = problem
    serial = cluster(x, y, w, fast_params(strategy=strategy, n_jobs=1, **values))
    parallel = _run_with_timeout(lambda: cluster(x, y, w, fast_params(strategy=strategy, n_jobs=-1, **values)), 60)
    _same_result(serial, parallel)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_all_cores_on_a_larger_input_with_many_oversized_clusters(strategy):
    # Enough oversized clusters after pass 1 that the pass-2 thread pool really runs in parallel.
    x, y, w = clumped_population(3000, seed=21)
    # Radius-only scoring (importance 0) with a wide radius makes pass 1 clusters too heavy.
    values = dict(desired_cluster_weight=40.0, max_cluster_weight=45.0, initial_max_trials=6,
                  weight_importance_factor=0.0, desired_cluster_radius=4000.0,
                  subsequent_max_trials=4, strategy=strategy)
    serial = cluster(x, y, w, fast_params(n_jobs=1, **values))
    parallel = _run_with_timeout(lambda: cluster(x, y, w, fast_params(n_jobs=-1, **values)), 120)
    assert serial.passes_run >= 2
    _same_result(serial, parallel)
    check_result(parallel, w, parallel.params, x, y)


@st.composite
def polygon_problems(draw):
    """Small polygons (triangles to hexagons, some shared corners) with their vertices."""
    n = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**20)))
    cx = rng.uniform(0, 8000, n).round(-1)
    cy = rng.uniform(0, 8000, n).round(-1)
    polygons = []
    for i in range(n):
        corners = rng.integers(3, 7)
        angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
        size = rng.uniform(10, 400)
        polygons.append(shapely.Polygon(np.column_stack([cx[i] + size * np.cos(angles),
                                                         cy[i] + size * np.sin(angles)])))
    w = rng.lognormal(0, 1, n)
    target = w.sum() / draw(st.integers(1, 15))
    return cx, cy, w, polygons, target


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=15, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=polygon_problems())
def test_polygon_members_radius_and_invariants(strategy, problem):
    x, y, w, polygons, target = problem
    vertex_xy, owner = shapely.get_coordinates(polygons, return_index=True)
    params = fast_params(strategy=strategy, desired_cluster_weight=target, max_cluster_weight=1.25 * target,
                         desired_cluster_radius=1000.0)
    result = cluster(x, y, w, params, vertex_xy=vertex_xy, vertex_owner=owner)
    ids = check_result(result, w, params, x, y, check_radius=False)
    if strategy != "seed":
        check_cap(result, w, params.max_cluster_weight)
    for name, radius in zip(result.clusters["cluster_id"], result.clusters["radius_m"]):
        members = [polygons[i] for i in np.flatnonzero(ids == name)]
        expected = shapely.minimum_bounding_radius(shapely.GeometryCollection(members))
        assert radius == pytest.approx(expected, rel=1e-7, abs=1e-6)


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=15, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), share=st.sampled_from([0.3, 0.6, 1.0]))
def test_undersized_clusters_left_have_nowhere_to_go(strategy, problem, share):
    """After merging, a cluster under min_cluster_weight remains only if joining any other
    cluster would break the cap (or it is the only cluster)."""
    x, y, w, values = problem
    values = dict(values, min_cluster_weight=share * values["desired_cluster_weight"])
    params = fast_params(strategy=strategy, **values)
    result = cluster(x, y, w, params)
    check_result(result, w, params, x, y)
    weights = np.asarray(result.clusters["weight"])
    cap = params.max_cluster_weight if params.max_cluster_weight is not None else np.inf
    for i in np.flatnonzero(weights < params.min_cluster_weight):
        others = np.delete(weights, i)
        assert np.all(weights[i] + others > cap), (
            f"cluster of weight {weights[i]} under the minimum could join one of {others[weights[i] + others <= cap]}"
        )
