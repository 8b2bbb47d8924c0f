"""wrok clustering engine: weighted clusters tuned toward a target weight and radius.

Plain numpy / scikit-learn / Optuna; imports nothing from QGIS. The QGIS plugin,
the command line (`python -m core`) and the AWS Lambda all call `cluster()`.
"""

from .crs import utm_epsg
from .engine import cluster
from .params import DEFAULT_STRATEGY, STRATEGIES, ClusteringCancelled, ClusteringInputError, ClusteringParams
from .result import CLUSTER_COLUMNS, ClusteringResult, ClusterTable

__all__ = [
    "cluster", "ClusteringParams", "ClusteringResult", "ClusteringInputError", "ClusteringCancelled",
    "CLUSTER_COLUMNS", "ClusterTable", "STRATEGIES", "DEFAULT_STRATEGY", "utm_epsg",
]
__version__ = "0.1.0"
