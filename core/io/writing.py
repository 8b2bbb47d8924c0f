"""Writes that cannot destroy: targets checked before any work, files written aside then moved in.

Every output goes to a temporary file in the target folder, is read back and counted, and only
then replaces the target with os.replace (atomic on one file system). A GeoPackage target is
first copied (SQLite's backup API, consistent even with a live WAL) so its other layers survive;
only the named layer is replaced. A failure leaves the user's files as they were.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

from ..frame.fields import SHAPEFILE_NAME_LENGTH
from ..params import ClusteringInputError

OGR_DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
               ".fgb": "FlatGeobuf"}
TABLE_FORMATS = (".parquet", ".geoparquet", ".csv")
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd")


@dataclass(frozen=True)
class Target:
    path: Path
    layer: Optional[str] = None  # the layer inside a GeoPackage

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    @property
    def is_geopackage(self) -> bool:
        return self.suffix == ".gpkg"


def check_target(path, layer: Optional[str] = None, option: str = "output") -> Target:
    """A writable target in a known format, or an error naming the problem; nothing is written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS and suffix not in OGR_DRIVERS:
        raise ClusteringInputError(
            f"unknown {option} format {suffix!r}: use .parquet, .gpkg, .shp, .geojson, .fgb or .csv")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ClusteringInputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ClusteringInputError(f"cannot write {path}: folder {folder} is not writable")
    if path.is_dir():
        raise ClusteringInputError(f"cannot write {path}: it is a folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise ClusteringInputError(f"cannot write {path}: the file is read-only")
    if layer is not None and suffix != ".gpkg":
        raise ClusteringInputError(f"a layer name for the {option} needs a GeoPackage (.gpkg), not {suffix}")
    return Target(path, (layer or path.stem) if suffix == ".gpkg" else None)


def same_file(a: Path, b: Path) -> bool:
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_targets_apart(input_path, input_layer: Optional[str], output: Target, summary: Optional[Target],
                        overwrite_input: bool = False) -> None:
    """Refuse an output or summary that would replace the input or each other."""
    if summary is not None and same_file(output.path, summary.path) and output.layer == summary.layer:
        raise ClusteringInputError(
            f"the output and --summary are the same {'layer' if output.is_geopackage else 'file'} "
            f"({output.path.name}); give the summary its own file")
    for target, option in ((output, "output"), (summary, "--summary")):
        if target is None or not same_file(target.path, input_path):
            continue
        if target.is_geopackage and target.layer != input_layer:
            continue  # a new layer next to the input's: the input layer stays as it is
        if option == "output" and overwrite_input:
            continue
        way_out = "choose another file"
        if target.is_geopackage:
            way_out += " or another layer name (--output-layer)" if option == "output" else ""
        if option == "output":
            way_out += ", or pass --overwrite-input to replace the input with the clustered layer"
        raise ClusteringInputError(
            f"the {option} {target.path.name} is the input{'' if input_layer is None else f' layer {input_layer!r}'}; "
            f"writing it would replace your data: {way_out}")


def check_column_names(columns: Iterable[str], target: Target) -> None:
    """Column names the target format can store without renaming or merging any of them."""
    limit = SHAPEFILE_NAME_LENGTH if target.suffix == ".shp" else None
    seen = {}
    for name in columns:
        stored = (name[:limit] if limit else name).lower()
        if stored in seen:
            why = (f"Shapefile keeps only {limit} characters of a field name" if limit
                   else "field names that differ only in case are one field in this format")
            raise ClusteringInputError(
                f"columns {seen[stored]!r} and {name!r} would become one field in {target.path.name} ({why}); "
                "rename one of them or write another format (.gpkg, .parquet)")
        seen[stored] = name


def with_stored_names(frame, target: Target):
    """The frame with its columns named as the target stores them (Shapefile: 10 characters)."""
    check_column_names([c for c in frame.columns if c != frame.geometry.name], target)
    if target.suffix != ".shp":
        return frame
    return frame.rename(columns={c: c[:SHAPEFILE_NAME_LENGTH] for c in frame.columns if c != frame.geometry.name})


def write_frame(frame, target: Target, style=None) -> None:
    """Write a (Geo)DataFrame to target without ever leaving it half-written.

    style(geometry kind) -> QML: a GeoPackage target also gets it as the layer's default style
    (core.io.layer_style), written into the temporary file before it moves into place.
    """
    frame = with_stored_names(frame, target)
    existed = target.path.exists()
    try:
        if target.suffix == ".shp":
            _write_shapefile(frame, target)
        else:
            _write_single_file(frame, target, style)
    except ClusteringInputError:
        raise
    except Exception as exc:  # the writer's own message says what went wrong
        kept = f"; {target.path.name} is unchanged" if existed else ""
        raise ClusteringInputError(f"cannot write {target.path.name}: {exc}{kept}") from None


def _temporary_path(target: Target) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{target.path.stem}.", suffix=f".wrok-tmp{target.suffix}",
                                    dir=target.path.parent)
    os.close(handle)
    os.unlink(name)  # the writers want to create the file themselves
    return Path(name)


def _write_single_file(frame, target: Target, style=None) -> None:
    temporary = _temporary_path(target)
    try:
        layers_before: List[str] = []
        if target.is_geopackage and target.path.exists():
            layers_before = _copy_geopackage(target.path, temporary)
        _write_to(frame, temporary, target)
        if style is not None and target.is_geopackage and _has_geometry(frame):
            from .layer_style import geometry_kind, store_default_style

            kind = geometry_kind(frame.geometry.dropna().geom_type.iloc[0])
            store_default_style(temporary, target.layer or target.path.stem, style(kind), "written by wrok")
        _check_written(temporary, target, len(frame), layers_before)
        os.replace(temporary, target.path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _has_geometry(frame) -> bool:
    try:
        return bool(frame.geometry.notna().any())
    except AttributeError:  # a plain table
        return False


def _copy_geopackage(source: Path, copy: Path) -> List[str]:
    import pyogrio

    layers = [str(name) for name in pyogrio.list_layers(source)[:, 0]]
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writer = sqlite3.connect(copy)
    try:
        reader.backup(writer)
    finally:
        writer.close()
        reader.close()
    return layers


def _write_to(frame, path: Path, target: Target) -> None:
    import pandas as pd

    suffix = target.suffix
    if suffix in (".parquet", ".geoparquet"):
        frame.to_parquet(path, index=False)
    elif suffix == ".csv":
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        table["wkt"] = frame.geometry.to_wkt()
        table.to_csv(path, index=False)
    else:
        options = {}
        if suffix == ".fgb":
            # A FlatGeobuf spatial index stores rows in Hilbert order; without it rows keep input order.
            options["layer_options"] = {"SPATIAL_INDEX": "NO"}
        frame.to_file(path, driver=OGR_DRIVERS[suffix], layer=target.layer or target.path.stem, **options)


def _check_written(path: Path, target: Target, rows: int, layers_before: List[str]) -> None:
    """Read the written file back: every row there, every other layer still there."""
    suffix = target.suffix
    if suffix in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq

        written = pq.read_metadata(path).num_rows
    elif suffix == ".csv":
        import pandas as pd

        written = len(pd.read_csv(path, usecols=[0]))
    else:
        import pyogrio

        written = pyogrio.read_info(path, layer=target.layer or target.path.stem)["features"]
        if layers_before:
            after = {str(name) for name in pyogrio.list_layers(path)[:, 0]}
            lost = [name for name in layers_before if name not in after]
            if lost:
                raise ClusteringInputError(f"writing {target.path.name} would lose layer(s) {', '.join(lost)}; "
                                           "nothing was written")
    if written != rows:
        raise ClusteringInputError(f"{target.path.name}: {written} rows came back of {rows} written; "
                                   "nothing was written")


def _write_shapefile(frame, target: Target) -> None:
    """A shapefile is several files: write them all aside, check, then move each into place."""
    folder = Path(tempfile.mkdtemp(prefix=f".{target.path.stem}.", suffix=".wrok-tmp", dir=target.path.parent))
    try:
        written = folder / target.path.name
        _write_to(frame, written, target)
        _check_written(written, Target(written), len(frame), [])
        produced = {part.suffix.lower() for part in folder.iterdir()}
        for part in folder.iterdir():
            os.replace(part, target.path.with_suffix(part.suffix))
        for suffix in SHAPEFILE_PARTS:  # an old index or code page file would not match the new data
            stale = target.path.with_suffix(suffix)
            if suffix not in produced and stale.exists():
                stale.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
