"""On the shared demo data the plugin and the command line give every feature the same cluster and radius."""

import subprocess
import sys

import numpy as np
import pytest
from qgis.core import QgsVectorLayer

from core.params import STRATEGIES

from ..conftest import REPO
from ..helpers import QUICK, column, radii_by_id, run_algorithm

SHARED = REPO.parent / "shared" / "data"
CASES = {  # name: (file, weight field, target weight, max weight, strategy, trials)
    "grid points, compact": ("grids.parquet", "population", 240, 300, "compact", QUICK),
    "grid points, balanced": ("grids.parquet", "population", 240, 300, "balanced", QUICK),
    "grid points, seed": ("grids.parquet", "population", 240, 300, "seed", {"INITIAL_TRIALS": 3,
                                                                           "SUBSEQUENT_TRIALS": 2, "MAX_PASSES": 2}),
    "rooftop polygons": ("rooftops.parquet", None, 60, 80, "compact", QUICK),
}


@pytest.mark.skipif(not SHARED.exists(), reason=f"shared demo data not found at {SHARED} (../shared beside the repo)")
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_plugin_and_cli_agree_on_shared_data(wrok_plugin, tmp_path, case):
    import geopandas

    name, weight_field, target, cap, strategy, trials = CASES[case]
    source = tmp_path / name.replace(".parquet", ".gpkg")  # Debian's GDAL has no Parquet driver
    frame = geopandas.read_parquet(SHARED / name)
    frame.to_file(source, driver="GPKG")
    cli_out, cli_clusters = tmp_path / "cli.gpkg", tmp_path / "cli_clusters.gpkg"
    options = ["--initial-trials", str(trials["INITIAL_TRIALS"]), "--subsequent-trials", str(trials["SUBSEQUENT_TRIALS"])]
    options += ["--max-passes", str(trials["MAX_PASSES"])] if "MAX_PASSES" in trials else []
    options += ["--weight-field", weight_field] if weight_field else []
    subprocess.run([sys.executable, "-m", "core", "cluster", str(source), str(cli_out), "--target-weight", str(target),
                    "--target-radius", "1000", "--max-weight", str(cap), "--strategy", strategy, "--random-state", "42",
                    "--summary", str(cli_clusters), "--quiet", *options], cwd=REPO, check=True, timeout=600)
    results = run_algorithm(str(source), WEIGHT_FIELD=weight_field, TARGET_WEIGHT=target, MAX_WEIGHT=cap,
                            STRATEGY=list(STRATEGIES).index(strategy), RANDOM_SEED=42, **trials)
    cli = QgsVectorLayer(str(cli_out), "cli", "ogr")
    assert results["OUTPUT"].featureCount() == cli.featureCount() == len(frame)
    assert column(results["OUTPUT"], "cluster_id") == column(cli, "cluster_id")
    assert column(results["OUTPUT"], "cluster_pass") == column(cli, "cluster_pass")
    ours, theirs = radii_by_id(results["CLUSTERS"]), radii_by_id(QgsVectorLayer(str(cli_clusters), "c", "ogr"))
    assert ours.keys() == theirs.keys()
    assert np.allclose([ours[k] for k in theirs], list(theirs.values()), atol=0.01, rtol=0)  # PROJ builds differ
