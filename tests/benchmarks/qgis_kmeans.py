"""QGIS's own `native:kmeansclustering` through the real `qgis_process.bin`, as a user would run it.

k = total weight / target weight, rounded. QGIS's k-means is unweighted: it sees every
feature (the polygon's centroid for rooftops) as one unit, whatever its population.
The input is the dataset projected to its EPSG, written as GeoPackage (QGIS 3.22 cannot
read Parquet), so distances are metres. Time and memory are the whole qgis_process run
(start-up, reading, clustering, writing), wall clock and the child's peak RSS.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from processes import measured_run

QGIS_PROCESS = "qgis_process.bin"  # the /usr/bin/qgis_process wrapper is broken here


def available() -> bool:
    return shutil.which(QGIS_PROCESS) is not None


def run(data, dataset) -> dict:
    """Labels per feature (input order) and the run's seconds and peak MB."""
    import geopandas as gpd

    k = max(1, round(float(data.weights.sum()) / dataset.target_weight))
    with tempfile.TemporaryDirectory(prefix="wrok-bench-qgis-") as folder:
        source, output = Path(folder) / "input.gpkg", Path(folder) / "kmeans.gpkg"
        layer = gpd.GeoDataFrame({"bench_row": np.arange(len(data.x))}, geometry=data.projected.values,
                                 crs=data.projected.crs)
        layer.to_file(source, driver="GPKG")
        profile = Path(folder) / "profile"
        profile.mkdir()
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(profile))
        done, seconds, peak_mb = measured_run(
            [QGIS_PROCESS, "--json", "run", "native:kmeansclustering", "--", f"INPUT={source}", f"CLUSTERS={k}",
             "FIELD_NAME=CLUSTER_ID", f"OUTPUT={output}"], env=env)
        if done.returncode != 0:
            raise RuntimeError(f"qgis_process failed ({done.returncode}):\n{done.stderr[-2000:]}")
        json.loads(done.stdout[done.stdout.index("{"):])  # a complete JSON answer, or this raises
        result = gpd.read_file(output)
    labels = np.full(len(data.x), -1, dtype=np.int64)
    labels[result["bench_row"].to_numpy()] = result["CLUSTER_ID"].to_numpy()
    if (labels < 0).any():
        raise RuntimeError(f"QGIS's output lacks {int((labels < 0).sum())} input features")
    return {"labels": labels, "seconds": seconds, "peak_mb": peak_mb, "k": k}
