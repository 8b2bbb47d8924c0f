"""Survey-frame benchmarks: a 10M-pixel population raster through the CLI, and strata in parallel.

    .venv/bin/python tests/benchmarks/bench_frame.py [--pixels 10000000] [--skip-raster] [--skip-strata]

Targets (issue 10): the raster run (read, cluster, write polygons + cluster raster) takes
<= 120 s and <= 2 GB peak memory (measured on the CLI subprocess with /usr/bin/time), and
grids split by a synthetic 8-way stratum field clusters no slower than the unsplit grids.
Prints PASS/FAIL per target; exits 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

RASTER_SECONDS, RASTER_GB = 120.0, 2.0
PIXEL_M = 100.0


def synthetic_raster(path: Path, pixels: int, seed: int = 0) -> int:
    """A north-up UTM 51N population raster with about `pixels` positive pixels (towns over rural spread)."""
    from raster_data import write_geotiff

    rng = np.random.default_rng(seed)
    side = int(np.sqrt(pixels / 0.8)) + 1  # ~80 % of the pixels positive, the rest 0 or nodata
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    towns = rng.uniform(0, side, size=(max(3, pixels // 20000), 2))
    values = rng.lognormal(-1.2, 0.8, size=(side, side)).astype(np.float32)
    for ty, tx in towns:  # a town adds a Gaussian bump of people around its centre
        spread = rng.uniform(5, 25)
        y0, y1 = int(max(0, ty - 4 * spread)), int(min(side, ty + 4 * spread))
        x0, x1 = int(max(0, tx - 4 * spread)), int(min(side, tx + 4 * spread))
        bump = np.exp(-((ys[y0:y1, x0:x1] - ty) ** 2 + (xs[y0:y1, x0:x1] - tx) ** 2) / (2 * spread**2))
        values[y0:y1, x0:x1] += 20 * bump.astype(np.float32)
    empty = rng.random((side, side)) < 0.2
    values[empty] = np.where(rng.random(int(empty.sum())) < 0.5, 0.0, -99999.0)
    write_geotiff(path, values, (600_000.0, PIXEL_M, 0.0, 1_000_000.0, 0.0, -PIXEL_M), epsg=32651)
    return int((values > 0).sum())


def bench_raster(pixels: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="wrok-bench-raster-") as folder:
        folder = Path(folder)
        positive = synthetic_raster(folder / "population.tif", pixels)
        # --jobs -1: a country raster is cut into regions clustered on every core (the result is the same).
        command = ["/usr/bin/time", "-v", sys.executable, "-m", "core", "cluster", str(folder / "population.tif"),
                   str(folder / "clusters.gpkg"), "--target-weight", "240", "--target-radius", "1000",
                   "--max-weight", "300", "--cluster-raster", str(folder / "numbers.tif"), "--quiet", "--jobs", "-1"]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stderr[-3000:])
            return False
        peak_gb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024**2
        clusters = _read_table(folder / "clusters.gpkg")
    ok_time, ok_memory = seconds <= RASTER_SECONDS, peak_gb <= RASTER_GB
    weights = clusters["weight"].to_numpy()
    in_band = float(np.mean(np.abs(weights - 240) <= 48))
    print(f"raster: {positive:,} positive pixels clustered through the CLI (--jobs -1, {os.cpu_count()} cores) in "
          f"{seconds:.1f} s, peak {peak_gb:.2f} GB: {len(weights):,} clusters, {100 * in_band:.2f} % within ±20 %, "
          f"{int((weights > 300).sum())} over max, {int(clusters['n_features'].sum()):,} pixels in them")
    print(f"  {'PASS' if ok_time else 'FAIL'} time <= {RASTER_SECONDS:.0f} s")
    print(f"  {'PASS' if ok_memory else 'FAIL'} peak memory <= {RASTER_GB:.0f} GB")
    every_pixel = int(clusters["n_features"].sum()) == positive
    print(f"  invariant (tests/core/cli/test_frame_cli.py): every positive pixel in exactly one cluster: "
          f"{'holds' if every_pixel else 'BROKEN'}")
    return ok_time and ok_memory and every_pixel


def _read_table(path):
    import pyogrio

    return pyogrio.read_dataframe(path, columns=["weight", "n_features"], read_geometry=False)


def best_of(runs, function):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def bench_strata() -> bool:
    import geopandas as gpd

    from core import ClusteringParams, cluster
    from core.frame.strata import cluster_strata, stratum_keys

    grids = gpd.read_parquet(REPO.parent / "shared" / "data" / "grids.parquet").to_crs(3121)
    x, y, w = grids.geometry.x.to_numpy(), grids.geometry.y.to_numpy(), grids["population"].to_numpy(float)
    params = ClusteringParams(240, 1000, 300)
    band = np.digitize(x, np.quantile(x, np.arange(1, 8) / 8))  # 8 synthetic strata, west to east
    keys = stratum_keys({"stratum": band})
    unsplit, whole = best_of(3, lambda: cluster(x, y, w, params))
    split, parts = best_of(3, lambda: cluster_strata(x, y, w, keys, {k: params for k in set(keys)}, params,
                                                     n_jobs=-1))
    ok = split <= unsplit
    print(f"strata: grids unsplit {unsplit:.3f} s ({len(whole.clusters)} clusters); 8 strata {split:.3f} s "
          f"({len(parts.clusters)} clusters), best of 3")
    print(f"  {'PASS' if ok else 'FAIL'} 8 strata no slower than unsplit")
    print(json.dumps({"unsplit_s": round(unsplit, 3), "strata_s": round(split, 3)}))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=10_000_000)
    parser.add_argument("--skip-raster", action="store_true")
    parser.add_argument("--skip-strata", action="store_true")
    args = parser.parse_args()
    results = []
    if not args.skip_strata:
        results.append(bench_strata())
    if not args.skip_raster:
        results.append(bench_raster(args.pixels))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
