"""On the shared population grid the plugin and the command line give every feature the same cluster."""

import subprocess
import sys

import pytest
from qgis.core import QgsVectorLayer

from .conftest import REPO
from .helpers import QUICK, column, run_algorithm

GRIDS = REPO.parent / "shared" / "data" / "grids.parquet"


@pytest.mark.skipif(not GRIDS.exists(), reason=f"shared demo data not found at {GRIDS} (../shared beside the repo)")
@pytest.mark.parametrize("strategy", ["balanced", "seed"])
def test_plugin_and_cli_agree_on_the_grid(wrok_plugin, tmp_path, strategy):
    import geopandas

    grid = tmp_path / "grids.gpkg"  # Debian's GDAL has no Parquet driver
    geopandas.read_parquet(GRIDS).to_file(grid, driver="GPKG")
    cli_out = tmp_path / "cli.gpkg"
    trials = ["--initial-trials", str(QUICK["INITIAL_TRIALS"]), "--subsequent-trials", str(QUICK["SUBSEQUENT_TRIALS"])]
    if strategy == "seed":
        trials = ["--initial-trials", "3", "--subsequent-trials", "2", "--max-passes", "2"]
    subprocess.run([sys.executable, "-m", "core", "cluster", str(grid), str(cli_out), "--weight-field", "population",
                    "--target-weight", "240", "--target-radius", "1000", "--max-weight", "300", "--strategy", strategy,
                    "--random-state", "42", "--quiet", *trials], cwd=REPO, check=True, timeout=600)
    overrides = {} if strategy == "balanced" else {"INITIAL_TRIALS": 3, "SUBSEQUENT_TRIALS": 2, "MAX_PASSES": 2}
    results = run_algorithm(str(grid), STRATEGY=["balanced", "seed"].index(strategy), RANDOM_SEED=42, **overrides)
    cli = QgsVectorLayer(str(cli_out), "cli", "ogr")
    assert results["OUTPUT"].featureCount() == cli.featureCount() == 69226
    assert column(results["OUTPUT"], "cluster_id") == column(cli, "cluster_id")
    assert column(results["OUTPUT"], "cluster_pass") == column(cli, "cluster_pass")
