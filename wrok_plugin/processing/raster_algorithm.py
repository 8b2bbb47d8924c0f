"""wrok:clusterraster - a population raster (e.g. WorldPop) as weighted features.

Every pixel with a positive value that is not nodata is one feature; its square counts in
the radius. Outputs: cluster polygons dissolved from the pixel squares (they tile), a raster
of cluster numbers aligned to the input, and the centroids. The engine's core/io/raster.py reads
and writes with osgeo.gdal (QGIS's own GDAL), a block of rows at a time.
"""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProject,
    QgsRasterFileWriter,
    QgsWkbTypes,
)

from ..compat import FieldType
from . import frame_parameters as frame
from .base import WrokClusteringAlgorithm
from .clustering_algorithm import TunedClusteringAlgorithm, shared_settings, warn_passes_without_cap
from .errors import releases_locals_on_error

Local = TunedClusteringAlgorithm
# Cloned from wrok:tunedclustering so labels, defaults and ranges stay the same.
CLONED = (Local.TARGET_WEIGHT, Local.TARGET_RADIUS, Local.WEIGHT_IMPORTANCE, Local.MAX_WEIGHT, Local.MAX_PASSES,
          frame.NUMBER_OF_CLUSTERS, frame.MAX_RADIUS, Local.INITIAL_TRIALS, Local.SUBSEQUENT_TRIALS,
          Local.REASSIGNMENT_RATIO, Local.STRATEGY, Local.RANDOM_SEED, Local.MEASURING_CRS)

HELP = """<p>Clusters a single-band population raster (e.g. a WorldPop 100 m GeoTIFF). Every pixel
with a positive value that is not nodata is a feature weighted by its value; its square counts
in the cluster radius. The raster is read a block of rows at a time.</p>
<p>Outputs: <b>Clusters</b>, one (multi)polygon per cluster dissolved from its pixel squares, so
clusters tile without overlap, with the cluster table's figures (cluster_number matches the
raster); <b>Cluster numbers</b>, a raster aligned to the input holding each pixel's cluster
number (0 = no cluster); optionally the <b>Cluster centroids</b> as points.</p>
<p><b>Strata polygons</b> (e.g. districts) with <b>Stratum field(s)</b>: each pixel takes the
stratum of the polygon holding its centre and each stratum is clustered on its own; a
<b>Strata table</b> gives targets per stratum as in <i>Tuned Weight/Radius Clustering</i>.
Populated pixels outside every polygon are an error that counts them.</p>
<p>The other parameters mean what they mean in <i>Tuned Weight/Radius Clustering</i>. Pixels
cluster exactly as points at their centres would; radii and the maximum radius include the
pixel squares.</p>"""


class ClusterRasterAlgorithm(WrokClusteringAlgorithm):
    INPUT = "INPUT"
    BAND = "BAND"
    CLUSTERS = "CLUSTERS"
    CLUSTER_RASTER = "CLUSTER_RASTER"
    STRATA_LAYER = "STRATA_LAYER"

    def name(self):
        return "clusterraster"

    def displayName(self):
        return "Cluster a population raster"

    def tags(self):
        return ["raster", "worldpop", "population", "pixels", "cluster", "psu", "survey"]

    def shortHelpString(self):
        return HELP

    def createInstance(self):
        return ClusterRasterAlgorithm()

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Population raster"))
        self.addParameter(QgsProcessingParameterBand(self.BAND, "Band holding the weights", 1, self.INPUT,
                                                     optional=True))
        local = TunedClusteringAlgorithm()
        local.initAlgorithm()
        for name in CLONED:
            self.addParameter(local.parameterDefinition(name).clone())
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.STRATA_LAYER, "Strata polygons (each pixel takes the stratum of the polygon holding its centre)",
            [QgsProcessing.SourceType.TypeVectorPolygon], optional=True))
        frame.add_strata_parameters(self, self.STRATA_LAYER)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.CLUSTERS, "Clusters", QgsProcessing.SourceType.TypeVectorPolygon, createByDefault=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.CLUSTER_RASTER, "Cluster numbers"))
        frame.add_centroids_sink(self)
        self.addParameter(local.parameterDefinition(Local.REPORT).clone())
        for name, label in (("CLUSTER_COUNT", "Number of clusters"), ("PIXELS", "Pixels clustered"),
                            ("CLUSTERS_OVER_MAX_RADIUS", "Clusters wider than the maximum radius (single pixels)")):
            self.addOutput(QgsProcessingOutputNumber(name, label))

    @releases_locals_on_error
    def checkParameterValues(self, parameters, context):
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        problem = frame.strata_parameter_problem(self, parameters, context, self.STRATA_LAYER)
        if problem:
            return False, problem
        try:  # the engine's own validation, e.g. a maximum weight below the target
            shared_settings(self, parameters, context, **frame.cap_values(self, parameters, context)).engine_params()
        except QgsProcessingException as exc:
            return False, str(exc)
        return True, ""

    def _measuring_epsg(self, parameters, context):
        crs = self.parameterAsCrs(parameters, Local.MEASURING_CRS, context)
        if not crs.isValid():
            return None
        if not crs.authid().upper().startswith("EPSG:"):
            raise QgsProcessingException(f"Give the measuring CRS as an EPSG code (got {crs.authid() or 'custom'}).")
        return int(crs.authid().split(":")[1])

    @releases_locals_on_error
    def processAlgorithm(self, parameters, context, feedback):
        ok, why = self.canExecute()
        if not ok:
            raise QgsProcessingException(why)
        from core import ClusteringCancelled, ClusteringInputError
        from core.io.raster import (
            check_raster_target,
            cluster_polygons,
            cluster_raster,
            read_pixels,
            write_cluster_raster,
        )

        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None or layer.providerType() != "gdal":
            raise QgsProcessingException("The population raster must be a file GDAL reads (e.g. a GeoTIFF).")
        raster_path = self.parameterAsOutputLayer(parameters, self.CLUSTER_RASTER, context)
        try:  # before any work: the output raster must not be the input
            check_raster_target(raster_path, layer.source(), "Cluster numbers")
        except ClusteringInputError as exc:
            raise QgsProcessingException(str(exc)) from None
        settings = shared_settings(self, parameters, context, **frame.cap_values(self, parameters, context))
        warn_passes_without_cap(parameters, settings, feedback)
        params = settings.engine_params()
        steps = QgsProcessingMultiStepFeedback(3, feedback)
        try:
            steps.setProgressText("Reading pixels")
            pixels = read_pixels(layer.source(), self.parameterAsInt(parameters, self.BAND, context) or 1,
                                 lambda f: steps.setProgress(100 * f), feedback.isCanceled)
            feedback.pushInfo(f"{len(pixels)} pixels with a positive value")
            strata = self._strata(parameters, context, pixels, params)
            steps.setCurrentStep(1)
            result, numbers, measured_in = cluster_raster(
                pixels, params, self._measuring_epsg(parameters, context), strata=strata,
                progress=lambda f, message: steps.setProgress(100 * f), is_cancelled=feedback.isCanceled)
            if strata is not None:
                result.warnings = strata[3]
        except ClusteringCancelled:
            raise QgsProcessingException("Cancelled; nothing was written.") from None
        except ClusteringInputError as exc:
            raise QgsProcessingException(f"Cannot cluster this raster: {exc}.") from None
        steps.setCurrentStep(2)
        steps.setProgressText("Writing outputs")
        driver = QgsRasterFileWriter.driverForExtension(raster_path.rsplit(".", 1)[-1]) or "GTiff"
        write_cluster_raster(raster_path, pixels, numbers, driver)
        polygons = cluster_polygons(raster_path, params.n_jobs)
        clusters_id = self._write_polygons(parameters, context, layer.crs(), result, polygons)
        from core.io.layer_style import cluster_style

        from ..qgis_io.stored_styles import note_style

        note_style(self, clusters_id, cluster_style(result.clusters["cluster_id"], outlines=True))
        measuring = QgsCoordinateReferenceSystem(f"EPSG:{measured_in}") if measured_in else layer.crs()
        to_measuring = QgsCoordinateTransform(layer.crs(), measuring, QgsProject.instance().transformContext())
        centroids_id = frame.write_centroids(self, parameters, context, result, to_measuring, layer.crs(),
                                             "cluster_id")
        frame.report(feedback, result)
        stats = result.stats()
        feedback.pushInfo(f"{stats['clusters']} clusters; median weight {stats['median_weight']:.1f}, median "
                          f"radius {stats['median_radius_m']:.0f} m (pixel squares included), "
                          f"{stats['clusters_over_max']} over the maximum weight")
        for line in result.over_max_warnings():
            feedback.pushWarning(f"{line[0].upper()}{line[1:]}.")
        report = self.parameterAsFileOutput(parameters, Local.REPORT, context)
        if report:
            from .report_output import write_raster_report

            write_raster_report(report, result, polygons, layer.crs(), layer.name(), measuring.authid())
        return {Local.REPORT: report or None, self.CLUSTERS: clusters_id, self.CLUSTER_RASTER: raster_path, frame.CENTROIDS: centroids_id,
                "CLUSTER_COUNT": stats["clusters"], "PIXELS": len(pixels),
                "CLUSTERS_OVER_MAX_RADIUS": stats["clusters_over_max_radius"]}

    def _strata(self, parameters, context, pixels, params):
        """(keys per pixel, params by stratum, n_jobs, warnings) from the strata polygons, or None."""
        from core.io.raster_strata import pixel_strata

        options = frame.strata_options(self, parameters, context)
        source = self.parameterAsSource(parameters, self.STRATA_LAYER, context)
        if options is None:
            if source is not None:
                raise QgsProcessingException("Strata polygons need the stratum field(s) that name each stratum.")
            return None
        if source is None:
            raise QgsProcessingException("Stratum fields on a raster need the strata polygons layer.")
        features = list(source.getFeatures())
        columns = {name: [frame.plain(f.attribute(name)) for f in features] for name in source.fields().names()}
        wkb = [bytes(f.geometry().asWkb()) for f in features]
        crs_wkt = source.sourceCrs().toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED)
        keys, by_stratum, warnings = pixel_strata(pixels, wkb, crs_wkt, columns, options, params)
        return keys, by_stratum, options.n_jobs, warnings

    def _write_polygons(self, parameters, context, crs, result, polygons):
        from ..qgis_io.outputs import cluster_row_values, cluster_table_fields

        table = result.clusters
        fields = cluster_table_fields("cluster_id", "stratum" in table)
        fields.append(QgsField("cluster_number", FieldType.Int, "integer"))
        sink, sink_id = self.parameterAsSink(parameters, self.CLUSTERS, context, fields, QgsWkbTypes.Type.MultiPolygon,
                                             crs)
        for row in range(len(table)):
            geometry = QgsGeometry()
            geometry.fromWkb(polygons[row + 1])
            geometry.convertToMultiType()
            feature = QgsFeature(fields)
            feature.setGeometry(geometry)
            feature.setAttributes(cluster_row_values(table, row) + [row + 1])
            if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
                raise QgsProcessingException(self.writeFeatureError(sink, parameters, self.CLUSTERS))
        return sink_id
