"""Run the engine on LayerArrays with settings shared by the algorithm and the write-back task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from qgis.core import QgsCoordinateReferenceSystem, QgsProcessingException

# core.params needs no numpy, scikit-learn or Optuna, so the choices show even when those are missing.
from core.frame.fields import DEFAULT_ID_FIELD
from core.params import INVALID_GEOMETRY_CHOICES

# Numeric fields picked as the weight when the user has not chosen one, best first.
WEIGHT_FIELD_NAMES = ("population", "pop", "weight", "households", "count")


def preferred_weight_field(fields) -> Optional[str]:
    """The numeric field whose name matches WEIGHT_FIELD_NAMES best: exact name first, then a name
    that starts with one of them (pop_2020, households_total); None when nothing fits."""
    numeric = [field.name() for field in fields if field.isNumeric()]
    for matches in (lambda name, wanted: name == wanted, lambda name, wanted: name.startswith(wanted)):
        for wanted in WEIGHT_FIELD_NAMES:
            found = next((name for name in numeric if matches(name.lower(), wanted)), None)
            if found:
                return found
    return None


@dataclass
class ClusterSettings:
    """One run's settings: the engine parameters by their public names (core.registry; None = left empty, absent =
    the default), and what the QGIS side needs to read and write the layer."""

    values: dict = field(default_factory=dict)
    weight_field: Optional[str] = None
    measuring_crs: QgsCoordinateReferenceSystem = field(default_factory=QgsCoordinateReferenceSystem)
    id_field: str = DEFAULT_ID_FIELD
    selected_only: bool = False
    invalid_geometries: str = INVALID_GEOMETRY_CHOICES[0]
    strata: Optional[object] = None  # core.frame.strata.StrataOptions: cluster each stratum on its own
    previous_field: Optional[str] = None  # a previous run's cluster IDs: update that frame (core.engine.update)

    @classmethod
    def suggested(cls, values=None, **settings) -> "ClusterSettings":
        """The settings a dialog starts from (240 people, 1 km, a 300 cap), with these values over them."""
        from core.registry import ENGINE_PARAMETERS, suggested_values

        start = suggested_values([entry.name for entry in ENGINE_PARAMETERS])
        return cls({**start, **(values or {})}, **settings)

    def strata_columns(self) -> tuple:
        """The fields read besides the weight (stratum keys, per-stratum settings, the previous cluster field)."""
        previous = (self.previous_field,) if self.previous_field else ()
        if self.strata is None:
            return previous
        return tuple(dict.fromkeys([*self.strata.fields, *self.strata.setting_fields.values(), *previous]))

    def engine_params(self):
        from core import ClusteringInputError
        from core.registry import engine_params

        try:
            return engine_params(self.values)
        except ClusteringInputError as exc:
            raise QgsProcessingException(f"Invalid parameters: {exc}.") from None


def run_engine(arrays, settings: ClusterSettings, progress, is_cancelled):
    """The engine's result for LayerArrays; its input errors become QgsProcessingException with its message."""
    from core import ClusteringInputError, cluster

    params = settings.engine_params()
    previous = None
    if settings.previous_field:
        if settings.strata is not None:
            raise QgsProcessingException("Updating a previous frame does not combine with strata yet: update each "
                                         "stratum's layer on its own.")
        previous = [None if value is None or (hasattr(value, "isNull") and value.isNull()) else value
                    for value in arrays.column(settings.previous_field)]  # QGIS NULLs: features new since
    try:
        if settings.strata is not None:
            result = _run_strata(arrays, settings.strata, params, progress, is_cancelled)
        else:
            result = cluster(arrays.x, arrays.y, arrays.weights, params, vertex_xy=arrays.vertex_xy,
                             vertex_owner=arrays.vertex_owner, progress=progress, is_cancelled=is_cancelled,
                             previous_ids=previous)
    except ClusteringInputError as exc:
        raise QgsProcessingException(f"Cannot cluster this input: {exc}.") from None
    if arrays.lonlat is not None:  # wider than one UTM zone: each radius measured around its cluster's centre
        from core.frame.crs import remeasure_radii_locally

        remeasure_radii_locally(result, arrays.lonlat[:, 0], arrays.lonlat[:, 1], arrays.lonlat_owner)
    return result


def _run_strata(arrays, strata, params, progress, is_cancelled):
    from core.frame.strata import cluster_strata

    keys, by_stratum, warnings = strata.plan(arrays.column, params)
    result = cluster_strata(arrays.x, arrays.y, arrays.weights, keys, by_stratum, params, vertex_xy=arrays.vertex_xy,
                            vertex_owner=arrays.vertex_owner, n_jobs=strata.n_jobs, progress=progress,
                            is_cancelled=is_cancelled)
    result.warnings = warnings
    return result
