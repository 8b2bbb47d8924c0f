"""Desktop-only parts: the 'cluster the active layer' action, its dialog, the install offer."""

from __future__ import annotations

import re

from qgis.core import Qgis, QgsApplication, QgsFieldProxyModel, QgsMapLayerProxyModel, QgsSettings, QgsTask
from qgis.gui import QgsFieldComboBox, QgsMapLayerComboBox
from qgis.PyQt import sip
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
)

from core.frame.fields import DEFAULT_ID_FIELD

from ..compat import QAction
from ..dependencies import install_hint, missing_packages
from ..plugin_files import icon_path
from ..qgis_io.clustering import DEFAULTS, STRATEGY_CHOICES, ClusterSettings, preferred_weight_field
from .install_dialog import InstallDialog

MENU = "&wrok"
AWS_ALGORITHM_ID = "wrok:submitaws"
SETTINGS_PREFIX = "wrok/action/"
MESSAGE_LEVELS = {"info": Qgis.MessageLevel.Info, "success": Qgis.MessageLevel.Success,
                  "error": Qgis.MessageLevel.Critical}


class ClusterLayerDialog(QDialog):
    """The few parameters most runs change; the Processing dialog has the rest."""

    def __init__(self, layer, parent=None):
        super().__init__(parent)
        self.setWindowTitle("wrok: cluster layer and write the cluster fields")
        form = QFormLayout(self)
        self.layer_box = QgsMapLayerComboBox()
        self.layer_box.setFilters(QgsMapLayerProxyModel.Filter.PointLayer | QgsMapLayerProxyModel.Filter.PolygonLayer)
        if layer is not None:
            self.layer_box.setLayer(layer)
        self.weight_box = QgsFieldComboBox()
        self.weight_box.setFilters(QgsFieldProxyModel.Filter.Numeric)
        self.weight_box.setAllowEmptyFieldName(True)
        self.layer_box.layerChanged.connect(self.show_layer_fields)
        self.show_layer_fields(self.layer_box.currentLayer())
        saved = QgsSettings()
        self.target_weight = self._spin(saved.value(SETTINGS_PREFIX + "target_weight",
                                                    DEFAULTS["desired_cluster_weight"], float))
        self.target_radius = self._spin(saved.value(SETTINGS_PREFIX + "target_radius",
                                                    DEFAULTS["desired_cluster_radius"], float), " m")
        self.max_weight = self._spin(saved.value(SETTINGS_PREFIX + "max_weight", DEFAULTS["max_cluster_weight"], float))
        self.max_weight.setSpecialValueText("no cap")  # 0 shows as 'no cap'
        self.strategy = QComboBox()
        self.strategy.addItems(STRATEGY_CHOICES)
        self.id_field = QLineEdit(saved.value(SETTINGS_PREFIX + "id_field", DEFAULT_ID_FIELD))
        self.selected_only = QCheckBox("Selected features only")
        for label, widget in (("Layer", self.layer_box), ("Weight field", self.weight_box),
                              ("Target weight", self.target_weight), ("Target radius", self.target_radius),
                              ("Maximum weight", self.max_weight), ("Strategy", self.strategy),
                              ("Cluster ID field", self.id_field), ("", self.selected_only)):
            form.addRow(label, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def show_layer_fields(self, layer):
        """List the layer's numeric fields and preselect the one that looks like a weight (population, ...)."""
        self.weight_box.setLayer(layer)
        self.weight_box.setField(preferred_weight_field(layer.fields()) if layer is not None else "")

    @staticmethod
    def _spin(value, suffix=""):
        box = QDoubleSpinBox()
        box.setRange(0, 1e12)
        box.setDecimals(1)
        box.setSuffix(suffix)
        box.setValue(value)
        return box

    def settings(self) -> ClusterSettings:
        saved = QgsSettings()
        for key, box in (("target_weight", self.target_weight), ("target_radius", self.target_radius),
                         ("max_weight", self.max_weight)):
            saved.setValue(SETTINGS_PREFIX + key, box.value())
        saved.setValue(SETTINGS_PREFIX + "id_field", self.id_field.text())
        return ClusterSettings(
            target_weight=self.target_weight.value(), target_radius_m=self.target_radius.value(),
            max_weight=self.max_weight.value() or None, strategy=self.strategy.currentText(),
            weight_field=self.weight_box.currentField() or None, id_field=self.id_field.text().strip() or DEFAULT_ID_FIELD,
            selected_only=self.selected_only.isChecked())


class WrokGui:
    def __init__(self, iface):
        self.iface = iface
        self.action = None
        self.aws_action = None
        self.tasks = []  # keep Python references while QGIS runs them
        self.install_dialog = None

    def install(self):
        self.action = QAction(QIcon(icon_path()), "Cluster layer and write cluster fields…", self.iface.mainWindow())
        self.action.triggered.connect(self.cluster_active_layer)
        self.iface.addToolBarIcon(self.action)
        self.iface.addPluginToVectorMenu(MENU, self.action)
        self.aws_action = QAction(QIcon(icon_path()), "Submit layers to the AWS clustering pipeline…",
                                  self.iface.mainWindow())
        self.aws_action.triggered.connect(self.open_aws_dialog)
        self.iface.addPluginToVectorMenu(MENU, self.aws_action)
        missing = missing_packages()
        if missing:
            self.offer_install(missing)

    def remove(self):
        if self.action is not None:
            self.iface.removeToolBarIcon(self.action)
            self.iface.removePluginVectorMenu(MENU, self.action)
            self.action = None
        if self.aws_action is not None:
            self.iface.removePluginVectorMenu(MENU, self.aws_action)
            self.aws_action = None

    def message(self, level, text):
        # The bar's title already says "wrok": texts shared with Processing ("wrok needs ...") drop theirs.
        text = re.sub(r"^wrok:?\s+", "", text)
        text = text[:1].upper() + text[1:]
        self.iface.messageBar().pushMessage("wrok", text, MESSAGE_LEVELS[level], 0 if level == "error" else 10)

    def offer_install(self, missing):
        bar = self.iface.messageBar()
        widget = bar.createMessage("wrok", f"needs the Python package(s) {', '.join(missing)} to cluster.")
        button = QPushButton("Install…")
        button.setToolTip(install_hint(missing))
        button.clicked.connect(lambda: self.show_install_dialog(missing, widget))
        widget.layout().addWidget(button)
        bar.pushWidget(widget, Qgis.MessageLevel.Warning)

    def show_install_dialog(self, missing, widget=None):
        if widget is not None:
            self.iface.messageBar().popWidget(widget)
        self.install_dialog = InstallDialog(missing, parent=self.iface.mainWindow())
        self.install_dialog.show()
        return self.install_dialog

    @staticmethod
    def open_aws_dialog():
        from qgis import processing

        processing.execAlgorithmDialog(AWS_ALGORITHM_ID)

    def cluster_active_layer(self):
        missing = missing_packages()
        if missing:
            self.message("error", install_hint(missing))
            return
        from ..writeback.task import ClusterLayerTask  # needs numpy: imported once we know it is there

        dialog = ClusterLayerDialog(self.iface.activeLayer(), self.iface.mainWindow())
        if not dialog.exec() or dialog.layer_box.currentLayer() is None:
            return
        task = ClusterLayerTask(dialog.layer_box.currentLayer(), dialog.settings(), on_message=self.message)
        self.start_task(task)

    def start_task(self, task):
        # The task manager deletes a finished task's C++ object: drop those wrappers before asking anything.
        self.tasks = [t for t in self.tasks if not sip.isdeleted(t)
                      and t.status() not in (QgsTask.TaskStatus.Complete, QgsTask.TaskStatus.Terminated)] + [task]
        QgsApplication.taskManager().addTask(task)
