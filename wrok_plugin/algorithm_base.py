"""What every wrok algorithm shares: group, icon, help link, and the missing-package check (each may override)."""

from __future__ import annotations

from qgis.core import QgsProcessingAlgorithm
from qgis.PyQt.QtGui import QIcon

from .dependencies import install_hint, missing_packages
from .help_text import HELP_URL
from .plugin_files import icon_path


class WrokClusteringAlgorithm(QgsProcessingAlgorithm):
    def group(self):
        return "Clustering"

    def groupId(self):
        return "clustering"

    def helpUrl(self):
        return HELP_URL

    def icon(self):
        return QIcon(icon_path())

    def svgIconPath(self):
        return icon_path()

    def canExecute(self):
        missing = missing_packages()
        return (False, install_hint(missing)) if missing else (True, "")

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 - QGIS API name
        from .stored_styles import store_noted_styles

        store_noted_styles(self, feedback)  # the sinks are closed by now
        return {}

