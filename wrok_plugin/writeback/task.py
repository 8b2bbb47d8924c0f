"""Cluster a layer in a QgsTask and write the cluster fields back through its edit buffer."""

from __future__ import annotations

from qgis.core import (
    QgsFeatureRequest,
    QgsMessageLog,
    QgsProcessingException,
    QgsProject,
    QgsTask,
    QgsVectorLayerFeatureSource,
)

from ..qgis_io.clustering import ClusterSettings, run_engine
from ..qgis_io.layer_arrays import layer_arrays
from . import in_place

READ_SHARE = 0.3  # of the task's progress bar; the engine gets the rest


class ClusterLayerTask(QgsTask):
    """run() works on a snapshot in the background; finished() edits the layer on the main thread.

    Errors are caught in run() and reported in finished(), which leaves the layer untouched
    unless the run succeeded, so a cancelled or failed task changes nothing.
    """

    def __init__(self, layer, settings: ClusterSettings, on_message=None):
        super().__init__(f"wrok: clustering {layer.name()}", QgsTask.Flag.CanCancel)
        self.layer = layer  # touched only in finished(), on the main thread
        self.settings = settings
        self.on_message = on_message or (lambda level, text: None)
        # A feature source is a thread-safe snapshot of the layer for run().
        self.source = QgsVectorLayerFeatureSource(layer)
        self.request = QgsFeatureRequest()
        self.count = layer.featureCount()
        if settings.selected_only:
            self.request.setFilterFids(layer.selectedFeatureIds())
            self.count = layer.selectedFeatureCount()
        self.fields, self.wkb_type, self.crs = layer.fields(), layer.wkbType(), layer.crs()
        self.name_limit = in_place.name_limit(layer)
        # PostGIS layers are written in one database transaction, not through the edit buffer.
        self.postgis = layer.providerType() == "postgres"
        self.field_names = None
        self.transform_context = QgsProject.instance().transformContext()
        self.feature_ids = None
        self.result = None
        self.error = None
        self.cancelled = False
        self.updated = 0

    def run(self):
        from core import ClusteringCancelled

        try:
            # Field clashes are found before any work; the layer itself is not touched here.
            self.field_names = in_place.planned_names(self.fields, self.settings.id_field, self.name_limit)
            if self.postgis:  # the database's refusals come before any work too
                from .postgis import check_postgis_layer

                check_postgis_layer(self.layer, self.field_names)
            arrays = layer_arrays(
                self.source.getFeatures(self.request), self.count, self.fields, self.wkb_type, self.crs,
                self.settings.weight_field, self.settings.measuring_crs, self.transform_context,
                progress=lambda fraction: self.setProgress(100 * READ_SHARE * fraction), is_cancelled=self.isCanceled,
                columns=self.settings.strata_columns())
            self.result = run_engine(
                arrays, self.settings,
                lambda fraction, _message: self.setProgress(100 * (READ_SHARE + (1 - READ_SHARE) * fraction)),
                self.isCanceled)
            self.feature_ids = arrays.feature_ids
            return True
        except ClusteringCancelled:
            # A cancel is not a failure: finishing normally keeps QGIS from announcing "Task failed".
            self.cancelled = True
            return True
        except Exception as exc:  # reported on the main thread in finished()
            self.error = exc
            return False

    def finished(self, succeeded):
        name = self.layer.name()
        if self.cancelled or self.isCanceled():
            self.on_message("info", f"Cancelled: clustering {name} stopped; the layer is unchanged.")
            return
        if not succeeded:
            error = self.error or RuntimeError("the task stopped without saying why")
            message = str(error) if isinstance(error, QgsProcessingException) else repr(error)
            QgsMessageLog.logMessage(f"{name}: {message}", "wrok")
            self.on_message("error", f"Could not cluster {name}: {message}")
            return
        try:
            if self.postgis:
                self.updated = in_place.write_through_provider(self.layer, self.field_names, self.feature_ids,
                                                               self.result)
            else:
                self.updated = in_place.write_through_edit_buffer(self.layer, self.field_names, self.feature_ids,
                                                                  self.result)
        except Exception as exc:
            self.error = exc
            self.on_message("error", f"Could not write the cluster fields to {name}: {exc}")
            return
        stats = self.result.stats()
        self.on_message(
            "success", f"{stats['clusters']} clusters written to {name} ({self.updated} features, "
            f"median weight {stats['median_weight']:.0f}, median radius {stats['median_radius_m']:.0f} m). "
            + ("Written to the database in one transaction (no undo)." if self.postgis else
               "The changes are in the edit buffer: save or undo them."))
