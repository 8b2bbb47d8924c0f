"""Optuna search over the number of clusters k, scored as the original tool scored it."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..params import ClusteringParams, worker_threads
from .data import Features, RunContext
from .optuna_loader import load_optuna

optuna = load_optuna()

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


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler without its per-trial scan for unvisited grid values.

    After every trial, GridSampler compares the grid of every earlier trial with its own,
    value by value, to see whether the grid is used up: quadratic in the trials, and a
    quarter of `seed` mode's time on rooftops (868 values of k, 100 trials). tune_k never
    asks for more trials than the grid holds, so that check can never stop the study
    early; the values tried and their order (trial t takes the t-th value of the seeded
    shuffle) are Optuna's own.
    """

    def after_trial(self, study, trial, state, values) -> None:
        return None


def tune_k(features: Features, partitioner: Callable[[Features, int], np.ndarray], n_trials: int,
           params: ClusteringParams, context: RunContext, on_trial: Callable[[int, int], None],
           k_values=None) -> list:
    """Run an Optuna grid study over k; return the k values tried, best first.

    k_values defaults to the seed's range. Ties go to the earlier trial, as Optuna's
    `study.best_trial` picks them in the original's one-thread run: GridSampler gives
    trial number t the t-th value of its seeded shuffle of the grid, so the order is
    fixed. Optuna threads (n_jobs) finish trials in any order; ranking by (score,
    trial number) ourselves keeps the answer identical whatever that order was.
    on_trial(done, planned) follows the trials that really run: never more than the grid holds,
    often well below n_trials.
    """
    if k_values is None:
        low, high = k_search_range(features.w.sum(), len(features), params.desired_cluster_weight)
        k_values = list(range(low, high + 1))
    if len(k_values) == 1:
        return [int(k_values[0])]
    sampler = _GridSampler({"n_clusters": [int(k) for k in k_values]}, seed=params.random_state)
    study = optuna.create_study(sampler=sampler, direction="minimize")
    finished = [0]
    planned = min(n_trials, len(k_values))

    failures = []

    def objective(trial):
        try:
            context.check_cancelled()
            k = trial.suggest_categorical("n_clusters", [int(k) for k in k_values])
            return score_labels(features, partitioner(features, k), params)
        except Exception as failure:
            failures.append(failure)
            raise

    def after_trial(study, trial):
        finished[0] += 1
        on_trial(min(finished[0], planned), planned)

    # As many trials as asked, but never more than the grid holds (GridSampler would stop there).
    study.optimize(objective, n_trials=min(n_trials, len(k_values)), n_jobs=worker_threads(params.n_jobs),
                   callbacks=[after_trial])
    if failures:  # Optuna's threads (n_jobs != 1) drop the error of a trial still running when the study ends
        raise failures[0]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    ranked = sorted(done, key=lambda t: (t.value, t.number))
    return [int(t.params["n_clusters"]) for t in ranked]
