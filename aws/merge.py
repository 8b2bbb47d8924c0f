"""Merge downloaded region files into one layer, one region at a time (memory follows the largest region).

GeoParquet output goes through one pyarrow ParquetWriter; any other format (.gpkg, .fgb, .shp, ...)
is appended region by region with pyogrio. Regions whose columns differ are aligned on the union of
their columns (missing values stay empty), and regions in another CRS are reprojected to the first's.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
from geopandas.io.arrow import _geopandas_to_arrow

SOURCE_KEY = "source_key"


def union_schema(paths) -> pa.Schema:
    """Every column of the region files in first-seen order, each with a type all of them fit, source_key last."""
    schemas = [pq.read_schema(path).remove_metadata() for path in paths]
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    names: list = []
    for schema in schemas:
        names += [name for name in schema.names if name not in names and name != SOURCE_KEY]
    return pa.schema([unified.field(name) for name in names] + [pa.field(SOURCE_KEY, pa.string())])


def region_frame(key: str, path, columns: list, crs) -> gpd.GeoDataFrame:
    frame = gpd.read_parquet(path)
    frame[SOURCE_KEY] = key
    if crs is not None and frame.crs is not None and frame.crs != crs:
        frame = frame.to_crs(crs)
    for name in columns:
        if name not in frame.columns:
            frame[name] = None  # pyogrio would write pd.NA as the text "<NA>"
    return frame[columns]


def merged_geo_metadata(table: pa.Table) -> bytes:
    """The first region's GeoParquet metadata without what describes only that region (bbox, types)."""
    geo = json.loads(table.schema.metadata[b"geo"])
    for column in geo["columns"].values():
        column.pop("bbox", None)
        column["geometry_types"] = []
    return json.dumps(geo).encode()


def merge_region_files(downloaded, target, layer: str = "features") -> int:
    """Write [(key, region GeoParquet path)] into target; returns the rows written (0: nothing written)."""
    downloaded = list(downloaded)
    if not downloaded:
        return 0
    target = Path(target)
    union = union_schema(path for _, path in downloaded)
    columns = union.names
    crs = None  # the first region's CRS, once read
    rows, writer, schema = 0, None, None
    try:
        for index, (key, path) in enumerate(downloaded):
            frame = region_frame(key, path, columns, crs)
            crs = crs or frame.crs
            if target.suffix.lower() in (".parquet", ".geoparquet"):
                table = _geopandas_to_arrow(frame, index=False)
                if writer is None:
                    schema = union.with_metadata({b"geo": merged_geo_metadata(table)})
                    writer = pq.ParquetWriter(target, schema)
                writer.write_table(aligned(table, schema))
            else:
                pyogrio.write_dataframe(frame, target, layer=layer, append=index > 0)
            rows += len(frame)
    finally:
        if writer is not None:
            writer.close()
    return rows


def aligned(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """table with schema's types (an all-empty column of one region is cast to the others' type)."""
    arrays = []
    for field in schema:
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise ValueError(f"column {field.name!r} is {column.type} in one region and {field.type} in "
                                 "another; fetch to .gpkg, which converts, or align the inputs") from None
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)
