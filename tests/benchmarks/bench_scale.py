"""Country scale with survey-sized clusters (issue 18), and the grids beside METIS, from one run.

    .venv/bin/python tests/benchmarks/bench_scale.py [--points 1000000] [--jobs N] [--skip-frame] [--skip-metis]

1. A survey frame of our own making: 1M grid cells in 800 clumps of different spread with
   gamma-skewed weights (mean ~4.6, so a 240 cluster holds ~50 cells: ~19,000 clusters), through
   the whole CLI (`python -m core cluster`, default --jobs unless --jobs is given). Targets:
   <= 30 s, <= 2 GB peak RSS, >= 99 % of clusters within ±20 %, hull overlap <= 1 %.
2. The grids: METIS (pymetis, a bench-only dependency, requirements-bench.txt) on the 8-neighbour
   graph with population as vertex weights and compact's k, graph build included, beside
   `compact`'s engine time on the same arrays; target: compact <= 5x METIS. Without pymetis the
   METIS row is skipped with a message and its target is not judged.
Prints PASS/FAIL per target; exits 1 on a FAIL. `--points 200000` is a quick variant (clumps scale).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # this checkout's `core`
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests/: the synthetic populations

from datasets import BY_NAME, prepare  # noqa: E402
from evaluate import evaluate  # noqa: E402
from processes import measured_run, python_script  # noqa: E402
from table import markdown  # noqa: E402

POINTS, CLUMPS = 1_000_000, 800
SETTINGS = dict(target_weight=240, target_radius=1000, max_weight=300)
MEAN_WEIGHT = 4.6  # people per populated cell: ~50 cells per 240-person cluster
FRAME_SECONDS, FRAME_GB, FRAME_IN_BAND, FRAME_OVERLAP = 30.0, 2.0, 0.99, 0.01
METIS_RATIO = 5.0
GRID_M = 100.0
ENGINE_REPEATS = 3


def survey_frame(n_points: int, n_clumps: int, seed: int = 18):
    """(x, y, weight) in UTM 51N metres: 85 % of cells in clumps of lognormal size and spread, the rest rural.

    Weights are gamma-distributed (shape 0.6: many near-empty cells, a long tail), three times heavier
    in clumps than outside, scaled to MEAN_WEIGHT; cells snap to a 100 m grid, so some share a position.
    """
    from synthetic import _ORIGIN

    rng = np.random.default_rng(seed)
    extent = 2.0 * np.sqrt(n_points) * GRID_M
    n_clumped = int(0.85 * n_points)
    centre = rng.uniform(0, extent, size=(n_clumps, 2))
    size = rng.lognormal(0.0, 1.2, size=n_clumps)
    clump_of = rng.choice(n_clumps, size=n_clumped, p=size / size.sum())
    spread = rng.uniform(300.0, 2500.0, size=n_clumps)[clump_of] * np.sqrt(size[clump_of]) ** 0.5
    xy = np.vstack([centre[clump_of] + rng.normal(size=(n_clumped, 2)) * spread[:, None],
                    rng.uniform(0, extent, size=(n_points - n_clumped, 2))])
    xy = np.round(xy / GRID_M) * GRID_M + GRID_M / 2
    weight = rng.gamma(0.6, 1.0, size=n_points) * np.r_[np.full(n_clumped, 3.0), np.ones(n_points - n_clumped)]
    weight = np.round(weight * MEAN_WEIGHT / weight.mean(), 3)
    return xy[:, 0] + _ORIGIN[0], xy[:, 1] + _ORIGIN[1], weight


def verdict(ok: bool, text: str) -> str:
    return f"  {'PASS' if ok else 'FAIL'} {text}"


def bench_frame(n_points: int, jobs) -> bool:
    import geopandas as gpd
    import pandas as pd
    from synthetic import SYNTHETIC_EPSG

    n_clumps = max(3, round(CLUMPS * n_points / POINTS))
    x, y, weight = survey_frame(n_points, n_clumps)
    with tempfile.TemporaryDirectory(prefix="wrok-bench-scale-") as folder:
        source, output = Path(folder) / "frame.parquet", Path(folder) / "clustered.parquet"
        frame = gpd.GeoDataFrame({"cell_id": np.arange(n_points), "population": weight},
                                 geometry=gpd.points_from_xy(x, y), crs=SYNTHETIC_EPSG)
        frame.to_crs(4326).to_parquet(source)
        command = [sys.executable, "-m", "core", "cluster", str(source), str(output), "--weight-field", "population",
                   "--target-weight", str(SETTINGS["target_weight"]), "--target-radius",
                   str(SETTINGS["target_radius"]), "--max-weight", str(SETTINGS["max_weight"]), "--quiet"]
        if jobs is not None:
            command += ["--jobs", str(jobs)]
        done, seconds, peak_mb = measured_run(command)
        if done.returncode != 0:
            print(f"the CLI failed ({done.returncode}):\n{done.stderr[-3000:]}")
            return False
        result = pd.read_parquet(output, columns=["cell_id", "cluster_id"])
    labels = result.sort_values("cell_id")["cluster_id"].to_numpy()
    if len(labels) != n_points:
        print(f"the CLI wrote {len(labels)} rows for {n_points:,} input points")
        return False
    # Figures in the synthetic UTM metres (the CLI projects to the same zone).
    figures = evaluate(frame.geometry, x, y, weight, labels, SETTINGS["target_weight"], SETTINGS["target_radius"],
                       SETTINGS["max_weight"])
    figures.update(seconds=seconds, peak_mb=peak_mb)
    threads = "default" if jobs is None else jobs
    print(f"\n## survey frame: {n_points:,} cells in {n_clumps} clumps, gamma weights (mean {MEAN_WEIGHT}), "
          f"240 / 1000 / max 300, whole CLI (--jobs {threads}, {os.cpu_count()} cores)\n")
    print(markdown([("wrok `compact` (default)", figures)]))
    print(f"\nmean cluster: {n_points / figures['clusters']:.0f} cells")
    checks = [(seconds <= FRAME_SECONDS, f"whole CLI run {seconds:.1f} s (<= {FRAME_SECONDS:.0f} s)"),
              (peak_mb / 1024 <= FRAME_GB, f"peak RSS {peak_mb / 1024:.2f} GB (<= {FRAME_GB:.0f} GB)"),
              (figures["in_band"] >= FRAME_IN_BAND,
               f"{100 * figures['in_band']:.2f} % of clusters within ±20 % (>= {100 * FRAME_IN_BAND:.0f} %)"),
              (figures["hull_overlap"] <= FRAME_OVERLAP,
               f"hull overlap {100 * figures['hull_overlap']:.2f} % (<= {100 * FRAME_OVERLAP:.0f} %)")]
    for ok, text in checks:
        print(verdict(ok, text))
    print(json.dumps({key: figures[key] for key in ("seconds", "peak_mb", "clusters", "in_band", "hull_overlap",
                                                     "rms_m")}))
    return all(ok for ok, _ in checks)


def grid_graph(lon, lat, cell_degrees):
    """CSR adjacency (xadj, adjncy) of the 8-neighbour graph of grid cells; cells on one spot are joined too."""
    from scipy.sparse import coo_matrix

    col = np.rint((lon - lon.min()) / cell_degrees).astype(np.int64)
    row = np.rint((lat - lat.min()) / cell_degrees).astype(np.int64)
    width = int(col.max()) + 3
    key = (row + 1) * width + (col + 1)
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    sources, targets = [], []
    for d_row, d_col in ((0, 1), (1, -1), (1, 0), (1, 1)):
        wanted = key + d_row * width + d_col
        found = np.clip(np.searchsorted(sorted_keys, wanted), 0, len(key) - 1)
        hit = sorted_keys[found] == wanted
        sources.append(np.flatnonzero(hit))
        targets.append(order[found[hit]])
    i, j = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(key), len(key)))
    graph = (graph + graph.T).tocsr()
    return graph.indptr, graph.indices


def metis_labels(data, dataset, k):
    import pymetis

    lon, lat = data.frame.geometry.x.to_numpy(), data.frame.geometry.y.to_numpy()
    xadj, adjncy = grid_graph(lon, lat, dataset.grid_cell_degrees)
    # METIS balances integer vertex weights: population in tenths keeps the rounding small.
    vertex_weights = np.maximum(np.rint(10 * data.weights), 1).astype(np.int64)
    _, parts = pymetis.part_graph(k, adjacency=pymetis.CSRAdjacency(xadj, adjncy), vweights=vertex_weights)
    return np.asarray(parts)


def bench_metis() -> bool:
    dataset = BY_NAME["grids"]
    data = prepare(dataset)
    lonlat = (data.frame.geometry.x.to_numpy(), data.frame.geometry.y.to_numpy())

    def measure(labels):
        return evaluate(data.projected, data.x, data.y, data.weights, labels, dataset.target_weight,
                        dataset.target_radius, dataset.max_weight, lonlat=lonlat,
                        cell_degrees=dataset.grid_cell_degrees)

    with tempfile.TemporaryDirectory(prefix="wrok-bench-metis-") as folder:
        inputs, out = Path(folder) / "grids.npz", Path(folder) / "labels.npz"
        np.savez(inputs, x=data.x, y=data.y, weights=data.weights)
        params = json.dumps(dict(dataset.params(), strategy="compact"))
        done, _, _ = measured_run(python_script("engine_run.py", inputs, params, ENGINE_REPEATS, out))
        if done.returncode != 0:
            print(f"compact on grids failed:\n{done.stderr[-3000:]}")
            return False
        run = json.loads(done.stdout.strip().splitlines()[-1])
        with np.load(out) as saved:
            labels = saved["cluster_id"]
    compact_seconds = run["seconds"]
    compact_row = ("wrok `compact` (default), engine", dict(measure(labels), seconds=compact_seconds,
                                                            peak_mb=run["peak_mb"]))
    k = compact_row[1]["clusters"]  # METIS gets compact's cluster count
    rows, metis_seconds = [], None
    try:
        import pymetis  # noqa: F401
    except ImportError:
        rows.append(("METIS: pymetis not installed (pip install -r requirements-bench.txt); row skipped", {}))
    else:
        times = []
        for _ in range(ENGINE_REPEATS):
            started = time.perf_counter()
            labels = metis_labels(data, dataset, k)
            times.append(time.perf_counter() - started)
        metis_seconds = min(times)
        rows.append((f"METIS (pymetis), 8-neighbour graph, k = {k}", dict(measure(labels), seconds=metis_seconds)))
    rows.append(compact_row)
    print(f"\n## grids: METIS beside `compact`, same run (best of {ENGINE_REPEATS}; METIS time includes the graph)\n")
    print(markdown(rows))
    if metis_seconds is None:
        print(f"\n  not judged: compact <= {METIS_RATIO:g}x METIS (pymetis missing); compact {compact_seconds:.2f} s")
        return True
    ratio = compact_seconds / metis_seconds
    print(verdict(ratio <= METIS_RATIO, f"compact {compact_seconds:.2f} s = {ratio:.1f}x METIS "
                                        f"{metis_seconds:.3f} s (<= {METIS_RATIO:g}x)"))
    print(json.dumps({"metis_s": round(metis_seconds, 4), "compact_s": round(compact_seconds, 3),
                      "ratio": round(ratio, 2)}))
    return ratio <= METIS_RATIO


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=POINTS)
    parser.add_argument("--jobs", type=int, default=None, help="the CLI's --jobs (default: the CLI's default)")
    parser.add_argument("--skip-frame", action="store_true")
    parser.add_argument("--skip-metis", action="store_true")
    args = parser.parse_args()
    results = []
    if not args.skip_metis:
        results.append(bench_metis())
    if not args.skip_frame:
        results.append(bench_frame(args.points, args.jobs))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
