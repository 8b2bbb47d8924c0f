"""`python -m core sample CLUSTERS OUT --n 10 ...`: a PPS sample of clusters from a cluster layer file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..frame.pps import SAMPLE_COLUMNS, read_sample_size_csv, select_pps
from ..params import ClusteringInputError

DESCRIPTION = """\
Select primary sampling units from a cluster layer (e.g. the --summary layer of `cluster`) by
systematic sampling with probability proportional to size (PPS), per stratum. Clusters at least
as heavy as the sampling interval are certainty selections. The frame is sorted by --sort-field
(default: the cluster ID) before the draw. Writes the selected clusters with inclusion_prob,
design_weight (1/inclusion_prob), selection_order, certainty and replacement columns.

Replacements (--replacements R) are a reserve list per stratum: a second systematic PPS draw,
from its own random start, among the clusters not in the main sample, listed in a random order
(not frame order); use them in selection_order when a PSU cannot be surveyed. The main sample
does not change when you ask for replacements.

The sample size table (--sizes) is a CSV with a column named like --stratum-field (or
`stratum`), a column `n`, and optionally `replacements`; one row per stratum. n = 0 is an
error: write `not sampled` in the n cell to leave a stratum out on purpose.

The seed is a whole number from 0 to 2**64 - 1; each stratum's stream comes from the full seed
and the stratum's name.

example:
  python -m core sample clusters.gpkg sample.gpkg --stratum-field PSGC --sizes sizes.csv \\
      --members clustered.gpkg --members-output sample_members.gpkg --seed 7
"""


def add_sample_command(commands) -> None:
    run = commands.add_parser("sample", help="select clusters by systematic PPS", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("clusters", help="cluster layer (.gpkg, .parquet, .shp, .geojson, .fgb) with an ID and a weight")
    run.add_argument("output", help="selected clusters (format from the extension)")
    how_many = run.add_mutually_exclusive_group(required=True)
    how_many.add_argument("--n", type=int, help="PSUs to select in each stratum")
    how_many.add_argument("--sizes", help="CSV of n (and optional replacements) per stratum")
    run.add_argument("--stratum-field", help="field naming each cluster's stratum (default: one stratum)")
    run.add_argument("--id-field", default="cluster_id", help="cluster ID field (default cluster_id)")
    run.add_argument("--weight-field", default="weight", help="cluster size measure (default weight)")
    run.add_argument("--sort-field", help="order of the frame before the systematic draw (default: the ID)")
    run.add_argument("--replacements", type=int, default=0,
                     help="reserve PSUs per stratum (default 0; a --sizes table's `replacements` column wins)")
    run.add_argument("--seed", type=int, default=42, help="random seed; same frame and seed give the same sample")
    run.add_argument("--layer", help="layer name inside a multi-layer cluster file")
    run.add_argument("--members", help="clustered features layer (the `cluster` output) to take members from")
    run.add_argument("--members-layer", help="layer name inside a multi-layer members file")
    run.add_argument("--members-output", help="member features of the selected clusters, with the sample columns")
    run.add_argument("--report", help="also write an HTML report of the draw (design per stratum, PSUs, map)")
    run.add_argument("--quiet", action="store_true", help="no summary")
    run.set_defaults(handler=run_sample)


def _require_columns(frame, columns, what: str) -> None:
    for name in columns:
        if name and name not in frame.columns:
            raise ClusteringInputError(f"field {name!r} is not in the {what} (fields: {', '.join(map(str, frame.columns))})")


def _refuse_sample_columns(frame, what: str) -> None:
    clash = [name for name in SAMPLE_COLUMNS[1:] if name in frame.columns]
    if clash:
        raise ClusteringInputError(f"the {what} already has field(s) {', '.join(clash)} (is it a sample already?); "
                                   "rename or drop them first")


def _write_report(args, ordered, sample, n) -> None:
    from ..io.files import metric_crs
    from ..report.outlines import outlines_in_metres
    from ..report.sample import write_sample_report

    has_geometry = "geometry" in ordered and ordered.geometry.notna().all() and ordered.crs is not None
    outlines = outlines_in_metres(ordered.geometry, metric_crs(ordered)) if has_geometry else None
    inputs = {"cluster layer": args.clusters, "size measure": args.weight_field,
              "stratum field": args.stratum_field or "(none)", "frame order": args.sort_field or args.id_field,
              "seed": args.seed, "sample sizes": args.sizes or n}
    write_sample_report(args.report, sample, ordered[args.id_field].astype(str).to_numpy(dtype=object),
                        ordered[args.weight_field].to_numpy(dtype=float), outlines=outlines, inputs=inputs,
                        title=f"wrok PPS sample: {Path(args.clusters).name}")


def _present(stratum: dict) -> dict:
    """A stratum's figures without the ones a stratum left unsampled does not have (NaN interval and start)."""
    return {key: value for key, value in stratum.items() if not (isinstance(value, float) and value != value)}


def run_sample(args) -> int:
    import numpy as np
    import pandas as pd

    from ..io.files import read_layer
    from ..io.layer_style import sample_style
    from ..io.writing import check_target, same_file, write_frame

    if (args.members is None) != (args.members_output is None):
        raise ClusteringInputError("--members and --members-output go together")
    output = check_target(args.output)
    members_target = check_target(args.members_output, option="--members-output") if args.members_output else None
    for target in filter(None, (args.output, args.members_output, args.report)):
        if any(same_file(target, source) for source in (args.clusters, args.members) if source):
            raise ClusteringInputError(f"{target} is an input of this run: write the sample to a new file")
    if args.report:
        from ..report.outlines import check_report_path

        check_report_path(args.report)
    frame = read_layer(args.clusters, args.layer)
    _require_columns(frame, [args.id_field, args.weight_field, args.stratum_field, args.sort_field], "cluster layer")
    _refuse_sample_columns(frame, "cluster layer")
    if not pd.api.types.is_numeric_dtype(frame[args.weight_field]):
        raise ClusteringInputError(f"weight field {args.weight_field!r} is not numeric (type {frame[args.weight_field].dtype})")
    n = read_sample_size_csv(args.sizes, args.stratum_field, args.replacements) if args.sizes else args.n
    members = None
    if args.members:
        members = read_layer(args.members, args.members_layer)
        _require_columns(members, [args.id_field], "members layer")
        _refuse_sample_columns(members, "members layer")
        absent = sorted(set(frame[args.id_field].astype(str)) - set(members[args.id_field].dropna().astype(str)))
        if absent:
            raise ClusteringInputError(f"{len(absent)} cluster(s) have no member features in {args.members}: "
                                       f"{', '.join(absent[:5])}; is it the clustered layer of these clusters?")
    ordered = frame.sort_values(args.sort_field or args.id_field, kind="stable").reset_index(drop=True)
    strata = ordered[args.stratum_field].to_numpy(dtype=object) if args.stratum_field else None
    sample = select_pps(ordered[args.id_field].astype(str).to_numpy(dtype=object),
                        ordered[args.weight_field].to_numpy(dtype=float, na_value=np.nan), n, strata,
                        seed=args.seed, replacements=args.replacements)
    selected = ordered.iloc[sample.index].reset_index(drop=True)
    columns = {name: values for name, values in sample.columns().items() if name != "stratum"}
    for name, values in columns.items():
        selected[name] = values
    write_frame(selected, output, sample_style(args.id_field, label=True))
    if members is not None:
        joined = pd.DataFrame({args.id_field: selected[args.id_field].astype(str), **columns})
        keys = members[args.id_field].astype(str)
        chosen = members[keys.isin(joined[args.id_field])].copy()
        extra = joined.set_index(args.id_field).loc[keys[chosen.index]]
        for name in columns:
            chosen[name] = extra[name].to_numpy()
        write_frame(chosen, members_target, sample_style(args.id_field, label=False))
    if args.report:
        _write_report(args, ordered, sample, n)
    if not args.quiet:
        print(json.dumps({"selected": int((~sample.replacement).sum()),
                          "replacements": int(sample.replacement.sum()),
                          "certainty": int(sample.certainty.sum()), "seed": args.seed,
                          "strata": [_present(stratum) for stratum in sample.strata]}, default=float))
    return 0
