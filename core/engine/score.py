"""The original tool's score of a clustering: plain arithmetic, so results can report it without Optuna loaded."""

from __future__ import annotations

from ..params import ClusteringParams


def clustering_score(median_weight, median_radius, params: ClusteringParams) -> float:
    """wif * (r_target / w_target) * |w_target - median weight| + |r_target - median radius|."""
    w_t = params.desired_cluster_weight
    r_t = params.desired_cluster_radius
    return float(
        params.weight_importance_factor * (r_t / w_t) * abs(w_t - median_weight) + abs(r_t - median_radius)
    )
