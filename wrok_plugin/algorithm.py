"""wrok:tunedclustering - the engine as a Processing algorithm (toolbox, modeler, qgis_process)."""

from __future__ import annotations

import re

from qgis.core import (
    QgsFeatureSink,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterDefinition,
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
from qgis.PyQt.QtGui import QIcon

from . import frame
from .clustering import STRATEGY_CHOICES, ClusterSettings
from .dependencies import install_hint, missing_packages
from .help_text import HELP_URL, SHORT_HELP
from .plugin_files import icon_path

Number = QgsProcessingParameterNumber


class TunedClusteringAlgorithm(QgsProcessingAlgorithm):
    INPUT = "INPUT"
    WEIGHT_FIELD = "WEIGHT_FIELD"
    H3_FIELD = "H3_FIELD"
    TARGET_WEIGHT = "TARGET_WEIGHT"
    TARGET_RADIUS = "TARGET_RADIUS"
    WEIGHT_IMPORTANCE = "WEIGHT_IMPORTANCE"
    MAX_WEIGHT = "MAX_WEIGHT"
    MAX_PASSES = "MAX_PASSES"
    UPDATE_INPUT = "UPDATE_INPUT"
    INITIAL_TRIALS = "INITIAL_TRIALS"
    SUBSEQUENT_TRIALS = "SUBSEQUENT_TRIALS"
    REASSIGNMENT_RATIO = "REASSIGNMENT_RATIO"
    STRATEGY = "STRATEGY"
    RANDOM_SEED = "RANDOM_SEED"
    MEASURING_CRS = "MEASURING_CRS"
    CLUSTER_ID_FIELD = "CLUSTER_ID_FIELD"
    OUTPUT = "OUTPUT"
    CLUSTERS = "CLUSTERS"
    REPORT = "REPORT"

    def __init__(self):
        super().__init__()
        self._update_target = None  # (layer id, source, provider) when updating in place

    def name(self):
        return "tunedclustering"

    def displayName(self):
        return "Tuned Weight/Radius Clustering"

    def group(self):
        return "Clustering"

    def groupId(self):
        return "clustering"

    def tags(self):
        return ["cluster", "sampling", "psu", "survey", "population", "weight", "radius", "kmeans"]

    def shortHelpString(self):
        return SHORT_HELP

    def helpUrl(self):
        return HELP_URL

    def icon(self):
        return QIcon(icon_path())

    def svgIconPath(self):
        return icon_path()

    def createInstance(self):
        return TunedClusteringAlgorithm()

    def canExecute(self):
        missing = missing_packages()
        if missing:
            return False, install_hint(missing)
        return True, ""

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.INPUT, "Input layer (points or polygons; a table with an H3 field)", [QgsProcessing.TypeVector]))
        self.addParameter(QgsProcessingParameterField(
            self.WEIGHT_FIELD, "Weight field (empty: every feature weighs 1)", parentLayerParameterName=self.INPUT,
            type=QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.H3_FIELD, "H3 cell field (each row one H3 cell; empty: use the layer's geometry)",
            parentLayerParameterName=self.INPUT, type=QgsProcessingParameterField.Any, optional=True))
        self.addParameter(Number(self.TARGET_WEIGHT, "Target cluster weight", Number.Double, 240.0, minValue=1e-9))
        self.addParameter(Number(self.TARGET_RADIUS, "Target cluster radius (metres)", Number.Double, 1000.0,
                                 minValue=1e-9))
        self.addParameter(Number(self.WEIGHT_IMPORTANCE, "Weight importance factor", Number.Double, 1.0,
                                 minValue=0.0))
        self.addParameter(Number(self.MAX_WEIGHT, "Maximum cluster weight (empty: no cap)", Number.Double, 300.0,
                                 optional=True, minValue=0.0))
        self.addParameter(Number(self.MAX_PASSES, "Maximum passes", Number.Integer, 100, minValue=1))
        frame.add_cap_parameters(self)
        frame.add_strata_parameters(self, self.INPUT)
        self.addParameter(QgsProcessingParameterBoolean(
            self.UPDATE_INPUT, "Update the input layer in place (write the cluster fields into its data source)",
            False))
        advanced = [
            Number(self.INITIAL_TRIALS, "Trials in the first pass", Number.Integer, 100, minValue=1),
            Number(self.SUBSEQUENT_TRIALS, "Trials per re-clustered cluster in later passes", Number.Integer, 20,
                   minValue=1),
            Number(self.REASSIGNMENT_RATIO, "Reassignment ratio (seed strategy)", Number.Double, 0.1, minValue=0.0,
                   maxValue=1.0),
            QgsProcessingParameterEnum(self.STRATEGY, "Strategy", options=list(STRATEGY_CHOICES), defaultValue=0),
            Number(self.RANDOM_SEED, "Random seed", Number.Integer, 42),
            QgsProcessingParameterCrs(self.MEASURING_CRS, "Measuring CRS in metres (empty: automatic)",
                                      optional=True),
            QgsProcessingParameterString(self.CLUSTER_ID_FIELD, "Cluster ID field name", "cluster_id"),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, "Clustered features", QgsProcessing.TypeVectorAnyGeometry, optional=True,
            createByDefault=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.CLUSTERS, "Clusters", QgsProcessing.TypeVectorPolygon, optional=True, createByDefault=True))
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
        id_field = self.parameterAsString(parameters, self.CLUSTER_ID_FIELD, context).strip()
        if not id_field:
            raise QgsProcessingException("The cluster ID field name is empty; give a name such as cluster_id.")
        return shared_settings(
            self, parameters, context,
            weight_field=self.parameterAsString(parameters, self.WEIGHT_FIELD, context) or None,
            measuring_crs=self.parameterAsCrs(parameters, self.MEASURING_CRS, context),
            id_field=id_field, strata=frame.strata_options(self, parameters, context),
            **frame.cap_values(self, parameters, context),
        )

    def _in_place_target(self, parameters, context):
        """(layer id, source, provider) to update in place, after checking that this can work."""
        if not self.parameterAsBoolean(parameters, self.UPDATE_INPUT, context):
            return None
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
        return layer.id(), layer.source(), layer.providerType()

    def processAlgorithm(self, parameters, context, feedback):
        ok, why = self.canExecute()  # qgis_process 3.22 runs algorithms without asking canExecute()
        if not ok:
            raise QgsProcessingException(why)
        # numpy and the engine load only here, so the plugin itself loads without them.
        from .clustering import run_engine
        from .core import ClusteringCancelled
        from .layer_arrays import layer_arrays

        settings = self.settings(parameters, context)
        self._update_target = self._in_place_target(parameters, context)
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        h3_field = self.parameterAsString(parameters, self.H3_FIELD, context)
        if h3_field:  # rows become their H3 cells' hexagons; the rest is the polygon path
            from .h3_source import HexagonSource

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
                progress=lambda fraction: steps.setProgress(100 * fraction), is_cancelled=feedback.isCanceled)
            feedback.pushInfo(f"{len(arrays.features)} features; measuring in {arrays.measuring_crs.authid()}")
            steps.setCurrentStep(1)
            result = run_engine(arrays, settings, self._engine_progress(steps), feedback.isCanceled)
        except ClusteringCancelled:
            # Nothing has been created yet: a cancelled run leaves no output behind.
            raise QgsProcessingException("Cancelled; nothing was written.") from None
        steps.setCurrentStep(2)
        steps.setProgressText("Writing outputs")
        results = self._write_outputs(parameters, context, steps, source, arrays, result, settings)
        if h3_field:
            from .h3_source import contiguity_message

            results["H3_CONNECTED_SHARE"], line = contiguity_message(source.cells, result.cluster_id)
            feedback.pushInfo(line)
        if self._update_target is not None:
            results["UPDATED_FEATURES"] = self._update_in_place(arrays, result, settings)
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            from .report_output import write_run_report

            results[self.REPORT] = write_run_report(report, arrays, result, settings, source.sourceName())
        return results

    @staticmethod
    def _engine_progress(steps):
        last_stage = [None]

        def report(fraction, message):
            steps.setProgress(100 * fraction)
            stage = re.sub(r"trial \d+", "trials", message)  # one line per stage, not one per trial
            if stage != last_stage[0]:
                last_stage[0] = stage
                steps.setProgressText(stage)

        return report

    def _write_outputs(self, parameters, context, feedback, source, arrays, result, settings):
        from . import outputs

        fields, kept = outputs.output_fields(source.fields(), settings.id_field)
        sink, output_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, source.wkbType(),
                                               source.sourceCrs())
        n = len(arrays.features)
        if sink is not None:
            for i, feature in enumerate(outputs.clustered_features(arrays.features, result, fields, kept)):
                if i % 1000 == 0:
                    if feedback.isCanceled():
                        raise QgsProcessingException("Cancelled while writing; the outputs are incomplete.")
                    feedback.setProgress(80 * i / n)
                if not sink.addFeature(feature, QgsFeatureSink.FastInsert):
                    raise QgsProcessingException(self.writeFeatureError(sink, parameters, self.OUTPUT))
        clusters_sink, clusters_id = self.parameterAsSink(
            parameters, self.CLUSTERS, context, outputs.cluster_table_fields(settings.id_field,
                                                                             "stratum" in result.clusters),
            QgsWkbTypes.Polygon, source.sourceCrs())
        if clusters_sink is not None:
            for feature in outputs.cluster_outline_features(arrays, result, settings.id_field, feedback.isCanceled):
                if not clusters_sink.addFeature(feature, QgsFeatureSink.FastInsert):
                    raise QgsProcessingException(self.writeFeatureError(clusters_sink, parameters, self.CLUSTERS))
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled while writing; the outputs are incomplete.")
        centroids_id = frame.write_centroids(self, parameters, context, result, arrays.to_measuring,
                                             source.sourceCrs(), settings.id_field)
        feedback.setProgress(100)
        frame.report(feedback, result)
        stats = result.stats()
        feedback.pushInfo(
            f"{stats['clusters']} clusters; median weight {stats['median_weight']:.1f}, median radius "
            f"{stats['median_radius_m']:.0f} m, {stats['clusters_over_max']} over the maximum weight, "
            f"score {stats['score']:.1f}")
        if stats["heavy_features"]:
            feedback.pushWarning(f"{stats['heavy_features']} feature(s) alone outweigh the maximum weight; "
                                 "each is its own cluster.")
        if result.remote_hamlets:
            feedback.pushWarning(f"{len(result.remote_hamlets)} remote hamlet(s), too light for the band and too far "
                                 f"to join a neighbour, kept as their own clusters: {', '.join(result.remote_hamlets)}. "
                                 "A minimum weight merges them.")
        return {
            self.OUTPUT: output_id, self.CLUSTERS: clusters_id, "CLUSTER_COUNT": stats["clusters"],
            "CLUSTERS_OVER_MAX": stats["clusters_over_max"], "MEDIAN_WEIGHT": stats["median_weight"],
            "MEDIAN_RADIUS_M": stats["median_radius_m"], "SCORE": stats["score"], "UPDATED_FEATURES": 0,
            "MEASURING_CRS": arrays.measuring_crs.authid(), frame.CENTROIDS: centroids_id,
            "CLUSTERS_OVER_MAX_RADIUS": stats["clusters_over_max_radius"],
        }

    def _update_in_place(self, arrays, result, settings) -> int:
        from . import outputs

        # A layer of our own on the same source: safe off the main thread, unlike the project's layer.
        _, uri, provider = self._update_target
        layer = QgsVectorLayer(uri, "wrok update", provider)
        if not layer.isValid():
            raise QgsProcessingException(f"Cannot open {uri} to update it in place.")
        return outputs.write_through_provider(layer, arrays.feature_ids, result, settings.id_field)

    def postProcessAlgorithm(self, context, feedback):
        if self._update_target is not None:
            layer = context.project().mapLayer(self._update_target[0]) if context.project() else None
            if layer is not None:  # show the new fields and values in the open project
                layer.reload()
                layer.triggerRepaint()
        return {}


def shared_settings(algorithm, parameters, context, **extra) -> ClusterSettings:
    """The clustering parameters this algorithm shares with the AWS submit one (same names)."""
    own = TunedClusteringAlgorithm
    max_weight = parameters.get(own.MAX_WEIGHT, 300.0)
    return ClusterSettings(
        target_weight=algorithm.parameterAsDouble(parameters, own.TARGET_WEIGHT, context),
        target_radius_m=algorithm.parameterAsDouble(parameters, own.TARGET_RADIUS, context),
        max_weight=None if max_weight in (None, "") else algorithm.parameterAsDouble(parameters, own.MAX_WEIGHT,
                                                                                      context),
        weight_importance=algorithm.parameterAsDouble(parameters, own.WEIGHT_IMPORTANCE, context),
        max_passes=algorithm.parameterAsInt(parameters, own.MAX_PASSES, context),
        initial_trials=algorithm.parameterAsInt(parameters, own.INITIAL_TRIALS, context),
        subsequent_trials=algorithm.parameterAsInt(parameters, own.SUBSEQUENT_TRIALS, context),
        reassignment_ratio=algorithm.parameterAsDouble(parameters, own.REASSIGNMENT_RATIO, context),
        strategy=STRATEGY_CHOICES[algorithm.parameterAsEnum(parameters, own.STRATEGY, context)],
        random_seed=algorithm.parameterAsInt(parameters, own.RANDOM_SEED, context),
        **extra,
    )
