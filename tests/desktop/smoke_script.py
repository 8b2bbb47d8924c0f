"""Startup script for the real QGIS desktop (`qgis --code smoke_script.py`), driven by test_desktop_smoke.py.

Clicks through the plugin as a user would and writes what it saw to $WROK_SMOKE_RESULTS (JSON):
each algorithm opened from the Processing toolbox (canExecute + its dialog), the clustering run from
its dialog with the styled outputs loaded, the write-back action three times with undo in between,
a cancelled write-back, and a screenshot of the main window. Python errors QGIS would show in a
dialog are recorded instead. The steps run from a QTimer so QGIS's own event loop (tasks, dialogs)
keeps going; blocking dialogs are opened from a timer and closed by the next step.
"""

import json
import os
import sys
import time
import traceback

import qgis.utils
from qgis.core import Qgis, QgsApplication, QgsFeature, QgsProject, QgsVectorLayer
from qgis.gui import QgsMessageBarItem
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QApplication

RESULTS = os.environ["WROK_SMOKE_RESULTS"]
DATA = os.environ["WROK_SMOKE_DATA"]  # a writable copy of the demo population GeoPackage
SCREENSHOT = os.environ["WROK_SMOKE_SCREENSHOT"]
STEP_TIMEOUT_S = float(os.environ.get("WROK_SMOKE_STEP_TIMEOUT", 600))  # a hang guard for one step; the test has its own overall timeout
seen = {"errors": [], "steps": [], "messages": [], "log": [], "trace": []}


def record_python_error(*args, **kwargs):
    # qgis.utils.showException would open a modal dialog and wait for a click that never comes.
    seen["errors"].append("".join(traceback.format_exception(*args[:3])) if len(args) >= 3 else repr(args))


qgis.utils.showException = record_python_error
sys.excepthook = lambda *args: record_python_error(*args)


def on_log(message, tag, level):
    if level == Qgis.MessageLevel.Critical and tag in ("Python error", "wrok", "Processing", "Plugins"):
        seen["log"].append(f"{tag}: {message}")


QgsApplication.messageLog().messageReceived.connect(on_log)


def on_message(item):
    item = sip.cast(item, QgsMessageBarItem)  # the signal hands over a plain QWidget wrapper
    seen["messages"].append(f"{item.title()}: {item.text()}")


qgis.utils.iface.messageBar().widgetAdded.connect(on_message)


def heavy_modules():  # judged against QGIS's own by tests/heavy_modules.py
    return {name: getattr(sys.modules[name], "__file__", None)
            for name in ("geopandas", "pyproj", "shapely", "pyogrio") if sys.modules.get(name) is not None}


def visible_dialog(kind_name):
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible() and type(widget).__name__ == kind_name:
            return widget
    return None


def select_in_toolbox(toolbox, algorithm_id):
    tree = toolbox.algorithmTree
    tree.setFilterString(QgsApplication.processingRegistry().algorithmById(algorithm_id).displayName())
    model = tree.model()
    pending = [model.index(row, 0) for row in range(model.rowCount())]
    while pending:
        index = pending.pop()
        algorithm = tree.algorithmForIndex(index)
        if algorithm is not None and algorithm.id() == algorithm_id:
            tree.setCurrentIndex(index)
            return True
        pending += [model.index(row, 0, index) for row in range(model.rowCount(index))]
    return False


def demo_subset(count):
    """A memory copy of the first `count` demo features: the write-back edits it through the edit buffer."""
    source = QgsVectorLayer(DATA, "demo", "ogr")
    layer = QgsVectorLayer(f"Point?crs={source.crs().authid()}", "households", "memory")
    layer.dataProvider().addAttributes(source.fields().toList())
    layer.updateFields()
    features = []
    for feature in source.getFeatures():
        if len(features) == count:
            break
        copy = QgsFeature(layer.fields())
        copy.setGeometry(feature.geometry())
        copy.setAttributes(feature.attributes())
        features.append(copy)
    layer.dataProvider().addFeatures(features)
    return layer


def scenario():
    iface = qgis.utils.iface
    plugin = qgis.utils.plugins.get("wrok_plugin")
    seen["plugin_loaded"] = plugin is not None
    seen["heavy_at_start"] = heavy_modules()
    seen["engine_at_start"] = sorted(m for m in ("sklearn", "optuna") if m in sys.modules)
    if plugin is None:
        return
    import core

    seen["core_file"] = core.__file__

    # 1. Each algorithm from the Processing toolbox: canExecute, then its dialog.
    toolbox = qgis.utils.plugins["processing"].toolbox
    seen["opened"] = {}
    for algorithm_id in ("wrok:tunedclustering", "wrok:submitaws"):
        if not select_in_toolbox(toolbox, algorithm_id):
            seen["opened"][algorithm_id] = "not in the toolbox"
            continue
        QTimer.singleShot(0, toolbox.executeAlgorithm)  # blocks in exec_() until the dialog closes
        dialog = yield lambda: visible_dialog("AlgorithmDialog") or visible_dialog("MessageDialog")
        seen["opened"][algorithm_id] = [type(dialog).__name__, dialog.windowTitle()]
        dialog.close()  # the toolbox's dialogs delete themselves on close
        yield lambda dialog=dialog: sip.isdeleted(dialog) or not dialog.isVisible()
    seen["heavy_after_dialogs"] = heavy_modules()
    seen["steps"].append("toolbox")

    # 2. The clustering from its dialog, outputs loaded and styled.
    from processing.gui.AlgorithmDialog import AlgorithmDialog

    population = QgsVectorLayer(DATA, "population", "ogr")
    QgsProject.instance().addMapLayer(population)
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("wrok:tunedclustering")
    dialog = AlgorithmDialog(algorithm, False, iface.mainWindow())
    dialog.show()
    seen["preselected_weight"] = dialog.createProcessingParameters().get("WEIGHT_FIELD")
    dialog.setParameters({"INPUT": population.id(), "WEIGHT_FIELD": "population", "TARGET_WEIGHT": 240,
                          "TARGET_RADIUS": 1000, "MAX_WEIGHT": 300, "INITIAL_TRIALS": 20, "SUBSEQUENT_TRIALS": 5,
                          "OUTPUT": "TEMPORARY_OUTPUT", "OUTLINES": "TEMPORARY_OUTPUT"})
    dialog.runAlgorithm()

    def loaded():
        names = [layer.name() for layer in QgsProject.instance().mapLayers().values()]
        return "Clusters (240 / 1000 m)" in names and "Clustered features (240 / 1000 m)" in names

    yield loaded
    dialog.close()
    layers = {layer.name(): layer for layer in QgsProject.instance().mapLayers().values()}
    hulls, clustered = layers["Clusters (240 / 1000 m)"], layers["Clustered features (240 / 1000 m)"]
    hull_categories, feature_categories = hulls.renderer().categories(), clustered.renderer().categories()
    seen["styled"] = {
        "clusters": [hulls.renderer().type(), len(hull_categories), hulls.featureCount(), hulls.labelsEnabled(),
                     hull_categories[0].symbol().symbolLayer(0).fillColor().alpha()],
        "features": [clustered.renderer().type(), len(feature_categories)],
    }
    seen["steps"].append("clustering")

    # 3. Screenshot of the main window with the styled result.
    iface.setActiveLayer(hulls)
    population.setSubsetString("")  # the input stays listed but drawn under the results
    QgsProject.instance().layerTreeRoot().findLayer(population.id()).setItemVisibilityChecked(False)
    canvas = iface.mapCanvas()
    canvas.setExtent(hulls.extent())
    canvas.refreshAllLayers()
    started = time.monotonic()
    yield lambda: time.monotonic() - started > 2 and not canvas.isDrawing()
    seen["screenshot"] = SCREENSHOT if iface.mainWindow().grab().save(SCREENSHOT) else "not saved"
    seen["steps"].append("screenshot")

    # 4. The write-back action three times in one session, with undo in between.
    households = demo_subset(1500)
    QgsProject.instance().addMapLayer(households)
    iface.setActiveLayer(households)
    seen["write_back"] = []
    for _ in range(3):
        iface.messageBar().clearWidgets()  # QGIS drops a message identical to one still shown
        before = len(seen["messages"])
        QTimer.singleShot(0, plugin.gui.action.trigger)  # opens the modal write-back dialog
        settings_dialog = yield lambda: visible_dialog("ClusterLayerDialog")
        chosen = settings_dialog.weight_box.currentField()
        settings_dialog.accept()
        seen["trace"].append(f"write-back accepted; tasks {len(plugin.gui.tasks)}")
        yield lambda before=before: any("clusters written" in m or "Could not" in m for m in seen["messages"][before:])
        fields = households.fields().names()
        undo = households.undoStack()
        undo.undo()
        seen["write_back"].append({"preselected_weight": chosen, "had_cluster_field": "cluster_id" in fields,
                                   "after_undo": "cluster_id" in households.fields().names(),
                                   "messages": seen["messages"][before:]})
    seen["steps"].append("write_back")

    # 5. Cancel a write-back run (the 6000-feature layer: long enough to be caught running).
    households.rollBack()
    iface.messageBar().clearWidgets()
    iface.setActiveLayer(population)
    before = len(seen["messages"])
    QTimer.singleShot(0, plugin.gui.action.trigger)
    settings_dialog = yield lambda: visible_dialog("ClusterLayerDialog")
    settings_dialog.accept()
    # Runs once the dialog's exec_() has returned and the action has queued its task.
    QTimer.singleShot(0, lambda: [task.cancel() for task in plugin.gui.tasks if not sip.isdeleted(task)])
    yield lambda: any("Cancelled" in m or "clusters written" in m or "Could not" in m
                      for m in seen["messages"][before:])
    seen["cancel"] = {"messages": seen["messages"][before:], "layer_changed": population.isModified()
                      or "cluster_id" in population.fields().names()}
    seen["steps"].append("cancel")
    seen["heavy_at_end"] = heavy_modules()


def finish(code=0):
    seen["finished"] = True
    with open(RESULTS, "w") as out:
        json.dump(seen, out, indent=1, default=str)
    QgsProject.instance().clear()
    QgsProject.instance().setDirty(False)
    QTimer.singleShot(100, lambda: QgsApplication.exit(code))


def drive(steps):
    """Advance the scenario each time the condition it yielded holds; give up on a step after STEP_TIMEOUT_S."""
    state = {"waiting": None, "since": time.monotonic(), "busy": False}
    timer = QTimer()

    def tick():
        if state["busy"]:
            return
        state["busy"] = True
        try:
            value = state["waiting"]() if state["waiting"] else True
            if not value:
                if time.monotonic() - state["since"] > STEP_TIMEOUT_S:
                    seen["errors"].append(f"step {len(seen['steps'])} timed out")
                    timer.stop()
                    finish(1)
                return
            state["waiting"] = steps.send(value if state["waiting"] else None)
            state["since"] = time.monotonic()
        except StopIteration:
            timer.stop()
            finish(0)
        except Exception:
            seen["errors"].append(traceback.format_exc())
            timer.stop()
            finish(1)
        finally:
            state["busy"] = False

    timer.timeout.connect(tick)
    timer.start(200)
    return timer


_keep = drive(scenario())  # the timer must outlive this script's module scope
