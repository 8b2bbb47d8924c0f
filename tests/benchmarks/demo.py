"""The demo map's clusters (`make demo`'s input and settings), checked for crossing outlines.

`make demo` runs wrok:tunedclustering through qgis_process; the CLI gives identical
output for the same input and seed (tests/plugin/processing/test_matches_cli.py), so the bench
runs the CLI, which is quicker to start, and measures hull overlap on its output.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from evaluate import hull_overlap_share, member_hulls
from processes import REPO, measured_run

DEMO_INPUT = REPO / "resources" / "demo_population.gpkg"
SETTINGS = ["--weight-field", "population", "--target-weight", "240", "--target-radius", "1000",
            "--max-weight", "300", "--quiet"]  # as in the Makefile's demo target


def run(python: str) -> dict:
    import geopandas as gpd
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="wrok-bench-demo-") as folder:
        output = Path(folder) / "clustered.gpkg"
        done, seconds, _ = measured_run([python, "-m", "core", "cluster", str(DEMO_INPUT), str(output), *SETTINGS])
        if done.returncode != 0:
            raise RuntimeError(f"the CLI failed on the demo input ({done.returncode}):\n{done.stderr[-2000:]}")
        frame = gpd.read_file(output)
    projected = frame.geometry.to_crs(frame.estimate_utm_crs())
    codes, names = pd.factorize(frame["cluster_id"])
    hulls = member_hulls(projected, codes, len(names))
    return {"clusters": len(names), "hull_overlap": hull_overlap_share(hulls), "seconds": seconds}
