"""Strata for the file adapters: stratum fields and targets read from a GeoDataFrame and a table file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..frame.strata import StrataOptions, cluster_strata
from ..params import ClusteringInputError


def frame_column(frame: pd.DataFrame, name: str):
    if name not in frame.columns:
        raise ClusteringInputError(f"field {name!r} not found; fields are: {', '.join(map(str, frame.columns))}")
    return frame[name].astype(object).where(frame[name].notna(), None).tolist()


def read_strata_table(path, layer=None) -> list:
    """A strata table's rows as dicts: CSV (text cells) or any table/layer file GDAL reads."""
    path = Path(path)
    if not path.exists():
        raise ClusteringInputError(f"strata table not found: {path}")
    try:
        if path.suffix.lower() == ".csv":
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            import pyogrio

            table = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
    except Exception as exc:  # the reader's own message says what is wrong
        raise ClusteringInputError(f"cannot read strata table {path.name}: {exc}") from None
    return table.to_dict("records")


def cluster_frame_strata(frame, options: StrataOptions, params, x, y, weights, vertex_xy, owner, progress,
                         is_cancelled):
    keys, by_stratum, warnings = options.plan(lambda name: frame_column(frame, name), params)
    result = cluster_strata(x, y, weights, keys, by_stratum, params, vertex_xy=vertex_xy, vertex_owner=owner,
                            n_jobs=options.n_jobs, progress=progress, is_cancelled=is_cancelled)
    result.warnings = warnings
    return result
