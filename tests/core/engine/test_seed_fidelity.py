"""`seed` mode against the original tool's own output, feature for feature.

../shared/fidelity/ holds four inputs with the IDs, passes and weights that IDinsight
clustering-aws (TunedClustering at commit 6300c57, n_jobs=1, scikit-learn 1.5.2,
Optuna 4.1.0) gave for them; cases.json holds each case's parameters. The inputs are
prepared as the original prepares them: project to the case's EPSG, take each
geometry's centroid as its position and the projected geometry for its radius.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from core import ClusteringParams, cluster

FIDELITY = Path(__file__).resolve().parents[3].parent / "shared" / "fidelity"
CASES = json.loads((FIDELITY / "cases.json").read_text())["cases"] if FIDELITY.exists() else []
# The original's constructor arguments that wrok names the same; n_jobs is the original's (1).
SHARED_PARAMS = ("desired_cluster_weight", "desired_cluster_radius", "weight_importance_factor",
                 "minibatch_reassignment_ratio", "initial_max_trials", "max_passes", "max_cluster_weight",
                 "subsequent_max_trials", "n_jobs")


def _original_inputs(case):
    """(x, y, weights, vertex_xy, vertex_owner, frame) as the original derives them from the file."""
    import geopandas as gpd

    frame = gpd.read_parquet(FIDELITY / case["file"])
    projected = frame.geometry.to_crs(epsg=case["projected_epsg"])
    centroids = projected.centroid
    weights = (np.ones(len(frame)) if case["weight_column"] is None
               else frame[case["weight_column"]].to_numpy(dtype=float))
    if (projected.geom_type == "Point").all():
        return centroids.x.to_numpy(), centroids.y.to_numpy(), weights, None, None, frame
    vertex_xy, owner = shapely.get_coordinates(projected.values, return_index=True)
    return centroids.x.to_numpy(), centroids.y.to_numpy(), weights, vertex_xy, owner, frame


@pytest.mark.skipif(not CASES, reason=f"the original's fidelity cases are not at {FIDELITY}")
@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_seed_mode_reproduces_the_original_tool(case):
    x, y, weights, vertex_xy, owner, frame = _original_inputs(case)
    params = ClusteringParams(strategy="seed", random_state=42,
                              **{name: case["params"][name] for name in SHARED_PARAMS})
    result = cluster(x, y, weights, params, vertex_xy=vertex_xy, vertex_owner=owner)

    expected_ids = frame["expected_cluster_id"].to_numpy().astype(str)
    got_ids = result.cluster_id.astype(str)
    differ = np.flatnonzero(got_ids != expected_ids)
    assert len(differ) == 0, (
        f"{len(differ)} of {len(frame)} features differ, e.g. feature {differ[:3].tolist()}: "
        f"{got_ids[differ[:3]].tolist()} instead of {expected_ids[differ[:3]].tolist()}"
    )
    np.testing.assert_array_equal(result.cluster_pass, frame["expected_cluster_pass"].to_numpy())
    # The original sums weights in the column's own type: float32 for grids, so its sums carry
    # float32 rounding; wrok sums in float64.
    weight_type = frame[case["weight_column"]].dtype if case["weight_column"] else np.dtype(float)
    np.testing.assert_allclose(result.cluster_weight, frame["expected_cluster_weight"].to_numpy(),
                               rtol=1e-6 if weight_type == np.float32 else 1e-12)
    # The case's own summary, as recorded with the original's output.
    assert len(result.clusters) == case["clusters"]
    assert int(result.cluster_pass.max()) == case["max_pass"]
