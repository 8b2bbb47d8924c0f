"""wrok:ppssample - systematic PPS selection of clusters (PSUs) per stratum, as a Processing algorithm.

The draw itself is core.frame.pps (shared with `python -m core sample`); this file reads the layers, hands
plain arrays to it and writes the selected clusters and their member features.
"""

from __future__ import annotations

from qgis.core import (
    NULL,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingFeatureSource,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)

from ..compat import FieldType, mark_advanced
from ..dependencies import install_hint, missing_packages
from .base import WrokClusteringAlgorithm
from .errors import releases_locals_on_error

Number = QgsProcessingParameterNumber
DEFAULT_ID_FIELD, DEFAULT_WEIGHT_FIELD = "cluster_id", "weight"  # as wrok:tunedclustering writes them
SAMPLE_FIELDS = [  # name, type, what it holds
    ("inclusion_prob", FieldType.Double, "double"),
    ("design_weight", FieldType.Double, "double"),
    ("selection_order", FieldType.Int, "integer"),
    ("certainty", FieldType.Bool, "boolean"),
    ("replacement", FieldType.Bool, "boolean"),
]

HELP = """<p>Selects primary sampling units (PSUs) from a cluster layer, such as the <i>Clusters</i> output of
<b>Tuned Weight/Radius Clustering</b>, by <b>systematic sampling with probability proportional to size</b>
(PPS), in each stratum.</p>
<ul>
<li>The frame is the clusters sorted by the <i>frame order field</i> (default: the cluster ID). Sort by a
field that follows the map (a serpentine number, an admin code) to spread the PSUs over each stratum.</li>
<li>A cluster at least as heavy as the sampling interval (stratum total / n) is a <b>certainty</b> selection;
it is taken out and the interval recomputed on the rest, until no cluster reaches it.</li>
<li>The others are hit from a random start drawn from the seed (0 or more); each stratum has its own random
stream, from the full seed and the stratum's name, so one stratum's sample does not depend on the others.</li>
<li><b>Replacements</b>: a reserve list per stratum, drawn by the same method among the clusters not in
the main sample and then put in a random order, so the first replacement is anywhere along the frame. Given
the main sample, a cluster is in the reserve with probability replacements × size / (total size not in the
main sample). Use them in <i>selection_order</i> when a PSU cannot be surveyed. Asking for replacements
never changes the main sample.</li>
</ul>
<p>Sample sizes: one number for every stratum, or a table (a CSV file or a table layer) with a column named
like the stratum field (or <i>stratum</i>), a column <i>n</i>, and optionally <i>replacements</i>. An
<i>n</i> of 0 is an error; write <i>not sampled</i> in the n cell to leave a stratum out on purpose.</p>
<p>Outputs: the selected clusters with <i>inclusion_prob</i>, <i>design_weight</i> (1 / inclusion_prob),
<i>selection_order</i>, <i>certainty</i> and <i>replacement</i>; with a member features layer (the
<i>Clustered features</i> output), also every member feature of the selected clusters with the same
fields. Replacements carry the probability and weight they have under the main design.</p>"""


def _field_param(name, label, parent, default=None, numeric=False, optional=False):
    return QgsProcessingParameterField(
        name, label, defaultValue=default, parentLayerParameterName=parent, optional=optional,
        type=QgsProcessingParameterField.DataType.Numeric if numeric else QgsProcessingParameterField.DataType.Any)


class PpsSampleAlgorithm(WrokClusteringAlgorithm):
    INPUT = "INPUT"
    ID_FIELD = "ID_FIELD"
    WEIGHT_FIELD = "WEIGHT_FIELD"
    STRATUM_FIELD = "STRATUM_FIELD"
    N = "N"
    SIZE_TABLE = "SIZE_TABLE"
    REPLACEMENTS = "REPLACEMENTS"
    SEED = "SEED"
    SORT_FIELD = "SORT_FIELD"
    MEMBERS = "MEMBERS"
    OUTPUT = "OUTPUT"
    MEMBERS_OUTPUT = "MEMBERS_OUTPUT"
    REPORT = "REPORT"

    def name(self):
        return "ppssample"

    def displayName(self):
        return "PPS Sample of Clusters"

    def tags(self):
        return ["pps", "sample", "sampling", "psu", "survey", "systematic", "stratum", "design weight"]

    def shortHelpString(self):
        return HELP.replace("\n", " ")  # the dialog turns newlines into line breaks

    def createInstance(self):
        return PpsSampleAlgorithm()

    def canExecute(self):
        missing = missing_packages((("numpy", "numpy"),))  # the draw needs numpy only
        return (False, install_hint(missing)) if missing else (True, "")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.INPUT, "Cluster layer (one feature per cluster)", [QgsProcessing.SourceType.TypeVector]))
        # Optional with a fallback: QGIS 3.22 rejects a field parameter left at its default when not given.
        self.addParameter(_field_param(self.ID_FIELD, "Cluster ID field (empty: cluster_id)", self.INPUT,
                                       DEFAULT_ID_FIELD, optional=True))
        self.addParameter(_field_param(self.WEIGHT_FIELD, "Size measure field (empty: weight)", self.INPUT,
                                       DEFAULT_WEIGHT_FIELD, numeric=True, optional=True))
        self.addParameter(_field_param(self.STRATUM_FIELD, "Stratum field (empty: one stratum)", self.INPUT,
                                       optional=True))
        self.addParameter(Number(self.N, "PSUs to select per stratum", Number.Type.Integer, 10, minValue=1))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.SIZE_TABLE, "Sample size table per stratum (CSV or table layer; replaces the number above)",
            [QgsProcessing.SourceType.TypeVector], optional=True))
        self.addParameter(Number(self.REPLACEMENTS, "Replacement PSUs per stratum", Number.Type.Integer, 0, minValue=0))
        self.addParameter(Number(self.SEED, "Random seed", Number.Type.Integer, 42, minValue=0))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.MEMBERS, "Member features (clustered features with the cluster ID field)",
            [QgsProcessing.SourceType.TypeVectorAnyGeometry], optional=True))
        order = _field_param(self.SORT_FIELD, "Frame order field (empty: the cluster ID)", self.INPUT, optional=True)
        mark_advanced(order)
        self.addParameter(order)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, "Selected clusters", QgsProcessing.SourceType.TypeVectorAnyGeometry))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.MEMBERS_OUTPUT, "Member features of the selected clusters", QgsProcessing.SourceType.TypeVectorAnyGeometry,
            optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterFileDestination(  # .html: the Results Viewer lists it
            self.REPORT, "Sample report (HTML)", "HTML files (*.html)", optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("SELECTED", "PSUs selected (main sample)"))
        self.addOutput(QgsProcessingOutputNumber("REPLACEMENT_COUNT", "Replacement PSUs"))
        self.addOutput(QgsProcessingOutputNumber("CERTAINTY", "Certainty selections"))
        self.addOutput(QgsProcessingOutputNumber("MEMBER_COUNT", "Member features written"))

    @releases_locals_on_error
    def checkParameterValues(self, parameters, context):
        ok, message = super().checkParameterValues(parameters, context)
        if ok and parameters.get(self.SIZE_TABLE) and not parameters.get(self.STRATUM_FIELD):
            return False, ("A sample size table gives n per stratum: choose the stratum field too (or leave the "
                           "table empty and give one number for all clusters).")
        if ok:
            try:
                self._check_destinations(parameters, context)
            except QgsProcessingException as exc:
                return False, str(exc)
        return ok, message

    def _check_destinations(self, parameters, context):
        """No output may replace the cluster or member layer's file (the shared rule of wrok's algorithms)."""
        from .clustering_algorithm import check_destination

        inputs = [self.parameterAsVectorLayer(parameters, name, context) for name in (self.INPUT, self.MEMBERS)
                  if parameters.get(name)]
        for sink in (self.OUTPUT, self.MEMBERS_OUTPUT):
            for layer in filter(None, inputs):
                check_destination(self.parameterAsOutputLayer(parameters, sink, context), layer)

    @releases_locals_on_error
    def processAlgorithm(self, parameters, context, feedback):
        ok, why = self.canExecute()  # qgis_process 3.22 runs algorithms without asking canExecute()
        if not ok:
            raise QgsProcessingException(why)
        import numpy as np

        from core.params import ClusteringInputError

        self._check_destinations(parameters, context)  # again: a model runs its children unchecked
        source = self._source(parameters, self.INPUT, context)
        id_field = self.parameterAsString(parameters, self.ID_FIELD, context) or DEFAULT_ID_FIELD
        weight_field = self.parameterAsString(parameters, self.WEIGHT_FIELD, context) or DEFAULT_WEIGHT_FIELD
        stratum_field = self.parameterAsString(parameters, self.STRATUM_FIELD, context) or None
        sort_field = self.parameterAsString(parameters, self.SORT_FIELD, context) or id_field
        _check_fields(source, "cluster layer", [id_field, weight_field, stratum_field, sort_field])
        members = self._source(parameters, self.MEMBERS, context) if parameters.get(self.MEMBERS) else None
        if members is not None:
            _check_fields(members, "member features layer", [id_field])
        try:
            sizes = self._sample_sizes(parameters, context, stratum_field)
            features = sorted(every_feature(source), key=lambda f: _sort_key(f[sort_field]))
            ids = [str(f[id_field]) for f in features]
            if members is not None:
                _check_members_cover(members, id_field, ids)
            weights = np.array([_number(f[weight_field]) for f in features], dtype=float)
            sample = _select(features, ids, weights, stratum_field, sizes, parameters, self, context)
        except ClusteringInputError as exc:
            raise QgsProcessingException(f"Cannot draw the sample: {exc}.") from None
        feedback.pushInfo(_describe(sample))
        values = {ids[row]: _sample_values(sample, k) for k, row in enumerate(sample.index)}
        results = {"SELECTED": int((~sample.replacement).sum()), "REPLACEMENT_COUNT": int(sample.replacement.sum()),
                   "CERTAINTY": int(sample.certainty.sum()), "MEMBER_COUNT": 0, self.MEMBERS_OUTPUT: None}
        results[self.OUTPUT] = self._write(parameters, self.OUTPUT, context, source,
                                           (features[row] for row in sample.index), id_field, values, feedback)
        if members is None and parameters.get(self.MEMBERS_OUTPUT):
            feedback.pushInfo("No member features layer given: the member output is not written.")
        if members is not None:
            chosen = (f for f in every_feature(members) if str(f[id_field]) in values)
            counted = _Counter(chosen)
            results[self.MEMBERS_OUTPUT] = self._write(parameters, self.MEMBERS_OUTPUT, context, members, counted,
                                                       id_field, values, feedback)
            results["MEMBER_COUNT"] = counted.count
        from ..qgis_io.sample_styling import style_sample_output

        style_sample_output(context, results[self.OUTPUT], "PPS sample", id_field, label=True)
        style_sample_output(context, results[self.MEMBERS_OUTPUT], "PPS sample members", id_field, label=False)
        from core.io.layer_style import sample_style

        from ..qgis_io.stored_styles import note_style

        note_style(self, results[self.OUTPUT], sample_style(id_field, label=True))
        note_style(self, results[self.MEMBERS_OUTPUT], sample_style(id_field, label=False))
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            inputs = {"cluster layer": source.sourceName(), "size measure": weight_field,
                      "stratum field": stratum_field or "(none)", "frame order": sort_field,
                      "seed": self.parameterAsInt(parameters, self.SEED, context),
                      "sample sizes": "table" if parameters.get(self.SIZE_TABLE) else
                      self.parameterAsInt(parameters, self.N, context)}
            results[self.REPORT] = _write_report(report, sample, features, ids, weights, source, inputs)
        return results

    def _source(self, parameters, name, context):
        source = self.parameterAsSource(parameters, name, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, name))
        return source

    def _sample_sizes(self, parameters, context, stratum_field):
        from core.frame.pps import sample_sizes_from_rows

        replacements = self.parameterAsInt(parameters, self.REPLACEMENTS, context)
        if not parameters.get(self.SIZE_TABLE):
            return self.parameterAsInt(parameters, self.N, context), replacements
        table = self._source(parameters, self.SIZE_TABLE, context)
        names = table.fields().names()
        rows = [dict(zip(names, (None if v == NULL else v for v in f.attributes()))) for f in every_feature(table)]
        return sample_sizes_from_rows(rows, stratum_field, f"'{table.sourceName()}'", replacements), 0

    def _write(self, parameters, name, context, source, features, id_field, values, feedback):
        fields = _output_fields(source.fields())
        sink, sink_id = self.parameterAsSink(parameters, name, context, fields, source.wkbType(), source.sourceCrs())
        if sink is None:
            return None
        for feature in features:
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled while writing; the outputs are incomplete.")
            out = QgsFeature(fields)
            out.setGeometry(feature.geometry())
            out.setAttributes(feature.attributes() + values[str(feature[id_field])])
            if not sink.addFeature(out, QgsFeatureSink.Flag.FastInsert):
                raise QgsProcessingException(self.writeFeatureError(sink, parameters, name))
        return sink_id


def every_feature(source, request=None):
    """All features, whatever the invalid-geometry setting: a PPS frame that silently lost a cluster would
    give every other cluster a wrong probability, and geometry plays no part in the draw."""
    return source.getFeatures(request or QgsFeatureRequest(), QgsProcessingFeatureSource.Flag.FlagSkipGeometryValidityChecks)


class _Counter:
    """Counts the features that pass through (the members written)."""

    def __init__(self, features):
        self.features, self.count = features, 0

    def __iter__(self):
        for feature in self.features:
            self.count += 1
            yield feature


def _check_fields(source, what, names):
    present = source.fields().names()
    for name in filter(None, names):
        if name not in present:
            raise QgsProcessingException(f"Field '{name}' is not in the {what} (fields: {', '.join(present)}).")
    clash = [name for name, _, _ in SAMPLE_FIELDS if name in present]
    if clash:
        raise QgsProcessingException(f"The {what} already has the field(s) {', '.join(clash)} (is it a sample "
                                     "already?); rename or drop them first.")


def _check_members_cover(members, id_field, ids):
    """Every cluster must have member features there, or the layers do not belong together."""
    from core.params import ClusteringInputError

    request = QgsFeatureRequest().setFlags(QgsFeatureRequest.Flag.NoGeometry).setSubsetOfAttributes([id_field],
                                                                                              members.fields())
    present = {str(f[id_field]) for f in every_feature(members, request)}
    absent = [name for name in ids if name not in present]
    if absent:
        raise ClusteringInputError(f"{len(absent)} cluster(s) have no member features: {', '.join(absent[:5])}; "
                                   "is the member layer the clustered layer of these clusters?")


def _sort_key(value):
    return (value == NULL or value is None, value if value != NULL else 0)


def _number(value):
    return float("nan") if value == NULL or value is None else value


def _select(features, ids, weights, stratum_field, sizes, parameters, algorithm, context):
    from core.frame.pps import select_pps

    n, replacements = sizes
    strata = [None if f[stratum_field] == NULL else f[stratum_field] for f in features] if stratum_field else None
    seed = algorithm.parameterAsInt(parameters, algorithm.SEED, context)
    return select_pps(ids, weights, n, strata, seed=seed, replacements=replacements)


def _sample_values(sample, k):
    return [float(sample.inclusion_prob[k]), float(sample.design_weight[k]), int(sample.selection_order[k]),
            bool(sample.certainty[k]), bool(sample.replacement[k])]


def _output_fields(input_fields):
    fields = QgsFields(input_fields)
    for name, kind, type_name in SAMPLE_FIELDS:
        fields.append(QgsField(name, kind, type_name))
    return fields


def _write_report(path, sample, features, ids, weights, source, inputs) -> str:
    """The sample report; its map draws the clusters' polygons (outer rings), or the hulls of their points."""
    import numpy as np

    from core.engine.hulls import convex_hulls
    from core.report.html import degree_stretch
    from core.report.sample import write_sample_report

    outlines = [_rings(feature.geometry(), np, convex_hulls) for feature in features]
    latitudes = [ring[:, 1].mean() for rings in outlines for ring in rings if len(ring)]
    stretch = degree_stretch(latitudes) if latitudes and source.sourceCrs().isGeographic() else 1.0
    write_sample_report(path, sample, ids, weights, outlines=outlines if latitudes else None, y_stretch=stretch,
                        inputs=inputs, title=f"wrok PPS sample: {source.sourceName()}")
    return str(path)


def _rings(geometry, np, convex_hulls):
    if geometry.isNull():
        return []
    if geometry.type() == QgsWkbTypes.GeometryType.PolygonGeometry:
        polygons = geometry.asMultiPolygon() if geometry.isMultipart() else [geometry.asPolygon()]
        return [np.array([(p.x(), p.y()) for p in polygon[0]]) for polygon in polygons if polygon]
    points = np.array([(v.x(), v.y()) for v in geometry.vertices()])
    return convex_hulls(points[:, 0], points[:, 1], np.zeros(len(points), dtype=np.int64), 1)


def _describe(sample) -> str:
    lines = []
    for stratum in sample.strata:
        label = f"stratum {stratum['stratum']}: " if stratum["stratum"] else ""
        if not stratum["sampled"]:
            lines.append(f"{label}not sampled ({stratum['clusters']} clusters)")
            continue
        lines.append(f"{label}{stratum['n']} of {stratum['clusters']} clusters ({stratum['certainty']} certainty), "
                     f"{stratum['replacements']} replacement(s), interval {stratum['interval']:.6g}, "
                     f"start {stratum['start']:.6g}")
    return "\n".join(lines)
