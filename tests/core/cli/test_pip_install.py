"""`pip install .` installs the engine with a `wrok` command that runs the same CLI as `python -m core`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import geopandas as gpd
import numpy as np
from core_helpers import REPO
from shapely.geometry import Point


def test_pip_install_gives_a_wrok_command_that_clusters(tmp_path):
    source = tmp_path / "source"  # a copy: the build must not write into the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv*", ".git", "dist", "demo_output", "tests",
                                                                  "__pycache__", "*.egg-info", "build"))
    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--prefix", str(prefix), str(source)], check=True)
    site = next(prefix.glob("lib/python*/site-packages"))
    installed = sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info"))
    assert installed == ["core"]  # the engine alone: no plugin, AWS or test code
    assert (site / "core" / "engine" / "power.py").is_file()

    rng = np.random.default_rng(3)
    points = gpd.GeoDataFrame({"population": rng.integers(1, 20, 200)},
                              geometry=[Point(x, y) for x, y in rng.uniform(0, 3000, (200, 2))], crs="EPSG:32651")
    points.to_file(tmp_path / "points.gpkg")
    env = {**os.environ, "PYTHONPATH": str(site)}  # the installed copy, not the checkout's
    run = subprocess.run([str(prefix / "bin" / "wrok"), "cluster", str(tmp_path / "points.gpkg"),
                          str(tmp_path / "out.gpkg"), "--weight-field", "population", "--target-weight", "240",
                          "--target-radius", "1000", "--max-weight", "300", "--initial-trials", "4"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = gpd.read_file(tmp_path / "out.gpkg", layer="out")
    assert len(out) == 200 and out["cluster_id"].notna().all()
    assert out["population"].sum() == points["population"].sum()
    where = subprocess.run([str(prefix / "bin" / "wrok"), "--help"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, check=True)
    assert "cluster" in where.stdout
