"""The engine's package promises: parameters, results and the registry load without Optuna or scikit-learn."""

import subprocess
import sys

from core_helpers import REPO

WITHOUT_TUNERS = """
import sys
sys.modules["optuna"] = None
sys.modules["sklearn"] = None
from core import ClusteringParams, ClusteringResult, ClusterTable
from core.registry import engine_params, reference_markdown
import numpy as np
params = engine_params({"target_weight": 10, "target_radius": 100})
assert len(ClusterTable({"cluster_id": np.array(["A", "B"]), "weight": np.ones(2)})) == 2
print("OK", params.max_passes)
"""


def test_results_and_registry_load_without_optuna_or_scikit_learn():
    done = subprocess.run([sys.executable, "-c", WITHOUT_TUNERS], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "OK 1", done.stderr[-2000:]
