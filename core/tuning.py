"""Optuna search over the number of clusters k, scored as the original tool scored it."""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import optuna

from .data import Features, RunContext
from .params import ClusteringParams

# A cancelled run makes Optuna log "Trial N failed" with a traceback: noise in QGIS logs.
optuna.logging.set_verbosity(optuna.logging.ERROR)


def clustering_score(median_weight, median_radius, params: ClusteringParams) -> float:
    """wif * (r_target / w_target) * |w_target - median weight| + |r_target - median radius|."""
    w_t = params.desired_cluster_weight
    r_t = params.desired_cluster_radius
    return float(
        params.weight_importance_factor * (r_t / w_t) * abs(w_t - median_weight) + abs(r_t - median_radius)
    )


def compact_labels(labels: np.ndarray):
    """Map labels to 0..g-1 (dropping unused ones); returns (compact, original values)."""
    used, compact = np.unique(labels, return_inverse=True)
    return compact, used


def score_labels(features: Features, labels: np.ndarray, params: ClusteringParams) -> float:
    compact, used = compact_labels(labels)
    weights = np.bincount(compact, weights=features.w, minlength=len(used))
    radii = features.circles(compact, len(used))[2]
    return clustering_score(np.median(weights), np.median(radii), params)


def k_search_range(total_weight: float, n_features: int, target_weight: float):
    """The seed's range for k: expected // 2 .. 2 * expected, clipped to the feature count."""
    expected = int(total_weight / target_weight)
    high = max(expected * 2, 2)
    if n_features < high:
        high = n_features
        low = max(1, high // 4)
    else:
        low = max(expected // 2, 1)
    return low, high


def worker_threads(n_jobs: int) -> int:
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def tune_k(features: Features, partitioner: Callable[[Features, int], np.ndarray], n_trials: int,
           params: ClusteringParams, context: RunContext, on_trial: Callable[[int, int], None],
           k_values=None) -> list:
    """Run an Optuna grid study over k; return the k values tried, best first (ties: smaller k).

    k_values defaults to the seed's range. Optuna threads (n_jobs) run trials in
    parallel; picking the winner ourselves from (score, k) keeps the answer identical
    whatever order the threads finished in. on_trial(done, planned) follows the trials that
    really run: the grid stops Optuna once every k was tried, often well before n_trials.
    """
    if k_values is None:
        low, high = k_search_range(features.w.sum(), len(features), params.desired_cluster_weight)
        k_values = list(range(low, high + 1))
    if len(k_values) == 1:
        return [int(k_values[0])]
    sampler = optuna.samplers.GridSampler({"n_clusters": [int(k) for k in k_values]}, seed=params.random_state)
    study = optuna.create_study(sampler=sampler, direction="minimize")
    finished = [0]
    planned = min(n_trials, len(set(int(k) for k in k_values)))

    def objective(trial):
        context.check_cancelled()
        k = trial.suggest_categorical("n_clusters", [int(k) for k in k_values])
        return score_labels(features, partitioner(features, k), params)

    def after_trial(study, trial):
        finished[0] += 1
        on_trial(min(finished[0], planned), planned)

    study.optimize(objective, n_trials=n_trials, n_jobs=worker_threads(params.n_jobs), callbacks=[after_trial])
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    ranked = sorted({(t.value, t.params["n_clusters"]) for t in done})
    return [int(k) for _, k in ranked]
