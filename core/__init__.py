"""wrok clustering engine: weighted clusters tuned toward a target weight and radius.

Plain numpy / scikit-learn / Optuna; imports nothing from QGIS. The QGIS plugin,
the command line (`python -m core`) and the AWS Lambda all call `cluster()`.
Parameters and the result types load without scikit-learn or Optuna, so a QGIS
install missing them can still describe the algorithm and say what to install.
"""

from .frame.crs import utm_epsg
from .params import DEFAULT_STRATEGY, STRATEGIES, ClusteringCancelled, ClusteringInputError, ClusteringParams

__all__ = [
    "cluster", "ClusteringParams", "ClusteringResult", "ClusteringInputError", "ClusteringCancelled",
    "CLUSTER_COLUMNS", "ClusterTable", "STRATEGIES", "DEFAULT_STRATEGY", "utm_epsg",
]
__version__ = "0.1.0"


def __getattr__(name):
    # The engine needs scikit-learn, SciPy and Optuna: import it on first use only.
    if name == "cluster":
        from .engine.run import cluster

        return cluster
    if name in ("ClusteringResult", "ClusterTable", "CLUSTER_COLUMNS"):
        from .engine import result

        return getattr(result, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
