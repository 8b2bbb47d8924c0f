"""`make bench`: wrok against the original tool and QGIS's k-means, on the original's demo data.

Prints one table per dataset (rows: the original's figures from ../shared/BENCHMARKS.md,
QGIS's native:kmeansclustering, `seed` mode, then every strategy in core.params.STRATEGIES),
the 1M-point command-line run, the demo map check, then issue 7's targets as PASS/FAIL for
the default strategy and the invariants the tests enforce. Every figure except the original's
comes from evaluate.py, which recomputes it from the member geometries. Exits 1 on a FAIL.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # this checkout's `core`
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests/: the synthetic populations

import demo  # noqa: E402
import qgis_kmeans  # noqa: E402
import synthetic_cli  # noqa: E402
from datasets import DATASETS, SHARED, prepare  # noqa: E402
from evaluate import evaluate  # noqa: E402
from original import original_figures  # noqa: E402
from processes import measured_run, python_script  # noqa: E402
from table import markdown  # noqa: E402
from targets import INVARIANTS, TARGETS  # noqa: E402

from core.params import DEFAULT_STRATEGY, STRATEGIES  # noqa: E402

REPEATS = 3  # timed runs per fast strategy (best kept); seed mode is timed once
NOTES = """\
time: the original's is its own measurement (clustering only, busy 2-core machine); QGIS's is the whole
qgis_process run (start-up, reading, k-means, writing); wrok's is clustering only, best of {repeats} runs
(`seed` mode: one run). peak MB: QGIS's is qgis_process's peak RSS; wrok's is how much the resident set of
a process that holds only the input arrays grew while clustering (ru_maxrss minus the RSS before; native
buffers count). QGIS's k-means is unweighted (each feature counts 1); k = total weight / target = {k}."""


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def engine_row(dataset, data, strategy: str, repeats: int, folder: Path) -> tuple:
    """(labels, run figures) of one strategy, run in its own process on the prepared arrays."""
    inputs, labels_file = folder / f"{dataset.name}.npz", folder / f"{dataset.name}-{strategy}.npz"
    if not inputs.exists():
        arrays = dict(x=data.x, y=data.y, weights=data.weights)
        if data.vertex_xy is not None:
            arrays.update(vertex_xy=data.vertex_xy, vertex_owner=data.vertex_owner)
        np.savez(inputs, **arrays)
    params = json.dumps(dict(dataset.params(), strategy=strategy))
    done, _, _ = measured_run(python_script("engine_run.py", inputs, params, repeats, labels_file))
    if done.returncode != 0:
        raise RuntimeError(f"{strategy} on {dataset.name} failed:\n{done.stderr[-3000:]}")
    with np.load(labels_file) as saved:
        labels = saved["cluster_id"]
    return labels, json.loads(done.stdout.strip().splitlines()[-1])


def dataset_rows(dataset, original: dict, broken: list, folder: Path) -> tuple:
    """The table rows for one dataset, and the default strategy's figures."""
    data = prepare(dataset)
    lonlat = None
    if dataset.grid_cell_degrees:
        lonlat = (data.frame.geometry.x.to_numpy(), data.frame.geometry.y.to_numpy())

    def measure(labels):
        figures = evaluate(data.projected, data.x, data.y, data.weights, labels, dataset.target_weight,
                           dataset.target_radius, dataset.max_weight, lonlat=lonlat,
                           cell_degrees=dataset.grid_cell_degrees)
        if figures["features"] != len(data.x) or not np.isclose(figures["weight_total"], data.weights.sum()):
            broken.append(f"{dataset.name}: labels lost features or weight")
        return figures

    rows = [("original tool (BENCHMARKS.md)", original.get(dataset.name, {}))]
    k = round(float(data.weights.sum()) / dataset.target_weight)
    if qgis_kmeans.available():
        progress(f"{dataset.name}: QGIS native:kmeansclustering (k = {k}) through qgis_process.bin")
        run = qgis_kmeans.run(data, dataset)
        rows.append((f"QGIS native:kmeansclustering, k = {k}, unweighted",
                     dict(measure(run["labels"]), seconds=run["seconds"], peak_mb=run["peak_mb"])))
    else:
        rows.append(("QGIS native:kmeansclustering: qgis_process.bin not found", {}))
    default_figures = None
    for strategy in ["seed"] + [s for s in STRATEGIES if s != "seed"]:
        progress(f"{dataset.name}: wrok `{strategy}`")
        labels, run = engine_row(dataset, data, strategy, 1 if strategy == "seed" else REPEATS, folder)
        figures = dict(measure(labels), seconds=run["seconds"], peak_mb=run["peak_mb"])
        name = f"wrok `{strategy}`" + (" (default)" if strategy == DEFAULT_STRATEGY else "")
        rows.append((name, figures))
        if strategy == DEFAULT_STRATEGY:
            default_figures = figures
    return rows, default_figures, k


def main() -> int:
    if not (SHARED / "data" / "grids.parquet").exists():
        print(f"the shared demo data is not at {SHARED / 'data'}; the bench needs it", file=sys.stderr)
        return 1
    original = original_figures()
    measured, broken = {}, []
    for dataset in DATASETS:
        with tempfile.TemporaryDirectory(prefix="wrok-bench-") as folder:
            rows, measured[dataset.name], k = dataset_rows(dataset, original, broken, Path(folder))
        print(f"\n## {dataset.name}: {dataset.target_weight:g} per cluster, {dataset.target_radius:g} m, "
              f"max {dataset.max_weight:g}, EPSG:{dataset.epsg}\n")
        print(markdown(rows))
        print("\n" + NOTES.format(repeats=REPEATS, k=k), flush=True)

    progress(f"1M synthetic points: the whole CLI run, `{DEFAULT_STRATEGY}`")
    measured["1M synthetic"] = big = synthetic_cli.run(sys.executable)
    print(f"\n## {synthetic_cli.POINTS:,} synthetic points in {synthetic_cli.TOWNS} towns, whole CLI run "
          f"(`python -m core cluster`, default strategy `{DEFAULT_STRATEGY}`)\n")
    print(f"{big['seconds']:.1f} s wall, peak RSS {big['peak_mb']:,.0f} MB, {big['clusters']:,} clusters, "
          f"{100 * big['in_band']:.1f} % within ±20 %, {big['over_max']} over max")

    progress("demo map: the demo input with the demo settings through the CLI")
    measured["demo"] = demo.run(sys.executable)

    print(f"\n## targets (issue 7), default strategy `{DEFAULT_STRATEGY}`\n")
    for target in TARGETS:
        reference = original.get(target.dataset, {}).get(target.figure)
        print(target.line(measured[target.dataset].get(target.figure), reference))
    print("\n## invariants (hold by construction; enforced by the tests named)\n")
    for invariant in INVARIANTS:
        print(f"- {invariant}")
    for problem in broken:
        print(f"- BROKEN: {problem}")
    failed = [t for t in TARGETS if not t.check(measured[t.dataset].get(t.figure))]
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
