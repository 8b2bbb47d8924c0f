"""One engine row of the bench, in its own process: `engine_run.py INPUT.npz PARAMS.json REPEATS OUT.npz`.

INPUT.npz holds the prepared arrays (x, y, weights and, for polygons, vertex_xy and
vertex_owner), so this process reads no file and its memory before clustering is small
and steady. Time: clustering only (reading and projecting excluded, as in
../shared/BENCHMARKS.md), the best of REPEATS runs, as timeit does. Memory: the growth of
this process's resident set while clustering, its peak RSS (ru_maxrss) minus its RSS just
before the first run; native buffers (scikit-learn, OpenMP, BLAS) count. Every run gives
the same labels (same random_state); they go to OUT.npz for the independent evaluator.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's `core`

import core.engine.run  # noqa: E402  (scikit-learn, SciPy and Optuna load before the baseline)
from core import ClusteringParams  # noqa: E402


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def main(inputs: str, params_json: str, repeats: int, out: str) -> dict:
    with np.load(inputs) as saved:
        arrays = {name: saved[name] for name in saved.files}
    params = ClusteringParams(**json.loads(params_json))
    baseline_mb = resident_mb()
    best = float("inf")
    previous = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = core.engine.run.cluster(arrays["x"], arrays["y"], arrays["weights"], params,
                                     vertex_xy=arrays.get("vertex_xy"), vertex_owner=arrays.get("vertex_owner"))
        best = min(best, time.perf_counter() - start)
        if previous is not None and not np.array_equal(previous, result.cluster_id):
            raise SystemExit("two runs with the same random_state gave different clusters")
        previous = result.cluster_id
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    np.savez(out, cluster_id=result.cluster_id.astype(str))
    return {"seconds": best, "peak_mb": max(0.0, peak_mb - baseline_mb), "repeats": repeats}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])))
