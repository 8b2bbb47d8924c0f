"""Survey-frame parameters shared by wrok:tunedclustering and wrok:clusterraster.

Strata (fields, a table layer, per-stratum target fields), exactly N clusters, the hard
maximum radius, and the centroid point layer. The engine does the work (core/frame/strata.py,
core/engine/max_radius.py); this module turns Processing parameters and QgsFeatures into its input.
"""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsFeature,
    QgsFeatureSink,
    QgsGeometry,
    QgsPointXY,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)

from ..compat import mark_advanced

Number = QgsProcessingParameterNumber

MAX_RADIUS = "MAX_RADIUS"
NUMBER_OF_CLUSTERS = "NUMBER_OF_CLUSTERS"
STRATUM_FIELDS = "STRATUM_FIELDS"
STRATA_TABLE = "STRATA_TABLE"
CENTROIDS = "CENTROIDS"
# Parameter -> per-stratum setting its field holds (core.strata.STRATUM_SETTINGS keys).
SETTING_FIELDS = {
    "TARGET_WEIGHT_FIELD": ("target_weight", "Per-stratum target weight field"),
    "TARGET_RADIUS_FIELD": ("target_radius", "Per-stratum target radius field (metres)"),
    "MAX_WEIGHT_FIELD": ("max_weight", "Per-stratum maximum weight field"),
    "MAX_RADIUS_FIELD": ("max_radius", "Per-stratum maximum radius field (metres)"),
    "CLUSTERS_FIELD": ("n_clusters", "Per-stratum number of clusters field"),
}



def add_cap_parameters(algorithm) -> None:
    """Exactly N clusters and the hard maximum radius: both algorithms."""
    algorithm.addParameter(Number(NUMBER_OF_CLUSTERS, "Number of clusters (per stratum; empty: tuned)",
                                  Number.Type.Integer, None, optional=True, minValue=1))
    algorithm.addParameter(Number(MAX_RADIUS, "Maximum cluster radius (metres; empty: no cap)", Number.Type.Double,
                                  None, optional=True, minValue=1e-9))


def add_strata_parameters(algorithm, input_name: str) -> None:
    algorithm.addParameter(QgsProcessingParameterField(
        STRATUM_FIELDS, "Stratum field(s) (cluster each stratum on its own)", parentLayerParameterName=input_name,
        allowMultiple=True, optional=True))
    algorithm.addParameter(QgsProcessingParameterFeatureSource(
        STRATA_TABLE, "Strata table (targets per stratum: target_weight, target_radius, max_weight, "
        "max_radius, n_clusters)", [QgsProcessing.SourceType.TypeVector], optional=True))
    for name, (_, label) in SETTING_FIELDS.items():
        algorithm.addParameter(mark_advanced(QgsProcessingParameterField(
            name, label, parentLayerParameterName=input_name, type=QgsProcessingParameterField.DataType.Numeric,
            optional=True)))


def add_centroids_sink(algorithm) -> None:
    algorithm.addParameter(QgsProcessingParameterFeatureSink(
        CENTROIDS, "Cluster centroids", QgsProcessing.SourceType.TypeVectorPoint, optional=True, createByDefault=False))


def cap_values(algorithm, parameters, context) -> dict:
    """max_radius_m and n_clusters for ClusterSettings (None when left empty)."""
    def optional(name, read):
        value = parameters.get(name)
        return None if value in (None, "") else read(parameters, name, context)

    return {"max_radius_m": optional(MAX_RADIUS, algorithm.parameterAsDouble),
            "n_clusters": optional(NUMBER_OF_CLUSTERS, algorithm.parameterAsInt)}


def plain(value):
    return None if value is None or (hasattr(value, "isNull") and value.isNull()) else value


def strata_parameter_problem(algorithm, parameters, context, layer_name=None) -> str:
    """Why the strata parameters do not fit together ("" if they do), for checkParameterValues.

    layer_name: the strata polygon parameter of a raster algorithm, which stratum fields need.
    """
    has_fields = bool(algorithm.parameterAsFields(parameters, STRATUM_FIELDS, context))
    has_targets = parameters.get(STRATA_TABLE) not in (None, "") or any(
        algorithm.parameterAsString(parameters, name, context) for name in SETTING_FIELDS)
    if has_targets and not has_fields:
        return "A strata table or per-stratum fields need stratum field(s) naming each stratum."
    if layer_name is not None and has_fields != (parameters.get(layer_name) not in (None, "")):
        return "Strata on a raster need both the strata polygons and the stratum field(s)."
    return ""


def strata_options(algorithm, parameters, context):
    """A core.strata.StrataOptions from the parameters, or None when no stratum field is chosen."""
    from core.frame.strata import StrataOptions

    fields = algorithm.parameterAsFields(parameters, STRATUM_FIELDS, context)
    setting_fields = {setting: algorithm.parameterAsString(parameters, name, context)
                      for name, (setting, _) in SETTING_FIELDS.items()}
    setting_fields = {setting: field for setting, field in setting_fields.items() if field}
    table = algorithm.parameterAsSource(parameters, STRATA_TABLE, context) if parameters.get(STRATA_TABLE) else None
    if not fields:
        if table is not None or setting_fields:
            raise QgsProcessingException("A strata table or per-stratum fields need stratum field(s): choose "
                                         "the field(s) naming each stratum (e.g. PSGC and urban).")
        return None
    rows = None
    if table is not None:
        names = table.fields().names()
        rows = [dict(zip(names, map(plain, feature.attributes()))) for feature in table.getFeatures()]
    # Strata run in parallel threads (one per core); the result is the same as one at a time.
    return StrataOptions(list(fields), rows, setting_fields, n_jobs=-1)


def write_centroids(algorithm, parameters, context, result, to_measuring, output_crs, id_field: str):
    """The CENTROIDS sink: each cluster's weighted centroid, back in the output CRS; returns its id."""
    from ..qgis_io.outputs import cluster_row_values, cluster_table_fields

    table = result.clusters
    fields = cluster_table_fields(id_field, "stratum" in table)
    sink, sink_id = algorithm.parameterAsSink(parameters, CENTROIDS, context, fields, QgsWkbTypes.Type.Point, output_crs)
    if sink is None:
        return None
    for row in range(len(table)):
        point = QgsGeometry.fromPointXY(QgsPointXY(float(table["centroid_x"][row]), float(table["centroid_y"][row])))
        point.transform(to_measuring, Qgis.TransformDirection.Reverse)
        feature = QgsFeature(fields)
        feature.setGeometry(point)
        feature.setAttributes(cluster_row_values(table, row))
        if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
            raise QgsProcessingException(algorithm.writeFeatureError(sink, parameters, CENTROIDS))
    return sink_id


def report(feedback, result) -> None:
    """Warnings the user must see: strata table rows unused, fixed counts split, clusters still too wide."""
    from core.frame.strata import count_notes

    for warning in [*getattr(result, "warnings", []), *count_notes(result)]:
        feedback.pushWarning(warning)
    wide = [str(name) for name in result.over_max_radius]
    if wide:
        feedback.pushWarning(f"{len(wide)} cluster(s) are single features wider than the maximum radius on their "
                             f"own: {', '.join(wide[:20])}{' ...' if len(wide) > 20 else ''}")
    if hasattr(result, "strata_stats"):
        for key, stats in result.strata_stats().items():
            feedback.pushInfo(f"stratum {key}: {stats['clusters']} clusters, median weight "
                              f"{stats['median_weight']:.1f}, median radius {stats['median_radius_m']:.0f} m, "
                              f"{stats['share_within_20pct']:.0%} within ±20 % of the stratum's target, "
                              f"{stats['clusters_over_max']} over its maximum weight")
