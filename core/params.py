"""Clustering parameters, named as in the original tool, with validation."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Optional

STRATEGIES = ("compact", "balanced", "seed")  # the first is the default (the plugin's enum relies on it)
DEFAULT_STRATEGY = STRATEGIES[0]
BAND = 0.2  # a cluster is in band within ±20 % of its own target weight (share_within_20pct)
INVALID_GEOMETRY_CHOICES = ("repair", "error")  # what the front ends do with self-intersecting polygons


class ClusteringInputError(ValueError):
    """Bad input or parameters; the message names the problem for the user."""


class ClusteringCancelled(RuntimeError):
    """The caller's cancel callback asked the engine to stop."""


# Number-valued parameters and how messages name them; None is allowed for the optional ones.
_NUMBERS = {
    "desired_cluster_weight": "target weight",
    "desired_cluster_radius": "target radius",
    "max_cluster_weight": "max cluster weight",
    "min_cluster_weight": "min cluster weight",
    "weight_importance_factor": "weight importance factor",
    "minibatch_reassignment_ratio": "reassignment ratio",
    "max_cluster_radius": "max cluster radius",
}
_OPTIONAL = {"max_cluster_weight", "min_cluster_weight", "max_cluster_radius"}


def worker_threads(n_jobs: int) -> int:
    """Threads for n_jobs: -1 means every core."""
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


# How the front ends name each parameter (CLI option in brackets): the reports show these, not field names.
PARAMETER_LABELS = {
    "desired_cluster_weight": "target weight (--target-weight)",
    "desired_cluster_radius": "target radius, m (--target-radius)",
    "max_cluster_weight": "maximum weight (--max-weight)",
    "weight_importance_factor": "weight importance (--weight-importance)",
    "max_passes": "maximum passes (--max-passes)",
    "initial_max_trials": "trials in the first pass (--initial-trials)",
    "subsequent_max_trials": "trials per re-clustered cluster (--subsequent-trials)",
    "minibatch_reassignment_ratio": "reassignment ratio (--reassignment-ratio)",
    "n_jobs": "threads (--jobs)",
    "random_state": "random seed (--random-state)",
    "strategy": "strategy (--strategy)",
    "min_cluster_weight": "minimum weight (--min-weight)",
    "n_clusters": "number of clusters (--clusters)",
    "max_cluster_radius": "maximum radius, m (--max-radius)",
}

# Largest whole-number parameter any front end accepts: QGIS stores integers in 32 bits.
MAX_WHOLE_NUMBER = 2**31 - 1


@dataclass(frozen=True)
class ClusteringParams:
    desired_cluster_weight: float
    desired_cluster_radius: float
    max_cluster_weight: Optional[float] = None
    weight_importance_factor: float = 1.0
    max_passes: int = 100
    initial_max_trials: int = 100
    subsequent_max_trials: int = 20
    minibatch_reassignment_ratio: float = 0.1
    n_jobs: int = 1
    random_state: int = 42
    strategy: str = DEFAULT_STRATEGY
    min_cluster_weight: Optional[float] = None
    n_clusters: Optional[int] = None  # exactly this many clusters in the first pass: k is not tuned
    max_cluster_radius: Optional[float] = None  # metres; larger clusters are split (core/engine/max_radius.py)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        def fail(message):
            raise ClusteringInputError(message)

        for name, label in _NUMBERS.items():
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                fail(f"{label} must be a number (got {value!r})")
            if not math.isfinite(value):
                fail(f"{label} must be a finite number (got {value!r})")
        if not self.desired_cluster_weight > 0:
            fail(f"target weight must be > 0 (got {self.desired_cluster_weight})")
        if not self.desired_cluster_radius > 0:
            fail(f"target radius must be > 0 metres (got {self.desired_cluster_radius})")
        if self.max_cluster_weight is not None and self.max_cluster_weight < self.desired_cluster_weight:
            fail(
                f"max cluster weight ({self.max_cluster_weight}) is below the target weight "
                f"({self.desired_cluster_weight}); set it at or above the target"
            )
        if self.min_cluster_weight is not None:
            if self.min_cluster_weight < 0:
                fail(f"min cluster weight must be >= 0 (got {self.min_cluster_weight})")
            if self.min_cluster_weight > self.desired_cluster_weight:
                fail(
                    f"min cluster weight ({self.min_cluster_weight}) is above the target weight "
                    f"({self.desired_cluster_weight})"
                )
        if self.max_cluster_radius is not None and not self.max_cluster_radius > 0:
            fail(f"max cluster radius must be > 0 metres (got {self.max_cluster_radius})")
        if self.n_clusters is not None and (
                not isinstance(self.n_clusters, numbers.Integral) or isinstance(self.n_clusters, bool)
                or self.n_clusters < 1):
            fail(f"number of clusters must be a whole number >= 1 (got {self.n_clusters!r})")
        if self.weight_importance_factor < 0:
            fail(f"weight importance factor must be >= 0 (got {self.weight_importance_factor})")
        for name in ("max_passes", "initial_max_trials", "subsequent_max_trials"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_WHOLE_NUMBER:
                fail(f"{name} must be a whole number from 1 to {MAX_WHOLE_NUMBER} (got {value!r})")
        if self.max_passes > 1 and self.max_cluster_weight is None:
            fail("max cluster weight is required when more than one pass is allowed")
        if not 0 <= self.minibatch_reassignment_ratio <= 1:
            fail(f"reassignment ratio must be between 0 and 1 (got {self.minibatch_reassignment_ratio})")
        if not isinstance(self.n_jobs, int) or isinstance(self.n_jobs, bool) or self.n_jobs == 0 or self.n_jobs < -1:
            fail(f"n_jobs must be -1 (all cores) or a positive whole number (got {self.n_jobs!r})")
        if not isinstance(self.random_state, numbers.Integral) or isinstance(self.random_state, bool):
            fail(f"random_state must be a whole number (got {self.random_state!r})")
        if self.strategy not in STRATEGIES:
            fail(f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ClusteringParams":
        """Build from a dict (e.g. a Lambda payload), rejecting unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ClusteringInputError(f"unknown clustering parameter(s): {', '.join(unknown)}")
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in required if name not in values]
        if missing:
            raise ClusteringInputError(f"missing clustering parameter(s): {', '.join(missing)}")
        return cls(**values)


# Starting values every front end offers (CLI, QGIS dialogs, Lambda): the targets have no engine
# default (they are the user's survey design), the rest are ClusteringParams' own defaults.
SUGGESTED_TARGETS = {"desired_cluster_weight": 240.0, "desired_cluster_radius": 1000.0, "max_cluster_weight": 300.0}
DEFAULTS = {
    **{f.name: f.default for f in fields(ClusteringParams) if f.default is not MISSING},
    **SUGGESTED_TARGETS,
}


def default_max_weight(target_weight: float) -> float:
    """The cap a dialog uses when its box is left empty: as far above the target as the suggested cap
    is above the suggested target (300 for 240), so a target above 300 never meets a cap below it."""
    return target_weight * SUGGESTED_TARGETS["max_cluster_weight"] / SUGGESTED_TARGETS["desired_cluster_weight"]
