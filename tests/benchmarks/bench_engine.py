"""`make bench`: seed mode and the default side by side on the original tool's demo data.

Each mode runs in a fresh subprocess so its peak memory is its own. Timings cover
clustering only (reading and projecting the file is excluded), as in
../shared/BENCHMARKS.md, whose figures for the original tool are shown alongside.
Both modes are timed the same way: the best of REPEATS runs in one process (as timeit
does), so first-call warm-up does not count against either; each run gives the same
clusters (same random_state), and the figures are from the last one.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

DATASETS = {
    "grids": dict(path="data/grids.parquet", weight="population", epsg=3121,
                  params=dict(desired_cluster_weight=240, desired_cluster_radius=1000, max_cluster_weight=300)),
    "rooftops": dict(path="data/rooftops.parquet", weight=None, epsg=26191,
                     params=dict(desired_cluster_weight=30, desired_cluster_radius=550, max_cluster_weight=50)),
}
REPEATS = 3
COMMON = dict(weight_importance_factor=1, minibatch_reassignment_ratio=0.1, initial_max_trials=100,
              max_passes=100, subsequent_max_trials=20, n_jobs=1)
ROWS = [("seconds", "seconds", "{:.2f}"), ("peak memory GB", "peak_gb", "{:.2f}"), ("clusters", "clusters", "{:d}"),
        ("median weight", "median_weight", "{:.1f}"), ("median radius m", "median_radius_m", "{:,.0f}"),
        ("within ±20% of target", "share_within_20pct", "{:.0%}"), ("clusters over max", "clusters_over_max", "{:d}"),
        ("p90 radius m", "p90_radius_m", "{:,.0f}"), ("seed score", "score", "{:.1f}")]
ORIGINAL_LABELS = {"seconds": "wall time, clustering only", "peak_gb": "peak memory", "clusters": "clusters",
                   "median_weight": "median cluster weight", "median_radius_m": "median radius",
                   "share_within_20pct": "clusters within", "clusters_over_max": "clusters over max weight",
                   "p90_radius_m": "p90 radius", "score": "seed score"}


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # ru_maxrss is KiB on Linux


def run_one(dataset: str, strategy: str) -> dict:
    import geopandas as gpd

    from core import ClusteringParams, cluster
    from core.io import geometry_arrays, weights_from

    spec = DATASETS[dataset]
    frame = gpd.read_parquet(SHARED / spec["path"])
    x, y, vertex_xy, owner = geometry_arrays(frame.geometry.to_crs(spec["epsg"]).reset_index(drop=True))
    params = ClusteringParams(strategy=strategy, **spec["params"], **COMMON)
    weights = weights_from(frame, spec["weight"])
    return timed(lambda: cluster(x, y, weights, params, vertex_xy=vertex_xy, vertex_owner=owner))


def timed(run, repeats=REPEATS) -> dict:
    """Best wall time of `repeats` runs, with the figures of the (identical) result."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return dict(result.stats(), seconds=best, peak_gb=peak_gb())


def run_synthetic(n_points: int) -> dict:
    from core import ClusteringParams, cluster
    from core.synthetic import clumped_population

    x, y, w = clumped_population(n_points, seed=1)
    params = ClusteringParams(**DATASETS["grids"]["params"], **COMMON)
    return dict(timed(lambda: cluster(x, y, w, params), repeats=1), points=n_points)


def in_subprocess(*args) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"benchmark run {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def original_figures() -> dict:
    """The original tool's figures from ../shared/BENCHMARKS.md, as printed there."""
    path = SHARED / "BENCHMARKS.md"
    figures = {"grids": {}, "rooftops": {}}
    if not path.exists():
        return figures
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3:
            for key, label in ORIGINAL_LABELS.items():
                # "clusters" alone must not take the "clusters over max weight" row.
                if cells[0] == label or (label != "clusters" and cells[0].startswith(label)):
                    figures["grids"][key], figures["rooftops"][key] = cells[1], cells[2]
    return figures


def fmt(value, pattern):
    return pattern.format(int(value) if pattern.endswith("d}") else value)


def main() -> int:
    if not (SHARED / "data" / "grids.parquet").exists():
        print(f"the shared demo data is not at {SHARED / 'data'}; the comparison needs it", file=sys.stderr)
        return 1
    original = original_figures()
    results = {}
    for dataset in DATASETS:
        for strategy in ("seed", "balanced"):
            print(f"running {strategy} on {dataset} ...", file=sys.stderr, flush=True)
            results[dataset, strategy] = in_subprocess(dataset, strategy)
    checks = []
    for dataset in DATASETS:
        seed, ours = results[dataset, "seed"], results[dataset, "balanced"]
        print(f"\n## {dataset} (seconds: best of {REPEATS} runs)\n")
        print("| measured | original tool (BENCHMARKS.md) | wrok `seed` mode | wrok default (`balanced`) |")
        print("|---|---|---|---|")
        for label, key, pattern in ROWS:
            print(f"| {label} | {original[dataset].get(key, '—')} | {fmt(seed[key], pattern)} | {fmt(ours[key], pattern)} |")
        checks += [
            (f"{dataset}: 0 clusters over max", ours["clusters_over_max"] == 0),
            (f"{dataset}: ≥ 85% within ±20% of target", ours["share_within_20pct"] >= 0.85),
            (f"{dataset}: seed score ≤ seed mode's ({ours['score']:.1f} vs {seed['score']:.1f})",
             ours["score"] <= seed["score"]),
        ]
    speedup = results["grids", "seed"]["seconds"] / results["grids", "balanced"]["seconds"]
    checks += [(f"grids: default ≤ 2 s ({results['grids', 'balanced']['seconds']:.2f} s)",
                results["grids", "balanced"]["seconds"] <= 2),
               (f"grids: default ≥ 30× faster than seed mode ({speedup:.0f}×)", speedup >= 30)]
    print("\n## default strategy on synthetic clumped populations\n")
    print("| points | seconds | peak memory GB | clusters | within ±20% | over max |")
    print("|---|---|---|---|---|---|")
    for n_points in (100_000, 1_000_000):
        print(f"running balanced on {n_points:,} synthetic points ...", file=sys.stderr, flush=True)
        big = in_subprocess("synthetic", str(n_points))
        print(f"| {n_points:,} | {big['seconds']:.1f} | {big['peak_gb']:.2f} | {big['clusters']} | "
              f"{big['share_within_20pct']:.0%} | {big['clusters_over_max']} |")
        if n_points == 1_000_000:
            checks += [(f"1M points: ≤ 60 s ({big['seconds']:.1f} s)", big["seconds"] <= 60),
                       (f"1M points: ≤ 4 GB ({big['peak_gb']:.2f} GB)", big["peak_gb"] <= 4)]
    print("\n## targets\n")
    for text, ok in checks:
        print(f"- {'PASS' if ok else 'FAIL'}: {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        kind, arg = sys.argv[2], sys.argv[3]
        figures = run_synthetic(int(arg)) if kind == "synthetic" else run_one(kind, arg)
        print(json.dumps(figures))
    else:
        sys.exit(main())
