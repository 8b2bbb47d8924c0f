"""The 1M-point run: the whole command line, from reading the file to writing the result.

Input: tests/synthetic.py's clumped population, 1,000,000 grid cells in 800 towns of
different spread with skewed (lognormal) weights, as GeoParquet in EPSG:4326. The CLI
picks the UTM zone, clusters with the default strategy and writes GeoParquet. Time is
the wall clock of `python -m core cluster` and memory that process's peak RSS.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from evaluate import weight_figures
from processes import measured_run

POINTS = 1_000_000
TOWNS = 800
SETTINGS = dict(target_weight=240, target_radius=1000, max_weight=300)  # the grids' demo settings


def run(python: str) -> dict:
    import pandas as pd
    from synthetic import clumped_population_frame

    with tempfile.TemporaryDirectory(prefix="wrok-bench-1m-") as folder:
        source, output = Path(folder) / "synthetic.parquet", Path(folder) / "clustered.parquet"
        clumped_population_frame(POINTS, seed=1, n_towns=TOWNS).to_parquet(source)
        done, seconds, peak_mb = measured_run(
            [python, "-m", "core", "cluster", str(source), str(output), "--weight-field", "population",
             "--target-weight", str(SETTINGS["target_weight"]), "--target-radius", str(SETTINGS["target_radius"]),
             "--max-weight", str(SETTINGS["max_weight"]), "--quiet"])
        if done.returncode != 0:
            raise RuntimeError(f"the CLI failed ({done.returncode}):\n{done.stderr[-2000:]}")
        result = pd.read_parquet(output, columns=["population", "cluster_id"])
    if len(result) != POINTS:
        raise RuntimeError(f"the CLI wrote {len(result)} rows for {POINTS} input points")
    figures = weight_figures(result["population"], result["cluster_id"], SETTINGS["target_weight"],
                             SETTINGS["max_weight"])
    return dict(figures, seconds=seconds, peak_mb=peak_mb)
