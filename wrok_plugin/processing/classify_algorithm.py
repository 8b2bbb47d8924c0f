"""wrok:classifyraster - k-means classes of a raster's pixel values (e.g. NDVI), position ignored."""

from __future__ import annotations

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsRasterFileWriter,
    QgsWkbTypes,
)

from ..compat import FieldType
from .base import WrokClusteringAlgorithm
from .errors import releases_locals_on_error

Number = QgsProcessingParameterNumber
HELP = """<p>Splits a single-band raster's pixel values (e.g. Sentinel-2 NDVI) into k classes with
k-means: the values are the features, position is ignored. Every finite pixel that is not nodata
takes part. Classes are numbered 1..k from the lowest mean value up.</p>
<p>Outputs: <b>Classes</b>, one (multi)polygon per class dissolved from its pixels, with its pixel
count and mean, minimum and maximum value; <b>Class numbers</b>, a raster aligned to the input
(0 = nodata).</p>"""


class ClassifyRasterAlgorithm(WrokClusteringAlgorithm):
    INPUT, BAND, CLASSES, RANDOM_SEED = "INPUT", "BAND", "CLASSES", "RANDOM_SEED"
    OUTPUT, CLASS_RASTER = "OUTPUT", "CLASS_RASTER"

    def name(self):
        return "classifyraster"

    def displayName(self):
        return "Classify raster values (k-means)"

    def tags(self):
        return ["raster", "kmeans", "k-means", "ndvi", "sentinel", "classes", "values"]

    def shortHelpString(self):
        return HELP

    def createInstance(self):
        return ClassifyRasterAlgorithm()

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Raster"))
        self.addParameter(QgsProcessingParameterBand(self.BAND, "Band", 1, self.INPUT, optional=True))
        self.addParameter(Number(self.CLASSES, "Number of classes", Number.Type.Integer, 4, minValue=1))
        self.addParameter(Number(self.RANDOM_SEED, "Random seed", Number.Type.Integer, 42))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Classes",
                                                            QgsProcessing.SourceType.TypeVectorPolygon))
        self.addParameter(QgsProcessingParameterRasterDestination(self.CLASS_RASTER, "Class numbers"))
        self.addOutput(QgsProcessingOutputNumber("PIXELS", "Pixels classified"))

    @releases_locals_on_error
    def processAlgorithm(self, parameters, context, feedback):
        ok, why = self.canExecute()
        if not ok:
            raise QgsProcessingException(why)
        from core import ClusteringInputError
        from core.engine.raster_values import VALUE_COLUMNS, value_classes
        from core.io.raster import check_raster_target, cluster_polygons, read_pixels, write_cluster_raster

        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None or layer.providerType() != "gdal":
            raise QgsProcessingException("The raster must be a file GDAL reads (e.g. a GeoTIFF).")
        raster_path = self.parameterAsOutputLayer(parameters, self.CLASS_RASTER, context)
        try:  # before any work: the output raster must not be the input
            check_raster_target(raster_path, layer.source(), "Class numbers")
        except ClusteringInputError as exc:
            raise QgsProcessingException(str(exc)) from None
        try:
            pixels = read_pixels(layer.source(), self.parameterAsInt(parameters, self.BAND, context) or 1,
                                 lambda f: feedback.setProgress(30 * f), feedback.isCanceled, positive_only=False)
            numbers, table = value_classes(pixels.values, self.parameterAsInt(parameters, self.CLASSES, context),
                                           self.parameterAsInt(parameters, self.RANDOM_SEED, context))
        except ClusteringInputError as exc:
            raise QgsProcessingException(f"Cannot classify this raster: {exc}.") from None
        feedback.setProgress(70)
        driver = QgsRasterFileWriter.driverForExtension(raster_path.rsplit(".", 1)[-1]) or "GTiff"
        write_cluster_raster(raster_path, pixels, numbers, driver)
        polygons = cluster_polygons(raster_path)
        fields = QgsFields()
        for column in VALUE_COLUMNS:
            fields.append(QgsField(column, FieldType.Int if column in ("class_number", "n_pixels") else FieldType.Double))
        sink, sink_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.Type.MultiPolygon,
                                             layer.crs())
        for row, number in enumerate(table["class_number"]):
            geometry = QgsGeometry()
            geometry.fromWkb(polygons[int(number)])
            geometry.convertToMultiType()
            feature = QgsFeature(fields)
            feature.setGeometry(geometry)
            feature.setAttributes([int(table[c][row]) if c in ("class_number", "n_pixels") else float(table[c][row])
                                   for c in VALUE_COLUMNS])
            if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
                raise QgsProcessingException(self.writeFeatureError(sink, parameters, self.OUTPUT))
        feedback.pushInfo(", ".join(f"class {n}: mean {m:.3f}" for n, m in zip(table["class_number"],
                                                                               table["mean_value"])))
        return {self.OUTPUT: sink_id, self.CLASS_RASTER: raster_path, "PIXELS": len(pixels)}
