"""`make bench` (H3 part): 1M clumped points clustered through H3 cells, next to the point-level run.

The H3 run is timed whole: points to cells, clustering the cells, every point's cluster fields
back (core.h3frame.cluster_points_by_h3, what `--h3-resolution` runs). The point-level run is
the engine on the same points. Both print their in-band share and hull overlap: on member
points for the point run, on cell centre points for the H3 run (cell hulls interleave along
borders; ../shared/BENCHMARKS.md, last section), plus the H3 run's H3-connected share.

    .venv/bin/python tests/benchmarks/bench_h3.py [--points 1000000] [--resolution 9 8] [--skip-point-level]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the synthetic populations

TARGETS = dict(desired_cluster_weight=240, desired_cluster_radius=1000, max_cluster_weight=300)


def hull_overlap(x: np.ndarray, y: np.ndarray, labels) -> float:
    """(sum of convex hull areas - area of their union) / sum of hull areas."""
    _, cluster = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    order = np.argsort(cluster, kind="stable")
    hulls = shapely.convex_hull(shapely.multipoints(np.column_stack([x, y])[order], indices=cluster[order]))
    areas = shapely.area(hulls)
    return float((areas.sum() - shapely.union_all(hulls).area) / areas.sum())


def row(name, seconds, stats, overlap, extra=""):
    print(f"{name:<34} {seconds:8.2f} s  {stats['clusters']:7d} clusters  "
          f"{stats['share_within_20pct']:6.1%} in ±20 %  overlap {overlap:7.3%}  {extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--resolution", type=int, nargs="+", default=[9, 8],
                        help="H3 resolutions to run (finer cells: closer to the points, more features to cluster)")
    parser.add_argument("--skip-point-level", action="store_true")
    args = parser.parse_args()

    from h3.api import basic_int as h3
    from pyproj import Transformer
    from synthetic import SYNTHETIC_EPSG, clumped_population, clumped_population_frame

    from core import ClusteringParams, cluster
    from core.io.h3frame import cluster_points_by_h3

    params = ClusteringParams(**TARGETS)
    frame = clumped_population_frame(args.points, seed=1)
    print(f"{args.points:,} clumped points; targets {TARGETS}")
    for resolution in args.resolution:
        start = time.perf_counter()
        out, _, result, contiguity = cluster_points_by_h3(frame, resolution, params, "population")
        h3_seconds = time.perf_counter() - start
        cells = np.unique(out["h3_cell"].to_numpy().astype(str), return_index=True)[1]
        lat_lng = np.array([h3.cell_to_latlng(h3.str_to_int(c)) for c in out["h3_cell"].to_numpy()[cells]])
        cx, cy = Transformer.from_crs(4326, SYNTHETIC_EPSG, always_xy=True).transform(lat_lng[:, 1], lat_lng[:, 0])
        row(f"H3 r{resolution}, {len(cells):,} cells (whole)", h3_seconds, result.stats(),
            hull_overlap(cx, cy, out["cluster_id"].to_numpy()[cells]),
            f"H3-connected {contiguity['h3_connected_share']:.1%} (overlap on cell centres)")
    if not args.skip_point_level:
        x, y, w = clumped_population(args.points, seed=1)
        start = time.perf_counter()
        points = cluster(x, y, w, params)
        row("point level (engine only)", time.perf_counter() - start, points.stats(),
            hull_overlap(x, y, points.cluster_id), "(overlap on member points)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
