"""Cluster fields written back into the input: the undoable QgsTask and the headless in-place option."""

import shutil
import time

import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsProject, QgsVectorLayer
from qgis.PyQt.QtCore import QCoreApplication

from ..conftest import REPO
from ..helpers import QUICK, column, run_algorithm
from ..layers import point_layer, sample_points

FIELDS = ["cluster_id", "cluster_weight", "cluster_pass"]


def settings(**overrides):
    from wrok_plugin.qgis_io.clustering import ClusterSettings

    values = dict(weight_field="population", initial_trials=QUICK["INITIAL_TRIALS"],
                  subsequent_trials=QUICK["SUBSEQUENT_TRIALS"])
    values.update(overrides)
    return ClusterSettings(**values)


def make_task(layer, messages, **overrides):
    from wrok_plugin.writeback.task import ClusterLayerTask

    return ClusterLayerTask(layer, settings(**overrides), on_message=lambda level, text: messages.append(level))


def test_task_writes_through_the_edit_buffer_and_undoes(wrok_plugin):
    xy, weights = sample_points()
    layer = point_layer(xy, weights)
    before = [f.attributes() for f in layer.getFeatures()]
    expected = run_algorithm(layer)["OUTPUT"]  # same engine, same settings
    messages = []
    task = make_task(layer, messages)
    task.finished(task.run())
    assert messages == ["success"] and task.updated == len(xy)
    assert layer.isEditable() and layer.isModified()
    for name in FIELDS:
        assert column(layer, name) == column(expected, name)
    layer.undoStack().undo()  # one command covers the new fields and every value
    assert [f.name() for f in layer.fields()][-3:] == ["name", "population", "code"]
    assert [f.attributes() for f in layer.getFeatures()] == before
    layer.undoStack().redo()
    assert layer.commitChanges()
    assert column(layer, "cluster_id") == column(expected, "cluster_id")


def test_task_overwrites_existing_fields_and_respects_selection(wrok_plugin):
    xy, weights = sample_points()
    layer = point_layer(xy, weights)
    messages = []
    first = make_task(layer, messages)
    first.finished(first.run())
    layer.commitChanges()
    chosen = [f.id() for f in layer.getFeatures()][:90]
    layer.selectByIds(chosen)
    second = make_task(layer, messages, selected_only=True, target_weight=100, max_weight=120)
    second.finished(second.run())
    assert [f.name() for f in layer.fields()].count("cluster_id") == 1
    weights_now = {f.id(): f["cluster_weight"] for f in layer.getFeatures()}
    assert max(weights_now[fid] for fid in chosen) <= 120
    assert second.updated == 90


def test_cancelled_or_failed_task_leaves_the_layer_unchanged(wrok_plugin):
    xy, weights = sample_points()
    layer = point_layer(xy, weights)
    messages = []
    cancelled = make_task(layer, messages)
    cancelled.cancel()
    cancelled.finished(cancelled.run())
    failed = make_task(layer, messages, weight_field="people")
    failed.finished(failed.run())
    assert messages == ["info", "error"] and "'people' is not in the input layer" in str(failed.error)
    assert not layer.isEditable() and [f.name() for f in layer.fields()] == ["name", "population", "code"]


def test_task_runs_in_the_task_manager(wrok_plugin):
    layer = point_layer(*sample_points())
    messages = []
    task = make_task(layer, messages)
    ended = []
    task.taskCompleted.connect(lambda: ended.append("completed"))
    task.taskTerminated.connect(lambda: ended.append("terminated"))
    QgsApplication.taskManager().addTask(task)  # the manager deletes the task once it is done
    deadline = time.monotonic() + 60
    while not (ended and messages) and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert ended == ["completed"] and messages == ["success"]
    assert layer.fields().lookupField("cluster_id") >= 0


def test_update_in_place_commits_to_a_geopackage(wrok_plugin, tmp_path):
    source = tmp_path / "population.gpkg"
    shutil.copy(REPO / "resources" / "demo_population.gpkg", source)
    layer = QgsVectorLayer(str(source), "population", "ogr")
    QgsProject.instance().addMapLayer(layer)
    try:
        results = run_algorithm(layer, UPDATE_INPUT=True, OUTPUT=str(tmp_path / "out.gpkg"))
        output = QgsVectorLayer(results["OUTPUT"], "output", "ogr")
        assert results["UPDATED_FEATURES"] == 6000
        assert column(layer, "cluster_id") == column(output, "cluster_id")  # project layer reloaded
        assert not results["CLUSTERS"]  # a temporary output is skipped when updating in place
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    reopened = QgsVectorLayer(str(source), "again", "ogr")
    assert column(reopened, "cluster_id") == column(output, "cluster_id")
    assert column(reopened, "cluster_pass") == column(output, "cluster_pass")


def test_update_in_place_refuses_temporary_layers(wrok_plugin):
    layer = point_layer(*sample_points(n=30))
    with pytest.raises(QgsProcessingException, match="temporary layer"):
        run_algorithm(layer, UPDATE_INPUT=True)
