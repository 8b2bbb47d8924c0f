"""wrok:tunedclustering - the engine as a Processing algorithm (toolbox, modeler, qgis_process)."""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsVectorLayer,
    QgsWkbTypes,
)

from core.frame.fields import DEFAULT_ID_FIELD
from core.params import INVALID_GEOMETRY_CHOICES, MAX_WHOLE_NUMBER
from core.registry import PARAMETERS

from ..compat import mark_advanced
from ..qgis_io.clustering import ClusterSettings
from . import frame_parameters as frame
from .base import WrokClusteringAlgorithm
from .errors import releases_locals_on_error
from .help_text import SHORT_HELP
from .parameters import add_parameters, add_sink_alias, given_sinks, read_value, read_values

MAIN_PARAMETERS = ("target_weight", "target_radius", "weight_importance", "max_weight", "max_passes")
ADVANCED_PARAMETERS = ("min_weight", "initial_trials", "subsequent_trials", "reassignment_ratio", "strategy", "seed",
                       "jobs")
FRAME_UPDATE = ("previous_field",)  # wrok:tunedclustering only: a field of its input
ENGINE_NAMES = MAIN_PARAMETERS + frame.CAP_PARAMETERS + ADVANCED_PARAMETERS


def jobs_value(values) -> int:
    """JOBS, checked (strata threads are set before the engine's own check)."""
    from core import ClusteringInputError
    from core.registry import value_of

    try:
        return value_of("jobs", values.get("jobs"))
    except ClusteringInputError as exc:
        raise QgsProcessingException(f"Invalid parameters: {exc}.") from None

Number = QgsProcessingParameterNumber


class TunedClusteringAlgorithm(WrokClusteringAlgorithm):
    INPUT = "INPUT"
    WEIGHT_FIELD = "WEIGHT_FIELD"
    H3_FIELD = "H3_FIELD"
    INVALID_GEOMETRIES = "INVALID_GEOMETRIES"
    UPDATE_INPUT = "UPDATE_INPUT"
    MEASURING_CRS = "MEASURING_CRS"
    CLUSTER_ID_FIELD = "CLUSTER_ID_FIELD"
    OUTPUT = "OUTPUT"
    OUTLINES = "OUTLINES"
    CLUSTERS = "CLUSTERS"  # OUTLINES' id before 0.2 (QGIS's k-means uses CLUSTERS for the count), still written
    REPORT = "REPORT"

    def __init__(self):
        super().__init__()
        self._update_target = None  # (layer id, source, provider) when updating in place

    def name(self):
        return "tunedclustering"

    def displayName(self):
        return "Tuned weight/radius clustering"

    def tags(self):
        return ["cluster", "sampling", "psu", "survey", "population", "weight", "radius", "kmeans"]

    def shortHelpString(self):
        return SHORT_HELP

    def createInstance(self):
        return TunedClusteringAlgorithm()

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.INPUT, "Input layer (points, lines or polygons; a table with an H3 field)",
            [QgsProcessing.SourceType.TypeVector]))
        weight = QgsProcessingParameterField(
            self.WEIGHT_FIELD, "Weight field (empty: every feature weighs 1)", parentLayerParameterName=self.INPUT,
            type=QgsProcessingParameterField.DataType.Numeric, optional=True)
        if Qgis.QGIS_VERSION_INT < 40000:  # the dialog preselects population, pop, weight, households or count
            plugin_package = __package__.rsplit(".", 1)[0]
            weight.setMetadata({"widget_wrapper": {"class": f"{plugin_package}.gui.weight_widget.WeightFieldWrapper"}})
        self.addParameter(weight)
        self.addParameter(QgsProcessingParameterField(
            self.H3_FIELD, "H3 cell field (each row one H3 cell; empty: use the layer's geometry)",
            parentLayerParameterName=self.INPUT, type=QgsProcessingParameterField.DataType.Any, optional=True))
        add_parameters(self, MAIN_PARAMETERS)
        frame.add_cap_parameters(self)
        frame.add_strata_parameters(self, self.INPUT)
        self.addParameter(QgsProcessingParameterBoolean(
            self.UPDATE_INPUT, "Update the input layer in place (write the cluster fields into its data source)",
            False))
        add_parameters(self, ADVANCED_PARAMETERS + FRAME_UPDATE)
        advanced = [
            QgsProcessingParameterEnum(self.INVALID_GEOMETRIES, "Invalid geometries (self-intersecting polygons)",
                                       options=["repair them for measuring (makeValid)", "stop with an error"],
                                       defaultValue=0),
            QgsProcessingParameterCrs(self.MEASURING_CRS, "Measuring CRS in metres (empty: automatic; for a layer "
                                      "without CRS: the CRS its coordinates are in)", optional=True),
            QgsProcessingParameterString(self.CLUSTER_ID_FIELD, "Cluster ID field name", DEFAULT_ID_FIELD),
        ]
        for parameter in advanced:
            mark_advanced(parameter)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, "Clustered features", QgsProcessing.SourceType.TypeVectorAnyGeometry, optional=True,
            createByDefault=True))
        outlines = QgsProcessingParameterFeatureSink(
            self.OUTLINES, "Cluster outlines", QgsProcessing.SourceType.TypeVectorPolygon, optional=True,
            createByDefault=True)
        self.addParameter(outlines)
        add_sink_alias(self, outlines, self.CLUSTERS)
        frame.add_centroids_sink(self)
        self.addOutput(QgsProcessingOutputNumber("CLUSTERS_OVER_MAX_RADIUS",
                                                 "Clusters wider than the maximum radius (single features)"))
        self.addParameter(QgsProcessingParameterFileDestination(  # .html: the Results Viewer lists it
            self.REPORT, "Report (HTML)", "HTML files (*.html)", optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("CLUSTER_COUNT", "Number of clusters"))
        self.addOutput(QgsProcessingOutputNumber("CLUSTERS_OVER_MAX", "Clusters over the maximum weight"))
        self.addOutput(QgsProcessingOutputNumber("MEDIAN_WEIGHT", "Median cluster weight"))
        self.addOutput(QgsProcessingOutputNumber("MEDIAN_RADIUS_M", "Median cluster radius (metres)"))
        self.addOutput(QgsProcessingOutputNumber("SCORE", "Score (lower is better)"))
        self.addOutput(QgsProcessingOutputNumber("UPDATED_FEATURES", "Features updated in the input layer"))
        self.addOutput(QgsProcessingOutputString("MEASURING_CRS", "CRS the radii were measured in"))
        self.addOutput(QgsProcessingOutputNumber("H3_CONNECTED_SHARE",
                                                 "Share of clusters whose H3 cells are connected (H3 input)"))

    def settings(self, parameters, context) -> ClusterSettings:
        from core import ClusteringInputError
        from core.frame.fields import check_id_field_name

        try:
            id_field = check_id_field_name(self.parameterAsString(parameters, self.CLUSTER_ID_FIELD, context))
        except ClusteringInputError as exc:
            raise QgsProcessingException(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None
        values = read_values(self, parameters, context, ENGINE_NAMES)
        return ClusterSettings(
            values,
            weight_field=self.parameterAsString(parameters, self.WEIGHT_FIELD, context) or None,
            measuring_crs=self.parameterAsCrs(parameters, self.MEASURING_CRS, context),
            id_field=id_field, strata=frame.strata_options(self, parameters, context, jobs_value(values)),
            previous_field=read_value(self, parameters, context, "previous_field"),
            invalid_geometries=INVALID_GEOMETRY_CHOICES[self.parameterAsEnum(parameters, self.INVALID_GEOMETRIES,
                                                                             context)],
        )

    @releases_locals_on_error
    def checkParameterValues(self, parameters, context):
        """Every parameter problem before Run (dialog, modeler, qgis_process), in the engine's words."""
        ok, why = self.canExecute()  # the checks below need the engine's packages
        if not ok:
            return False, why
        try:
            check_parameters(self, parameters, context)
        except QgsProcessingException as exc:
            return False, str(exc)
        return super().checkParameterValues(parameters, context)

    def _in_place_target(self, parameters, context):
        """(layer id, source, provider, field names) to update in place, after checking that this can work."""
        if not self.parameterAsBoolean(parameters, self.UPDATE_INPUT, context):
            return None
        from ..writeback.in_place import check_layer_can_be_updated

        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException("'Update the input layer in place' needs a layer as input, not a "
                                         "feature source from another algorithm; write to an output instead.")
        if layer.providerType() == "memory":
            raise QgsProcessingException(
                f"Layer '{layer.name()}' is a temporary layer, which cannot be updated in place from "
                "Processing. Use the wrok toolbar button (it writes through the edit buffer), or save "
                "the layer to a GeoPackage first.")
        if layer.isEditable() and layer.isModified():
            raise QgsProcessingException(
                f"Layer '{layer.name()}' has unsaved edits; save or discard them before updating it in place.")
        id_field = self.parameterAsString(parameters, self.CLUSTER_ID_FIELD, context).strip()
        return layer.id(), layer.source(), layer.providerType(), check_layer_can_be_updated(layer, id_field)

    @releases_locals_on_error
    def processAlgorithm(self, parameters, context, feedback):
        ok, why = self.canExecute()  # qgis_process 3.22 runs algorithms without asking canExecute()
        if not ok:
            raise QgsProcessingException(why)
        # numpy and the engine load only here, so the plugin itself loads without them.
        from core import ClusteringCancelled

        from ..qgis_io.clustering import run_engine
        from ..qgis_io.layer_arrays import layer_arrays

        settings = self.settings(parameters, context)
        self._update_target = self._in_place_target(parameters, context)
        if self._update_target is not None:
            parameters = self._without_temporary_outputs(parameters, feedback)
        # wrok repairs or refuses invalid geometries itself (INVALID_GEOMETRIES), with a count.
        context.setInvalidGeometryCheck(QgsFeatureRequest.InvalidGeometryCheck.GeometryNoCheck)
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        from ..writeback.in_place import planned_names

        planned_names(source.fields(), settings.id_field)  # a clash stops the run before any work
        if not settings.weight_field:
            feedback.pushInfo("No weight field: every feature weighs 1 (clusters hold about "
                              f"{settings.engine_params().desired_cluster_weight:g} features each).")
        h3_field = self.parameterAsString(parameters, self.H3_FIELD, context)
        if h3_field and settings.previous_field:
            raise QgsProcessingException("The previous cluster field does not combine with an H3 cell field: "
                                         "update the frame of the features themselves.")
        if h3_field:  # rows become their H3 cells' hexagons; the rest is the polygon path
            from ..qgis_io.h3_source import HexagonSource

            source = HexagonSource(source, h3_field, feedback.isCanceled)
            if not settings.measuring_crs.isValid():  # the cells' own UTM zone, right across ±180 too
                settings.measuring_crs = source.measuring_crs
        steps = QgsProcessingMultiStepFeedback(3, feedback)
        try:
            steps.setCurrentStep(0)
            steps.setProgressText("Reading features")
            arrays = layer_arrays(
                source.getFeatures(), source.featureCount(), source.fields(), source.wkbType(), source.sourceCrs(),
                settings.weight_field, settings.measuring_crs, context.transformContext(),
                progress=lambda fraction: steps.setProgress(100 * fraction), is_cancelled=feedback.isCanceled,
                invalid_geometries=settings.invalid_geometries, columns=settings.strata_columns())
            feedback.pushInfo(f"{arrays.count} features; measuring in {arrays.measuring_crs.authid()}")
            if arrays.repaired:
                feedback.pushWarning(f"Repaired {arrays.repaired} invalid geometries (makeValid) for measuring; "
                                     "the outputs keep the original geometries.")
            if arrays.lonlat is not None:
                feedback.pushInfo("The layer is wider than one UTM zone: each cluster's radius is measured "
                                  "around its own centre.")
            steps.setCurrentStep(1)
            result = run_engine(arrays, settings, self._engine_progress(steps), feedback.isCanceled)
            if result.update is not None:
                feedback.pushInfo(update_summary(result.update))
        except ClusteringCancelled:
            # Nothing has been created yet: a cancelled run leaves no output behind.
            raise QgsProcessingException("Cancelled; nothing was written.") from None
        steps.setCurrentStep(2)
        steps.setProgressText("Writing outputs")
        results = self._write_outputs(parameters, context, steps, source, arrays, result, settings)
        if h3_field:
            from ..qgis_io.h3_source import contiguity_message

            results["H3_CONNECTED_SHARE"], line = contiguity_message(source.cells, result.cluster_id)
            feedback.pushInfo(line)
        if self._update_target is not None:
            steps.setProgressText("Updating the input layer")
            results["UPDATED_FEATURES"] = self._update_in_place(arrays, result, feedback)
            feedback.pushInfo(f"{results['UPDATED_FEATURES']} features checked to hold their cluster values.")
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            from .report_output import write_run_report

            results[self.REPORT] = write_run_report(report, arrays, result, settings, source.sourceName())
        return results

    def _without_temporary_outputs(self, parameters, feedback):
        """Updating in place, the input layer is the result: temporary layers would only clutter the project."""
        kept = dict(parameters)
        for name in (self.OUTPUT, self.OUTLINES, self.CLUSTERS):
            value = kept.get(name)
            if isinstance(value, QgsProcessingOutputLayerDefinition):
                value = value.sink.staticValue()
            if isinstance(value, str) and (value == "TEMPORARY_OUTPUT" or value.startswith("memory:")):
                kept[name] = None
                feedback.pushInfo(f"'{self.parameterDefinition(name).description()}' skipped: the input layer is "
                                  "updated in place (give a file to get this output as well).")
        return kept

    @staticmethod
    def _engine_progress(steps):
        from core.engine.progress import stage_text

        last_stage = [None]

        def report(fraction, message):
            steps.setProgress(100 * fraction)
            stage = stage_text(message)  # one line per stage, not one per trial
            if stage != last_stage[0]:
                last_stage[0] = stage
                steps.setProgressText(stage)

        return report

    def _write_outputs(self, parameters, context, feedback, source, arrays, result, settings):
        from ..qgis_io import outputs

        fields, kept = outputs.output_fields(source.fields(), settings.id_field)
        sink, output_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, source.wkbType(),
                                               arrays.source_crs)
        n = arrays.count
        if sink is not None:
            from core import ClusteringCancelled

            from ..qgis_io.layer_arrays import features_in_order

            # The source is read a second time, in the clustered order, instead of holding every feature.
            read_back = features_in_order(source, arrays, feedback.isCanceled)
            try:
                for i, feature in enumerate(outputs.clustered_features(read_back, result, fields, kept)):
                    if i % 1000 == 0:
                        if feedback.isCanceled():
                            raise QgsProcessingException("Cancelled while writing; the outputs are incomplete.")
                        feedback.setProgress(80 * i / n)
                    if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
                        raise QgsProcessingException(self.writeFeatureError(sink, parameters, self.OUTPUT))
            except ClusteringCancelled:
                raise QgsProcessingException("Cancelled while writing; the outputs are incomplete.") from None
        outline_ids = {}
        for sink_name in given_sinks(parameters, self.OUTLINES, self.CLUSTERS):
            sink, outline_ids[sink_name] = self.parameterAsSink(
                parameters, sink_name, context, outputs.cluster_table_fields(settings.id_field,
                                                                             "stratum" in result.clusters),
                QgsWkbTypes.Type.Polygon, arrays.source_crs)
            if sink is None:
                continue
            for feature in outputs.cluster_outline_features(arrays, result, settings.id_field, feedback.isCanceled):
                if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
                    raise QgsProcessingException(self.writeFeatureError(sink, parameters, sink_name))
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled while writing; the outputs are incomplete.")
        from ..qgis_io.styling import style_output

        style_output(context, output_id, "Clustered features", settings, hulls=False)
        for outline_id in outline_ids.values():
            style_output(context, outline_id, "Clusters", settings, hulls=True)
        from core.io.layer_style import cluster_style

        from ..qgis_io.stored_styles import note_style

        note_style(self, output_id, cluster_style(result.clusters["cluster_id"], settings.id_field))
        for outline_id in outline_ids.values():
            note_style(self, outline_id, cluster_style(result.clusters["cluster_id"], settings.id_field, outlines=True))
        centroids_id = frame.write_centroids(self, parameters, context, result, arrays.to_measuring,
                                             arrays.source_crs, settings.id_field)
        feedback.setProgress(100)
        frame.report(feedback, result)
        stats = result.stats()
        feedback.pushInfo(
            f"{stats['clusters']} clusters; median weight {stats['median_weight']:.1f}, median radius "
            f"{stats['median_radius_m']:.0f} m, {stats['clusters_over_max']} over the maximum weight"
            + (f", score {stats['score']:.1f}" if "score" in stats else " (each judged by its stratum's targets)"))
        for line in result.over_max_warnings():
            feedback.pushWarning(f"{line[0].upper()}{line[1:]}.")
        if stats["heavy_features"]:
            feedback.pushWarning(f"{stats['heavy_features']} feature(s) alone outweigh the maximum weight; "
                                 "each is its own cluster.")
        if result.remote_hamlets:
            feedback.pushWarning(f"{len(result.remote_hamlets)} remote hamlet(s), too light for the band and too far "
                                 f"to join a neighbour, kept as their own clusters: {', '.join(result.remote_hamlets)}. "
                                 "A minimum weight merges them.")
        return {
            self.OUTPUT: output_id, **outline_ids, "CLUSTER_COUNT": stats["clusters"],
            "CLUSTERS_OVER_MAX": stats["clusters_over_max"], "MEDIAN_WEIGHT": stats["median_weight"],
            "MEDIAN_RADIUS_M": stats["median_radius_m"], "SCORE": stats.get("score"), "UPDATED_FEATURES": 0,
            "MEASURING_CRS": arrays.measuring_crs.authid(), frame.CENTROIDS: centroids_id,
            "CLUSTERS_OVER_MAX_RADIUS": stats["clusters_over_max_radius"],
        }

    def _update_in_place(self, arrays, result, feedback) -> int:
        from ..writeback.in_place import write_through_provider

        # A layer of our own on the same source: safe off the main thread, unlike the project's layer.
        _, uri, provider, names = self._update_target
        layer = QgsVectorLayer(uri, "wrok update", provider)
        if not layer.isValid():
            raise QgsProcessingException(f"Cannot open {uri} to update it in place.")
        return write_through_provider(layer, names, arrays.feature_ids, result, feedback.isCanceled,
                                      feedback.setProgressText)

    def postProcessAlgorithm(self, context, feedback):
        super().postProcessAlgorithm(context, feedback)
        if self._update_target is not None:
            layer = context.project().mapLayer(self._update_target[0]) if context.project() else None
            if layer is not None:  # show the new fields and values in the open project
                from ..writeback.postgis import show_new_fields

                show_new_fields(layer)
                layer.triggerRepaint()
        return {}


def update_summary(report) -> str:
    """The log's line about an update of a previous frame (core.engine.update.UpdateReport)."""
    counts = ", ".join(f"{len(getattr(report, name))} {name}" for name in
                       ("unchanged", "reshaped", "split", "merged", "new", "retired"))
    return (f"Updated the previous frame: {report.changed_feature_share:.1%} of features "
            f"({report.changed_weight_share:.1%} of the weight) changed cluster, {report.new_features} new "
            f"feature(s); clusters: {counts}.")


WHOLE_NUMBER_PARAMETERS = tuple(qgis_id for name in ENGINE_NAMES if PARAMETERS[name].kind == "whole"
                                for qgis_id in (PARAMETERS[name].qgis, *PARAMETERS[name].qgis_aliases))


def check_parameters(algorithm, parameters, context) -> None:
    """The checks checkParameterValues runs; QgsProcessingException naming the first problem."""
    own = TunedClusteringAlgorithm
    for name in WHOLE_NUMBER_PARAMETERS:
        value = parameters.get(name)
        try:
            number = float(value) if value not in (None, "") and not hasattr(value, "propertyType") else None
        except (TypeError, ValueError):
            number = None  # QGIS's own check names a value that is not a number
        if number is not None and abs(number) > MAX_WHOLE_NUMBER:
            label = algorithm.parameterDefinition(name).description()
            raise QgsProcessingException(f"'{label}' is {value}; it must be at most {MAX_WHOLE_NUMBER}.")
    crs_value = parameters.get(own.MEASURING_CRS)
    if crs_value not in (None, "") and isinstance(crs_value, str) \
            and not algorithm.parameterAsCrs(parameters, own.MEASURING_CRS, context).isValid():
        raise QgsProcessingException(f"Measuring CRS '{crs_value}' is not a known coordinate reference system; "
                                     "choose a projected CRS in metres, or leave it empty for automatic.")
    check_readable_input(parameters.get(own.INPUT))
    settings = algorithm.settings(parameters, context)
    settings.engine_params()  # the engine's own validation, in its words
    layer = algorithm.parameterAsVectorLayer(parameters, own.INPUT, context)
    if layer is not None:
        from ..qgis_io.layer_arrays import measuring_choice, weight_field_index
        from ..writeback.in_place import planned_names

        planned_names(layer.fields(), settings.id_field)
        # What the layer's fields, CRS and extent decide, found here print once (errors raised while
        # running are printed three times by qgis_process 3.22).
        weight_field_index(layer.fields(), settings.weight_field)
        if not algorithm.parameterAsString(parameters, own.H3_FIELD, context) and layer.isSpatial() \
                and layer.featureCount() > 0:
            measuring_choice(settings.measuring_crs, layer.crs(), layer.extent(), context.transformContext())
        for sink in (own.OUTPUT, own.OUTLINES, own.CLUSTERS):
            check_destination(algorithm.parameterAsOutputLayer(parameters, sink, context), layer)
    algorithm._in_place_target(parameters, context)


def check_readable_input(value) -> None:
    path = value if isinstance(value, str) else ""
    if path.split("|")[0].lower().endswith((".parquet", ".geoparquet")):
        raise QgsProcessingException(
            f"QGIS 3.22 cannot read Parquet (no GDAL driver): {path}. Convert it to GeoPackage first, e.g. "
            "python -m core's input accepts it, or ogr2ogr out.gpkg in.parquet with GDAL 3.5 or newer.")


def check_destination(destination: str, input_layer) -> None:
    """A file destination that would replace the input or delete other GeoPackage layers is refused."""
    import os

    if not destination or destination.startswith(("memory:", "ogr:", "postgres:", "postgis:")):
        return
    path = destination.split("|")[0]
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        raise QgsProcessingException(f"Cannot write {path}: folder {folder} does not exist.")
    if not os.path.isfile(path):
        return
    source = input_layer.source().split("|")[0]
    if os.path.isfile(source) and os.path.samefile(path, source):
        raise QgsProcessingException(
            f"The output {os.path.basename(path)} is the input layer's file; writing it would replace your data. "
            "Choose another file, or use 'Update the input layer in place'.")
    if path.lower().endswith(".gpkg"):
        from osgeo import ogr

        dataset = ogr.Open(path)
        names = [dataset.GetLayer(i).GetName() for i in range(dataset.GetLayerCount())] if dataset else []
        others = [name for name in names if name != os.path.splitext(os.path.basename(path))[0]]
        if others:
            raise QgsProcessingException(
                f"{os.path.basename(path)} already holds the layer(s) {', '.join(others)}; writing to the file "
                "would delete them. Choose a new file, or 'Save to GeoPackage…' with a layer name to add one.")
