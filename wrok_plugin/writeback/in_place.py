"""Writing the cluster fields into the user's own layer without ever losing a value.

- Before any work: core.frame.fields' rule decides the field names (an existing field of another
  kind is refused, Shapefile's 10-character names are used as stored).
- Fields are declared with the provider's own native types (PostgreSQL: text, double precision,
  integer; OGR: string, double, integer); new outputs get field types (compat.FieldType) without a type name.
- After writing, every feature is read back and compared; the reported count comes from that check.
- A GeoPackage is updated in one SQLite transaction (geopackage_update.py), rolled back on any
  failure. Other file sources are copied aside first and copied back, byte for byte, on failure.
  Databases get their overwritten values and new fields undone instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from qgis.core import QgsFeatureRequest, QgsField, QgsFields, QgsProcessingException, QgsVectorDataProvider

from core.frame.fields import (
    INTEGER,
    OTHER,
    REAL,
    SHAPEFILE_NAME_LENGTH,
    TEXT,
    cluster_field_kinds,
    plan_cluster_fields,
)

from ..compat import FieldType

FIELD_TYPE_OF_KIND = {TEXT: FieldType.String, REAL: FieldType.Double, INTEGER: FieldType.Int}
_KIND_OF_FIELD_TYPE = {FieldType.String: TEXT, FieldType.Double: REAL, FieldType.Int: INTEGER,
                       FieldType.LongLong: INTEGER, FieldType.UInt: INTEGER, FieldType.ULongLong: INTEGER}
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix")
_SQLITE_SUFFIXES = (".gpkg", ".sqlite", ".db", ".gpkx")
VERIFY_CANCEL_EVERY = 1000
ID_LENGTH = 254  # stratum keys make IDs long; a Shapefile output would otherwise cut them


def field_kind(field: QgsField) -> str:
    return _KIND_OF_FIELD_TYPE.get(field.type(), OTHER)


# Native type names to prefer per kind: PostgreSQL's first, then OGR's and the memory provider's.
_PREFERRED_TYPE_NAMES = {TEXT: ("text", "string", "varchar"), REAL: ("double precision", "float8", "double", "real"),
                         INTEGER: ("integer", "int4", "int")}


def new_field(name: str, kind: str, provider=None, length: int = 0) -> QgsField:
    """A field the target accepts.

    Without a provider (new outputs): type only, no type name, and the writer picks its type.
    With one (in-place updates): the provider's own native type, since some providers (PostgreSQL)
    put the type name straight into ALTER TABLE: text, double precision, integer there.
    """
    field_type = FIELD_TYPE_OF_KIND[kind]
    if provider is None:
        return QgsField(name, field_type, len=length)
    natives = [native for native in provider.nativeTypes() if native.mType == field_type]
    ranked = sorted(natives, key=lambda native: next(
        (rank for rank, name_ in enumerate(_PREFERRED_TYPE_NAMES[kind]) if native.mTypeName.lower() == name_),
        len(_PREFERRED_TYPE_NAMES[kind])))
    if not ranked:
        return QgsField(name, field_type)
    native = ranked[0]
    # A type with one fixed length (PostgreSQL's text: -1) gets it, so the edit buffer's commit
    # finds the field it added; others leave length and precision to the provider.
    length = native.mMinLen if native.mMinLen == native.mMaxLen else 0
    precision = max(native.mMinPrec, 0) if native.mMinPrec == native.mMaxPrec else 0
    return QgsField(name, field_type, native.mTypeName, length, precision)


def cluster_fields(names) -> QgsFields:
    fields = QgsFields()
    for name, kind in zip(names, (TEXT, REAL, INTEGER)):
        fields.append(new_field(name, kind, length=ID_LENGTH if kind == TEXT else 0))
    return fields


def name_limit(layer):
    provider = layer.dataProvider()
    if provider.name() == "ogr" and provider.storageType() == "ESRI Shapefile":
        return SHAPEFILE_NAME_LENGTH
    return None


def planned_names(fields: QgsFields, id_field: str, max_name_length=None):
    """The three names to write to (core.frame.fields' rule); QgsProcessingException naming any clash."""
    from core import ClusteringInputError

    try:
        return plan_cluster_fields([(f.name(), field_kind(f)) for f in fields], id_field, max_name_length)
    except ClusteringInputError as exc:
        raise QgsProcessingException(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None


def check_layer_can_be_updated(layer, id_field: str):
    """Everything that can be checked before clustering; returns the planned field names."""
    from .postgis import check_postgis_layer, is_postgis

    if is_postgis(layer):  # the database names the reason: a view, no primary key, rights, column types
        names = planned_names(layer.fields(), id_field, name_limit(layer))
        check_postgis_layer(layer, names)
        return names
    provider = layer.dataProvider()
    needed = QgsVectorDataProvider.Capability.ChangeAttributeValues | QgsVectorDataProvider.Capability.AddAttributes
    if (provider.capabilities() & needed) != needed:
        raise QgsProcessingException(
            f"Layer '{layer.name()}' ({provider.name()}) cannot store new attribute values. Write to a new "
            "output layer instead, or convert the layer to a GeoPackage first."
        )
    return planned_names(layer.fields(), id_field, name_limit(layer))


def check_values_fit(layer, names, result) -> None:
    """An existing text field too narrow for the IDs would cut them: refuse before writing."""
    index = layer.fields().lookupField(names[0])
    if index < 0:
        return
    width = layer.fields().at(index).length()
    longest = max((len(str(name)) for name in result.clusters["cluster_id"]), default=0)
    if 0 < width < longest:
        raise QgsProcessingException(
            f"Field '{names[0]}' of layer '{layer.name()}' holds at most {width} characters but cluster IDs "
            f"need {longest}. Choose another cluster ID field name or write to a new output; the layer is unchanged.")


def cluster_values(result, i: int):
    """The three cluster values of feature i as plain Python types."""
    return [str(result.cluster_id[i]), float(result.cluster_weight[i]), int(result.cluster_pass[i])]


def _dataset_files(layer):
    """The files holding a file-based layer (to copy aside), or [] for databases and services."""
    if layer.dataProvider().name() != "ogr":
        return []
    path = Path(layer.source().split("|")[0])
    if not path.is_file() or path.suffix.lower() in _SQLITE_SUFFIXES:
        # Bytes copied back under SQLite's WAL would be overwritten by its next checkpoint:
        # SQLite sources are rolled back value by value instead (LogicalUndo).
        return []
    if path.suffix.lower() == ".shp":
        return [p for p in (path.with_suffix(s) for s in _SHAPEFILE_PARTS) if p.exists()]
    return [path]


class Snapshot:
    """Byte copies of a layer's files, put back on failure."""

    def __init__(self, layer):
        self.files = _dataset_files(layer)
        self.folder = tempfile.mkdtemp(prefix="wrok-backup-") if self.files else None
        for path in self.files:
            shutil.copy2(path, os.path.join(self.folder, path.name))

    def restore(self):
        for path in self.files:
            shutil.copyfile(os.path.join(self.folder, path.name), path)  # same inode: open handles see it

    def discard(self):
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


class LogicalUndo:
    """The values the update will overwrite, to write back (and new fields to drop) on failure."""

    def __init__(self, layer, names, feature_ids):
        self.layer = layer
        self.existing = [name for name in names if layer.fields().lookupField(name) >= 0]
        indices = [layer.fields().lookupField(name) for name in self.existing]
        self.previous = {}
        if indices:
            request = QgsFeatureRequest().setFilterFids(list(feature_ids)).setSubsetOfAttributes(indices)
            request.setFlags(QgsFeatureRequest.Flag.NoGeometry)
            self.previous = {f.id(): {i: f.attribute(i) for i in indices} for f in layer.getFeatures(request)}
        self.names = names

    def undo(self) -> bool:
        provider = self.layer.dataProvider()
        self.layer.updateFields()
        added = [self.layer.fields().lookupField(name) for name in self.names if name not in self.existing]
        added = [index for index in added if index >= 0]
        ok = not self.previous or provider.changeAttributeValues(self.previous)
        ok = (not added or provider.deleteAttributes(added)) and ok
        self.layer.updateFields()
        return bool(ok)


def _close_enough(stored, expected) -> bool:
    if isinstance(expected, float):
        try:
            return abs(float(stored) - expected) <= 1e-9 * max(1.0, abs(expected))
        except (TypeError, ValueError):
            return False
    if isinstance(expected, int):
        try:
            return int(stored) == expected
        except (TypeError, ValueError):
            return False
    return stored == expected


def verify(layer, names, feature_ids, result, is_cancelled) -> int:
    """Read every updated feature back; the count of features holding exactly the computed values."""
    from core import ClusteringCancelled

    indices = [layer.fields().lookupField(name) for name in names]
    if min(indices) < 0:
        raise QgsProcessingException(f"Layer '{layer.name()}' does not show the fields {', '.join(names)} "
                                     "after writing them.")
    expected = {fid: i for i, fid in enumerate(feature_ids)}
    request = QgsFeatureRequest().setFilterFids(list(feature_ids)).setSubsetOfAttributes(indices)
    request.setFlags(QgsFeatureRequest.Flag.NoGeometry)
    good = 0
    for n, feature in enumerate(layer.getFeatures(request)):
        if n % VERIFY_CANCEL_EVERY == 0 and is_cancelled():
            raise ClusteringCancelled("cancelled while checking the written values")
        i = expected.get(feature.id())
        if i is not None and all(_close_enough(feature.attribute(k), v)
                                 for k, v in zip(indices, cluster_values(result, i))):
            good += 1
    if good != len(feature_ids):
        raise QgsProcessingException(
            f"Only {good} of {len(feature_ids)} features of '{layer.name()}' hold the computed cluster values "
            "after writing.")
    return good


def write_through_provider(layer, names, feature_ids, result, is_cancelled=lambda: False, progress_text=None) -> int:
    """Store the cluster fields in the layer's data source (headless, no undo); the verified count.

    Any failure, cancel included, puts the source back as it was.
    """
    from core import ClusteringCancelled

    from .geopackage import geopackage_table, update_geopackage

    check_values_fit(layer, names, result)
    from .postgis import is_postgis, show_new_fields, write_postgis

    if is_postgis(layer):  # one database transaction: any failure rolls everything back
        count = write_postgis(layer, names, feature_ids, result, is_cancelled)
        show_new_fields(layer)
        return count
    geopackage = geopackage_table(layer)
    if geopackage is not None:
        rows = [cluster_values(result, i) for i in range(len(feature_ids))]
        try:
            count = update_geopackage(*geopackage, names, list(cluster_field_kinds(names[0]).values()),
                                      feature_ids, rows, is_cancelled, progress_text)
        except (Exception, ClusteringCancelled) as exc:
            message = "Cancelled" if isinstance(exc, ClusteringCancelled) else str(exc).rstrip(".")
            raise QgsProcessingException(f"{message[0].upper()}{message[1:]}; the update was rolled back and "
                                         "the GeoPackage is unchanged.") from None
        layer.reload()
        return count
    provider = layer.dataProvider()
    snapshot = Snapshot(layer)
    undo = None if snapshot.files else LogicalUndo(layer, names, feature_ids)
    try:
        missing = [new_field(name, kind, provider)
                   for name, kind in zip(names, cluster_field_kinds(names[0]).values())
                   if layer.fields().lookupField(name) < 0]
        if missing and not provider.addAttributes(missing):
            raise QgsProcessingException(
                f"Could not add the field(s) {', '.join(f.name() for f in missing)} to layer '{layer.name()}': "
                f"{provider.lastError() or 'no reason given'}.")
        layer.updateFields()
        indices = [layer.fields().lookupField(name) for name in names]
        changes = {fid: dict(zip(indices, cluster_values(result, i))) for i, fid in enumerate(feature_ids)}
        if not provider.changeAttributeValues(changes):
            raise QgsProcessingException(
                f"Layer '{layer.name()}' refused the cluster values: {provider.lastError() or 'no reason given'}.")
        if progress_text is not None:
            progress_text("Checking the written values")
        return verify(layer, names, feature_ids, result, is_cancelled)
    except (Exception, ClusteringCancelled) as exc:
        if snapshot.files:
            snapshot.restore()
            layer.reload()
            note = "the layer's files were put back as they were"
        elif undo.undo():
            note = "the layer's fields and values were put back as they were"
        else:
            note = f"putting the layer back failed too ({provider.lastError() or 'no reason given'}): check it"
        message = "Cancelled" if isinstance(exc, ClusteringCancelled) else str(exc).rstrip(".")
        raise QgsProcessingException(f"{message}; {note}.") from None
    finally:
        snapshot.discard()


def write_through_edit_buffer(layer, names, feature_ids, result) -> int:
    """Put the cluster fields in the layer's edit buffer as one undoable command; the verified count."""
    check_values_fit(layer, names, result)
    if not layer.isEditable() and not layer.startEditing():
        raise QgsProcessingException(f"Layer '{layer.name()}' cannot be edited (read-only source?).")
    layer.beginEditCommand(f"wrok: set {', '.join(names)}")
    try:
        for name, kind in zip(names, (TEXT, REAL, INTEGER)):
            field = new_field(name, kind, layer.dataProvider())
            if layer.fields().lookupField(name) < 0 and not layer.addAttribute(field):
                raise QgsProcessingException(f"Could not add the field {name} to layer '{layer.name()}'.")
        indices = [layer.fields().lookupField(name) for name in names]
        for i, fid in enumerate(feature_ids):
            if not layer.changeAttributeValues(fid, dict(zip(indices, cluster_values(result, i)))):
                raise QgsProcessingException(f"Layer '{layer.name()}' refused the cluster values of feature {fid}.")
        count = verify(layer, names, feature_ids, result, lambda: False)
    except Exception:
        layer.destroyEditCommand()
        raise
    layer.endEditCommand()
    return count
