"""Writes resources/survey_frame.model3: population raster -> clusters per stratum (+ report) -> PPS sample (+ report).

Run after changing the chain:  QT_QPA_PLATFORM=offscreen .venv/bin/python tests/plugin/make_survey_model.py
(the model is plain XML; building it through the API keeps it loadable by QGIS 3.22).
"""

import sys
from pathlib import Path

# With the demo files in resources/: `make package` ships both in the plugin's demo/ folder.
REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "resources" / "survey_frame.model3"


def build_model():
    from qgis.core import (
        QgsApplication,
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterField,
        QgsProcessingParameterNumber,
        QgsProcessingParameterRasterLayer,
    )
    from qgis.PyQt.QtCore import QPointF

    Number = QgsProcessingParameterNumber
    Source = QgsProcessingModelChildParameterSource
    model = QgsProcessingModelAlgorithm("Survey frame: raster to PPS sample", "wrok", "wrok")
    model.setHelpContent({"ALG_DESC": (
        "From a population raster and strata polygons to a PPS sample of clusters with two reports: "
        "wrok:clusterraster clusters each stratum on its own (targets from the strata table) and writes the "
        "clustering report; wrok:ppssample draws n PSUs per stratum (from the sample size table or one number) "
        "with replacements and writes the sample report.")})

    def parameter(definition, y):
        model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))
        model.parameterComponent(definition.name()).setPosition(QPointF(120, y))

    table = [QgsProcessing.SourceType.TypeVector]
    parameter(QgsProcessingParameterRasterLayer("population", "Population raster"), 60)
    parameter(QgsProcessingParameterFeatureSource("strata", "Strata polygons (e.g. districts)",
                                                  [QgsProcessing.SourceType.TypeVectorPolygon]), 120)
    parameter(QgsProcessingParameterField("stratum_field", "Stratum field", None, "strata"), 180)
    parameter(QgsProcessingParameterFeatureSource("strata_table", "Targets per stratum (CSV or table)", table,
                                                  optional=True), 240)
    parameter(Number("target_weight", "Target cluster weight", Number.Type.Double, 240.0, minValue=1e-9), 300)
    parameter(Number("target_radius", "Target cluster radius (m)", Number.Type.Double, 1000.0, minValue=1e-9), 360)
    parameter(Number("max_weight", "Maximum cluster weight", Number.Type.Double, 300.0, minValue=1e-9), 420)
    parameter(QgsProcessingParameterFeatureSource("sample_sizes", "PSUs per stratum (CSV or table: stratum, n, "
                                                  "replacements)", table, optional=True), 480)
    parameter(Number("psus", "PSUs per stratum (without a table)", Number.Type.Integer, 10, minValue=1), 540)
    parameter(Number("replacements", "Replacement PSUs per stratum (without a table)", Number.Type.Integer, 0,
                     minValue=0), 600)
    parameter(Number("seed", "Random seed", Number.Type.Integer, 42), 660)

    def output(child, name, child_output, description, position):
        out = QgsProcessingModelOutput(name, description)
        out.setPosition(QPointF(*position))
        out.setChildId(child.childId())
        out.setChildOutputName(child_output)
        outputs = child.modelOutputs()
        outputs[name] = out
        child.setModelOutputs(outputs)

    def with_defaults(child):
        """Every other parameter at its default, as the modeler sets them (else it flags the child invalid)."""
        algorithm = QgsApplication.processingRegistry().algorithmById(child.algorithmId())
        for definition in algorithm.parameterDefinitions():
            hidden = definition.flags() & PARAMETER_HIDDEN  # older ids kept for saved models: not for new ones
            if not definition.isDestination() and not hidden and definition.name() not in child.parameterSources():
                child.addParameterSources(definition.name(), [Source.fromStaticValue(definition.defaultValue())])

    from wrok_plugin.compat import PARAMETER_HIDDEN

    cluster = QgsProcessingModelChildAlgorithm("wrok:clusterraster")
    cluster.setChildId("cluster")
    cluster.setDescription("Cluster each stratum")
    cluster.setPosition(QPointF(480, 300))
    for name, source in {"INPUT": "population", "STRATA_LAYER": "strata", "STRATUM_FIELDS": "stratum_field",
                         "STRATA_TABLE": "strata_table", "TARGET_WEIGHT": "target_weight",
                         "TARGET_RADIUS": "target_radius", "MAX_WEIGHT": "max_weight"}.items():
        cluster.addParameterSources(name, [Source.fromModelParameter(source)])
    output(cluster, "clusters", "OUTPUT", "Clusters", (560, 80))
    output(cluster, "cluster_numbers", "CLUSTER_RASTER", "Cluster numbers", (560, 140))
    output(cluster, "report", "REPORT", "Clustering report", (560, 200))
    with_defaults(cluster)
    model.addChildAlgorithm(cluster)

    sample = QgsProcessingModelChildAlgorithm("wrok:ppssample")
    sample.setChildId("sample")
    sample.setDescription("Draw the PPS sample")
    sample.setPosition(QPointF(800, 420))
    sample.addParameterSources("INPUT", [Source.fromChildOutput("cluster", "OUTPUT")])
    sample.addParameterSources("STRATUM_FIELD", [Source.fromStaticValue("stratum")])  # the clusters' stratum key
    for name, source in {"SIZE_TABLE": "sample_sizes", "N": "psus", "REPLACEMENTS": "replacements",
                         "SEED": "seed"}.items():
        sample.addParameterSources(name, [Source.fromModelParameter(source)])
    output(sample, "sample", "OUTPUT", "Selected clusters (PSUs)", (1000, 480))
    output(sample, "sample_report", "REPORT", "Sample report", (1000, 540))
    with_defaults(sample)
    model.addChildAlgorithm(sample)
    return model


if __name__ == "__main__":
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, str(REPO))
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing

    Processing.initialize()
    from wrok_plugin import classFactory

    plugin = classFactory(None)  # held: the provider goes with the plugin object
    plugin.initProcessing()
    model = build_model()
    valid, problems = model.validate()
    assert valid, problems
    assert model.toFile(str(MODEL)), f"could not write {MODEL}"
    print(f"wrote {MODEL}")
