"""Optuna search over the number of clusters k, scored as the original tool scored it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from ..params import ClusteringParams, worker_threads
from .data import Features, RunContext
from .optuna_loader import load_optuna
from .score import clustering_score

optuna = load_optuna()

# A cancelled run makes Optuna log "Trial N failed" with a traceback: noise in QGIS logs.
optuna.logging.set_verbosity(optuna.logging.ERROR)


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


def grid_order(k_values, n_trials: int, random_state) -> list:
    """The k values a one-thread Optuna study with a seeded GridSampler gives its trials 0, 1, ...

    Asked of Optuna itself, with a free objective: the order is its own in every version (4.x
    takes the seeded shuffle in trial order, 3.1 draws each trial's value from the ones not yet
    visited), and it depends on no score, so running the real trials afterwards on any number
    of threads gives each trial the k the original's one-thread study gave it.
    """
    values = [int(k) for k in k_values]
    study = optuna.create_study(sampler=_GridSampler({"n_clusters": values}, seed=random_state),
                                direction="minimize")
    order = []

    def record(trial):
        order.append(int(trial.suggest_categorical("n_clusters", values)))
        return 0.0

    # As many trials as asked, but never more than the grid holds (GridSampler would stop there).
    study.optimize(record, n_trials=min(n_trials, len(values)), n_jobs=1)
    return order


def tune_k(features: Features, partitioner: Callable[[Features, int], np.ndarray], n_trials: int,
           params: ClusteringParams, context: RunContext, on_trial: Callable[[int, int], None],
           k_values=None) -> list:
    """Score the k values of Optuna's grid study (grid_order); return them best first.

    k_values defaults to the seed's range. Ties go to the earlier trial, as Optuna's
    `study.best_trial` picks them in the original's one-thread run. The trials run on
    n_jobs threads; each trial's k is fixed beforehand and ranking is by (score, trial
    number), so the answer is the same for any thread count and any Optuna version's threading.
    on_trial(done, planned) follows the trials that really run: never more than the grid holds,
    often well below n_trials.
    """
    if k_values is None:
        low, high = k_search_range(features.w.sum(), len(features), params.desired_cluster_weight)
        k_values = list(range(low, high + 1))
    if len(k_values) == 1:
        return [int(k_values[0])]
    order = grid_order(k_values, n_trials, params.random_state)
    finished, lock = [0], threading.Lock()
    failed = threading.Event()

    def score(k):
        if failed.is_set():  # another trial failed: the study is over
            return None
        try:
            context.check_cancelled()
            value = score_labels(features, partitioner(features, k), params)
        except BaseException:
            failed.set()
            raise
        with lock:
            finished[0] += 1
            on_trial(finished[0], len(order))
        return value

    threads = min(worker_threads(params.n_jobs), len(order))
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(score, k) for k in order]
            try:
                scores = [future.result() for future in futures]
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    else:
        scores = [score(k) for k in order]
    ranked = sorted(range(len(order)), key=lambda trial: (scores[trial], trial))
    return [order[trial] for trial in ranked]
