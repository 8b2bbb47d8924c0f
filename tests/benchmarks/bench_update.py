"""Updating a frame (issue 21): a new population release re-clustered with the previous PSUs kept.

    .venv/bin/python tests/benchmarks/bench_update.py

The grids (population, 240 / 1000 m / max 300, EPSG:3121) are clustered once with `compact`: the
previous frame. The new release perturbs every cell by lognormal noise (sigma 0.1, about ±10 %) and
grows one district-sized area (the disc round the weighted centre holding a fifth of the cells) by 5 %;
a second release grows it by 25 %, enough to push clusters out of band (the 5 % one hardly does).
Then, from one run, side by side: the update of the previous frame and a fresh compact run on the
new weights, both measured by the engine-independent evaluator. Targets (update): >= 99 % of
clusters within ±20 %, 0 over max, hull overlap <= 0.5 %, >= 90 % of features keep their cluster,
CPU time no more than the fresh run's. Prints PASS/FAIL per target; exits 1 on a FAIL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # this checkout's `core`
sys.path.insert(0, str(HERE))

from datasets import BY_NAME, prepare  # noqa: E402
from evaluate import evaluate  # noqa: E402
from table import markdown  # noqa: E402

NOISE_SIGMA, DISTRICT_SHARE = 0.1, 0.2
GROWTHS = (0.05, 0.25)  # the release, and a stronger one that pushes clusters out of band
IN_BAND, OVERLAP, KEPT = 0.99, 0.005, 0.90
SEED = 21


def new_release(x, y, weights, growth, seed=SEED):
    """The perturbed weights, and the mask of the district that grew."""
    rng = np.random.default_rng(seed)
    noisy = weights * rng.lognormal(0.0, NOISE_SIGMA, size=len(weights))
    cx, cy = np.average(x, weights=weights), np.average(y, weights=weights)
    distance = np.hypot(x - cx, y - cy)
    district = distance <= np.quantile(distance, DISTRICT_SHARE)
    noisy[district] *= 1 + growth
    return noisy, district


def timed(run):
    start = time.process_time()
    result = run()
    return result, time.process_time() - start


def compare(data, dataset, params, previous, growth):
    """Update and fresh run on one release, printed side by side; returns [(label, passed)]."""
    from core import cluster
    from core.engine.update import kept_share

    weights, district = new_release(data.x, data.y, data.weights, growth)
    update, update_s = timed(lambda: cluster(data.x, data.y, weights, params, previous_ids=previous.cluster_id))
    fresh, fresh_s = timed(lambda: cluster(data.x, data.y, weights, params))

    def figures(result, seconds):
        measured = evaluate(data.projected, data.x, data.y, weights, result.cluster_id, dataset.target_weight,
                            dataset.target_radius, dataset.max_weight)
        measured["seconds"] = seconds
        measured["kept_features"], measured["kept_weight"] = kept_share(previous.cluster_id, result.cluster_id,
                                                                        weights)
        return measured

    rows = [("update", figures(update, update_s)), ("fresh compact", figures(fresh, fresh_s))]
    target = dataset.target_weight
    still = np.mean(np.abs(np.bincount(previous.cluster_row, weights) - target) <= 0.2 * target)
    print(f"\n### Release: weights x lognormal(0, {NOISE_SIGMA}), +{growth:.0%} on {district.mean():.0%} of cells\n")
    print(f"Previous frame: {len(previous.clusters)} clusters, {still:.1%} of them still in ±20 % under the new "
          "weights (CPU seconds below)\n")
    print(markdown(rows))
    print("\n| row | features kept | weight kept |\n|---|---|---|")
    for label, row in rows:
        print(f"| {label} | {row['kept_features']:.1%} | {row['kept_weight']:.1%} |")
    report = update.update
    print("\nupdate, clusters: " + ", ".join(f"{name} {len(getattr(report, name))}" for name in
                                             ("unchanged", "reshaped", "split", "merged", "new", "retired")))
    ours, theirs = rows[0][1], rows[1][1]
    tag = f"+{growth:.0%}"
    return [
        (f"{tag} update: >= {IN_BAND:.0%} of clusters in ±20 %", ours["in_band"] >= IN_BAND),
        (f"{tag} update: 0 clusters over max (invariant)", ours["over_max"] == 0),
        (f"{tag} update: hull overlap <= {OVERLAP:.1%}", ours["hull_overlap"] <= OVERLAP),
        (f"{tag} update: >= {KEPT:.0%} of features keep their cluster (fresh: {theirs['kept_features']:.1%})",
         ours["kept_features"] >= KEPT),
        (f"{tag} update: CPU {update_s:.1f} s <= fresh {fresh_s:.1f} s", update_s <= fresh_s),
        (f"{tag} update: cluster IDs unique, kept ones from the previous frame (invariant)",
         len(set(report.unchanged + report.reshaped) & set(report.new)) == 0
         and set(report.unchanged + report.reshaped) <= set(previous.cluster_id.tolist())),
    ]


def main() -> int:
    from core import ClusteringParams, cluster

    dataset = BY_NAME["grids"]
    data = prepare(dataset)
    params = ClusteringParams(**dataset.params(), strategy="compact")
    previous = cluster(data.x, data.y, data.weights, params)
    print(f"grids: {len(data.weights):,} cells; previous frame: a compact run on the published weights")
    checks = []
    for growth in GROWTHS:
        checks += compare(data, dataset, params, previous, growth)
    print("\n(a fresh run's 'kept' matches each new cluster to the previous one it overlaps most: its IDs are new)\n")
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
