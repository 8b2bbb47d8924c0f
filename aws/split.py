"""Split a country layer into one GeoParquet file per region (the original's "breaker-upper").

File names come from the region values: characters other than letters, digits, `.`, `_` and
`-` become `_`; values that would share a name get a short hash of the value appended.
Features with no region value (null/NaN/empty text) go to `_no_region.parquet`, so nothing is
dropped silently; they are clustered as a region of their own unless the user removes that file.
Every feature lands in exactly one file; row order within a region is kept.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd

from core import ClusteringInputError
from core.io import read_layer

from .storage import write_geoparquet

NO_REGION = "_no_region"


def safe_name(value) -> str:
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "region"
    return name[:100]


def unique_names(values) -> dict:
    """value -> file stem, unique even when two values clean up to the same text.

    Stems never start with `_` or `.`, so none can be NO_REGION.
    """
    by_name: dict = {}
    for value in values:
        by_name.setdefault(safe_name(value).lower(), []).append(value)  # case-insensitive filesystems
    names = {}
    for group in by_name.values():
        for value in group:
            name = safe_name(value)
            if len(group) > 1:
                name += "-" + hashlib.sha1(str(value).encode()).hexdigest()[:8]
            names[value] = name
    return names


def region_groups(frame: gpd.GeoDataFrame, region_field: str):
    """Yield (file stem, rows) for each region; rows without a region come last as _no_region."""
    if region_field not in frame.columns:
        raise ClusteringInputError(f"region field {region_field!r} not found; fields are: {', '.join(frame.columns)}")
    region = frame[region_field]
    missing = region.isna() | (region.astype(str).str.strip() == "")
    values = pd.unique(region[~missing])
    names = unique_names(values)
    for value in values:
        yield names[value], frame[(region == value) & ~missing]
    if missing.any():
        yield NO_REGION, frame[missing]


def split_by_region(layer, region_field: str, destination, s3=None) -> list[dict]:
    """Write one GeoParquet per region to a folder or to s3://bucket/prefix; returns what was written.

    layer is a GeoDataFrame or a path anything core.io.read_layer reads. Each entry is
    {"region": value or None, "name": stem, "path" (local) or "key" (S3), "features": n}.
    """
    frame = layer if isinstance(layer, gpd.GeoDataFrame) else read_layer(layer)
    written = []
    target = str(destination)
    for name, rows in region_groups(frame, region_field):
        value = None if name == NO_REGION else rows[region_field].iloc[0]
        entry = {"region": value.item() if hasattr(value, "item") else value, "name": name, "features": len(rows)}
        if target.startswith("s3://"):
            bucket, _, prefix = target[5:].partition("/")
            key = f"{prefix.rstrip('/')}/{name}.parquet" if prefix.strip("/") else f"{name}.parquet"
            write_geoparquet(s3, rows, bucket, key)
            entry["key"] = key
        else:
            folder = Path(target)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.parquet"
            rows.to_parquet(path, index=False)
            entry["path"] = str(path)
        written.append(entry)
    return written

