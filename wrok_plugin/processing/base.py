"""What every wrok algorithm shares: group, icon and the missing-package check (each may override).

No helpUrl: wrok has no public web page yet; the help panel (shortHelpString) and the README carry the help.
"""

from __future__ import annotations

from qgis.core import QgsProcessingAlgorithm
from qgis.PyQt.QtGui import QIcon

from ..dependencies import install_hint, missing_packages
from ..plugin_files import icon_path


class WrokClusteringAlgorithm(QgsProcessingAlgorithm):
    def group(self):
        return "Clustering"

    def groupId(self):
        return "clustering"

    def icon(self):
        return QIcon(icon_path())

    def svgIconPath(self):
        return icon_path()

    def canExecute(self):
        missing = missing_packages()
        return (False, install_hint(missing)) if missing else (True, "")

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 - QGIS API name
        from ..qgis_io.stored_styles import store_noted_styles

        store_noted_styles(self, feedback)  # the sinks are closed by now
        return {}

