"""The few QGIS/Qt names that differ between QGIS 3.22 (Qt5) and QGIS 4 (Qt6), chosen once here.

Everything else in the plugin is written in the form both accept (scoped enums, `exec()`);
tests/lint/qt6_check.py keeps it that way. The old names below are reached only on the QGIS
versions that need them, hence their `# qt6-ok` marks.
"""

from __future__ import annotations

from types import SimpleNamespace

from qgis.core import Qgis, QgsProcessingParameterDefinition
from qgis.PyQt.QtCore import QMetaType, QVariant

try:
    from qgis.PyQt.QtGui import QAction  # Qt6 (QGIS 4)
except ImportError:
    from qgis.PyQt.QtWidgets import QAction  # Qt5 (QGIS 3)

# QgsField takes and returns QMetaType.Type from QGIS 3.38 on; before, QVariant.Type, which Qt6 removed.
QGIS_FIELDS_USE_QMETATYPE = Qgis.versionInt() >= 33800
if QGIS_FIELDS_USE_QMETATYPE:
    FieldType = SimpleNamespace(String=QMetaType.Type.QString, Int=QMetaType.Type.Int, Double=QMetaType.Type.Double,
                                Bool=QMetaType.Type.Bool, LongLong=QMetaType.Type.LongLong,
                                UInt=QMetaType.Type.UInt, ULongLong=QMetaType.Type.ULongLong)
else:
    FieldType = SimpleNamespace(String=QVariant.String, Int=QVariant.Int, Double=QVariant.Double,  # qt6-ok: QGIS < 3.38
                                Bool=QVariant.Bool, LongLong=QVariant.LongLong,  # qt6-ok: QGIS < 3.38
                                UInt=QVariant.UInt, ULongLong=QVariant.ULongLong)  # qt6-ok: QGIS < 3.38

# QGIS 3.36 moved the parameter flags into Qgis.ProcessingParameterFlag.
if hasattr(Qgis, "ProcessingParameterFlag"):
    PARAMETER_ADVANCED = Qgis.ProcessingParameterFlag.Advanced
    PARAMETER_HIDDEN = Qgis.ProcessingParameterFlag.Hidden
    PARAMETER_OPTIONAL = Qgis.ProcessingParameterFlag.Optional
else:
    PARAMETER_ADVANCED = QgsProcessingParameterDefinition.FlagAdvanced  # qt6-ok: QGIS < 3.36
    PARAMETER_HIDDEN = QgsProcessingParameterDefinition.FlagHidden  # qt6-ok: QGIS < 3.36
    PARAMETER_OPTIONAL = QgsProcessingParameterDefinition.FlagOptional  # qt6-ok: QGIS < 3.36


def mark_advanced(parameter):
    """Shows the parameter under the dialog's *Advanced parameters*."""
    parameter.setFlags(parameter.flags() | PARAMETER_ADVANCED)
    return parameter


__all__ = ["QAction", "FieldType", "PARAMETER_ADVANCED", "PARAMETER_HIDDEN", "PARAMETER_OPTIONAL", "QGIS_FIELDS_USE_QMETATYPE", "mark_advanced"]
