"""Clustering parameters, named as in the original tool, with validation."""

from __future__ import annotations

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


def worker_threads(n_jobs: int) -> int:
    """Threads for n_jobs: -1 means every core."""
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


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
    n_jobs: int = -1  # every core: the output is the same for any n_jobs (tests/core/engine/test_properties.py)
    random_state: int = 42
    strategy: str = DEFAULT_STRATEGY
    min_cluster_weight: Optional[float] = None
    n_clusters: Optional[int] = None  # exactly this many clusters in the first pass: k is not tuned
    max_cluster_radius: Optional[float] = None  # metres; larger clusters are split (core/engine/max_radius.py)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Each value against its constraint in core.registry, then the rules between values."""
        from .registry import ENGINE_PARAMETERS, check_jobs

        def fail(message):
            raise ClusteringInputError(message)

        for entry in ENGINE_PARAMETERS:
            value = getattr(self, entry.engine_field)
            if value is None and entry.default is not None:  # None is "empty" only where that is the default
                fail(f"{entry.label.lower()} is required")
            check_jobs(value) if entry.name == "jobs" else entry.check(value)
        if self.max_cluster_weight is not None and self.max_cluster_weight < self.desired_cluster_weight:
            fail(
                f"max cluster weight ({self.max_cluster_weight}) is below the target weight "
                f"({self.desired_cluster_weight}); set it at or above the target"
            )
        if self.min_cluster_weight is not None and self.min_cluster_weight > self.desired_cluster_weight:
            fail(
                f"min cluster weight ({self.min_cluster_weight}) is above the target weight "
                f"({self.desired_cluster_weight})"
            )
        if self.max_passes > 1 and self.max_cluster_weight is None:
            fail("max cluster weight is required when more than one pass is allowed")

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


# The engine's defaults. Starting values for the targets in dialogs (240 people, 1 km, a 300 cap) are
# core.registry's `suggested`; they are not defaults: a run is never given a target the user did not choose.
DEFAULTS = {f.name: f.default for f in fields(ClusteringParams) if f.default is not MISSING}
