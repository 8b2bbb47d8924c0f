"""Writes survey_frame.model3: population -> clusters (+ report) -> PPS sample (+ report), as the modeler would.

Run after changing the chain:  QT_QPA_PLATFORM=offscreen .venv/bin/python tests/plugin/make_survey_model.py
(the model is plain XML; building it through the API keeps it loadable by QGIS 3.22).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = HERE / "survey_frame.model3"


def build_model():
    from qgis.core import (
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterField,
        QgsProcessingParameterNumber,
        QgsProcessingParameterVectorLayer,
    )
    from qgis.PyQt.QtCore import QPointF

    Number = QgsProcessingParameterNumber
    Source = QgsProcessingModelChildParameterSource
    model = QgsProcessingModelAlgorithm("Survey frame: clusters, PPS sample, report", "wrok", "wrok")
    model.setHelpContent({"ALG_DESC": (
        "From a population layer to a PPS sample of clusters with a report: wrok:tunedclustering makes the "
        "clusters (and the HTML report), wrok:ppssample draws the PSUs and their member features.")})

    def parameter(definition, y):
        model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))
        model.parameterComponent(definition.name()).setPosition(QPointF(120, y))

    parameter(QgsProcessingParameterVectorLayer("population", "Population (points or polygons)",
                                                [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]), 60)
    parameter(QgsProcessingParameterField("weight_field", "Weight field", "population", "population",
                                          QgsProcessingParameterField.Numeric), 120)
    parameter(Number("target_weight", "Target cluster weight", Number.Double, 240.0, minValue=1e-9), 180)
    parameter(Number("target_radius", "Target cluster radius (m)", Number.Double, 1000.0, minValue=1e-9), 240)
    parameter(Number("max_weight", "Maximum cluster weight", Number.Double, 300.0, minValue=1e-9), 300)
    parameter(Number("psus", "PSUs to select per stratum", Number.Integer, 10, minValue=1), 360)
    parameter(Number("replacements", "Replacement PSUs per stratum", Number.Integer, 0, minValue=0), 420)
    parameter(Number("seed", "Random seed", Number.Integer, 42), 480)

    def output(child, name, child_output, description):
        out = QgsProcessingModelOutput(name, description)
        out.setChildId(child.childId())
        out.setChildOutputName(child_output)
        outputs = child.modelOutputs()
        outputs[name] = out
        child.setModelOutputs(outputs)

    cluster = QgsProcessingModelChildAlgorithm("wrok:tunedclustering")
    cluster.setChildId("cluster")
    cluster.setDescription("Cluster the population")
    cluster.setPosition(QPointF(450, 200))
    for name, source in {"INPUT": "population", "WEIGHT_FIELD": "weight_field", "TARGET_WEIGHT": "target_weight",
                         "TARGET_RADIUS": "target_radius", "MAX_WEIGHT": "max_weight"}.items():
        cluster.addParameterSources(name, [Source.fromModelParameter(source)])
    cluster.addParameterSources("OUTPUT", [Source.fromStaticValue("TEMPORARY_OUTPUT")])
    output(cluster, "clusters", "CLUSTERS", "Clusters")
    output(cluster, "report", "REPORT", "Clustering report")
    model.addChildAlgorithm(cluster)

    sample = QgsProcessingModelChildAlgorithm("wrok:ppssample")
    sample.setChildId("sample")
    sample.setDescription("Draw the PPS sample")
    sample.setPosition(QPointF(780, 300))
    sample.addParameterSources("INPUT", [Source.fromChildOutput("cluster", "CLUSTERS")])
    sample.addParameterSources("MEMBERS", [Source.fromChildOutput("cluster", "OUTPUT")])
    for name, source in {"N": "psus", "REPLACEMENTS": "replacements", "SEED": "seed"}.items():
        sample.addParameterSources(name, [Source.fromModelParameter(source)])
    output(sample, "sample", "OUTPUT", "Selected clusters (PSUs)")
    output(sample, "sample_members", "MEMBERS_OUTPUT", "Member features of the PSUs")
    output(sample, "sample_report", "REPORT", "Sample report")
    model.addChildAlgorithm(sample)
    return model


if __name__ == "__main__":
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, str(HERE.parents[1]))
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing

    Processing.initialize()
    from wrok_plugin import classFactory

    classFactory(None).initProcessing()
    assert build_model().toFile(str(MODEL)), f"could not write {MODEL}"
    print(f"wrote {MODEL}")
