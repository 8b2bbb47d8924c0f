"""Split a country layer into one GeoParquet file per region (the original's "breaker-upper").

File names come from the region values: characters other than letters, digits, `.`, `_` and
`-` become `_`; values that would share a name get a short hash of the value appended.
Features with no region value (null/NaN/empty text) go to `_no_region.parquet`, so nothing is
dropped silently; they are clustered as a region of their own unless the user removes that file.
Every feature lands in exactly one file; row order within a region is kept.

Files are split as a stream: chunk_rows rows are read at a time (GeoParquet through pyarrow, OGR
formats through pyogrio's Arrow stream), each chunk's rows are appended to per-region part files in
a scratch folder, and each region's parts are then joined into its file. Memory follows the chunk,
not the country. A GeoDataFrame already in memory is split in memory.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core import ClusteringInputError
from core.io.files import read_layer

from .storage import PARQUET_SUFFIXES

NO_REGION = "_no_region"
CHUNK_ROWS = 250_000


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


class Destination:
    """A local folder or s3://bucket/prefix; put() moves a finished region file there."""

    def __init__(self, destination, s3=None):
        self.target = str(destination)
        self.s3 = s3
        if self.target.startswith("s3://"):
            self.bucket, _, prefix = self.target[5:].partition("/")
            self.prefix = prefix.strip("/")
        else:
            Path(self.target).mkdir(parents=True, exist_ok=True)

    def put(self, local: Path, name: str) -> dict:
        if not self.target.startswith("s3://"):
            path = Path(self.target) / f"{name}.parquet"
            shutil.move(str(local), path)
            return {"path": str(path)}
        key = f"{self.prefix}/{name}.parquet" if self.prefix else f"{name}.parquet"
        self.s3.upload_file(str(local), self.bucket, key)  # multipart, from disk
        local.unlink()
        return {"key": key}


def split_frame(frame: gpd.GeoDataFrame, region_field: str, destination: Destination, scratch: Path) -> list[dict]:
    written = []
    for name, rows in region_groups(frame, region_field):
        value = None if name == NO_REGION else rows[region_field].iloc[0]
        entry = {"region": value.item() if hasattr(value, "item") else value, "name": name, "features": len(rows)}
        local = scratch / f"{len(written)}.parquet"
        rows.to_parquet(local, index=False)
        entry.update(destination.put(local, name))
        written.append(entry)
    return written


def arrow_chunks(path: Path, chunk_rows: int):
    """(schema with GeoParquet metadata, iterator of RecordBatches) for a GeoParquet or OGR file."""
    if not path.exists():
        raise ClusteringInputError(f"input file not found: {path}")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        source = pq.ParquetFile(path)
        schema = source.schema_arrow
        if b"geo" not in (schema.metadata or {}):
            raise ClusteringInputError(f"{path.name} is Parquet without GeoParquet metadata (no 'geo' key)")
        return schema, source.iter_batches(batch_size=chunk_rows)
    return ogr_chunks(path, chunk_rows)


def ogr_chunks(path: Path, chunk_rows: int):
    from pyproj import CRS

    stream = ogr_batches(path, chunk_rows)
    meta, schema = next(stream)
    crs = CRS(meta["crs"]).to_json_dict() if meta["crs"] else None
    geo = {"version": "1.0.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": [], "crs": crs}}}
    return schema.with_metadata({b"geo": json.dumps(geo).encode()}), stream


def ogr_batches(path: Path, chunk_rows: int):
    """First (OGR metadata, schema), then the record batches, with the geometry column named geometry."""
    import pyogrio

    try:
        opened = pyogrio.raw.open_arrow(path, batch_size=chunk_rows, use_pyarrow=True)
        meta, reader = opened.__enter__()
    except Exception as error:  # GDAL's message names the problem
        raise ClusteringInputError(f"cannot read {path.name}: {error}") from None
    try:
        geometry = meta["geometry_name"] or "wkb_geometry"
        names = ["geometry" if name == geometry else name for name in reader.schema.names]
        yield meta, pa.schema([field.with_name(name) for field, name in zip(reader.schema, names)])
        for batch in reader:
            yield pa.RecordBatch.from_arrays(batch.columns, names=names)
    finally:
        opened.__exit__(None, None, None)


def region_codes(column: pa.Array):
    """(codes per row, -1 where the region is missing, region values by code) for one chunk."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    values = encoded.dictionary.to_pylist()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    missing = [code for code, value in enumerate(values)
               if value is None or value != value or (isinstance(value, str) and not value.strip())]
    if missing:
        codes[np.isin(codes, missing)] = -1
    return codes, values


def region_key(value):
    """Values that name the same region: 101 and 101.0 do, as in the in-memory split."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def stream_split(path: Path, region_field: str, destination: Destination, scratch: Path, chunk_rows: int):
    schema, chunks = arrow_chunks(path, chunk_rows)
    if region_field not in schema.names:
        raise ClusteringInputError(f"region field {region_field!r} not found; fields are: {', '.join(schema.names)}")
    geo = json.loads(schema.metadata[b"geo"])
    for column in geo["columns"].values():
        column.pop("bbox", None)  # the country's box is not a region's
    schema = schema.with_metadata({b"geo": json.dumps(geo).encode()})  # no pandas index metadata either
    regions: dict = {}  # region key -> [index, first value, rows]
    parts = scratch / "parts"
    for number, batch in enumerate(chunks):
        table = pa.Table.from_batches([batch]).cast(schema)
        codes, values = region_codes(table.column(region_field))
        order = np.argsort(codes, kind="stable")  # rows of a region together, in their order
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        for start, end in zip(starts, np.r_[starts[1:], len(order)]):
            code = int(sorted_codes[start])
            value = None if code < 0 else values[code]
            key = NO_REGION if code < 0 else ("value", region_key(value))
            entry = regions.setdefault(key, [len(regions), value, 0])
            entry[2] += int(end - start)
            folder = parts / str(entry[0])
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.take(pa.array(order[start:end])), folder / f"{number:08d}.parquet")
    named = [key for key in regions if key != NO_REGION]
    named.sort(key=lambda key: regions[key][0])  # order of first appearance, as the in-memory split
    names = unique_names([regions[key][1] for key in named])
    written = []
    for key in named + ([NO_REGION] if NO_REGION in regions else []):
        index, value, rows = regions[key]
        name = NO_REGION if key == NO_REGION else names[value]
        local = scratch / f"{index}.parquet"
        with pq.ParquetWriter(local, schema) as writer:
            for part in sorted((parts / str(index)).iterdir()):
                writer.write_table(pq.read_table(part, schema=schema))
                part.unlink()
        entry = {"region": value, "name": name, "features": rows}
        entry.update(destination.put(local, name))
        written.append(entry)
    return written


def split_by_region(layer, region_field: str, destination, s3=None, chunk_rows: int = CHUNK_ROWS) -> list[dict]:
    """Write one GeoParquet per region to a folder or to s3://bucket/prefix; returns what was written.

    layer is a GeoDataFrame or a path: GeoParquet and OGR formats are streamed chunk_rows rows at a
    time; CSV is read whole (core.io.files.read_layer). Each entry is
    {"region": value or None, "name": stem, "path" (local) or "key" (S3), "features": n}.
    """
    target = Destination(destination, s3)
    scratch = Path(tempfile.mkdtemp(prefix="wrok_split_"))
    try:
        if isinstance(layer, gpd.GeoDataFrame):
            return split_frame(layer, region_field, target, scratch)
        path = Path(layer)
        if path.suffix.lower() == ".csv":
            return split_frame(read_layer(path), region_field, target, scratch)
        return stream_split(path, region_field, target, scratch, chunk_rows)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
