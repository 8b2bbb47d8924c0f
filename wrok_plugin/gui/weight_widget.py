"""The Processing dialog's weight field box: preselects a numeric field named like a weight (population, ...).

QGIS 3.22's own field widget can only preselect one fixed default name, so the WEIGHT_FIELD parameter
names this wrapper in its metadata. It is the Python field wrapper Processing still ships (deprecated
for QGIS 4, hence the version check in algorithm.py) with one addition; batch and modeler dialogs
behave exactly as before. Imported by Processing only when a dialog is built, never under qgis_process.
"""

import warnings

from processing.gui.wrappers import DIALOG_STANDARD

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from processing.gui.wrappers import TableFieldWidgetWrapper

from ..qgis_io.clustering import preferred_weight_field


class WeightFieldWrapper(TableFieldWidgetWrapper):
    def __init__(self, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            super().__init__(*args, **kwargs)

    def refreshItems(self):  # noqa: N802 - Processing's name
        super().refreshItems()
        if self.dialogType == DIALOG_STANDARD and self._layer is not None and not self.value():
            preferred = preferred_weight_field(self._layer.fields())
            if preferred:
                self.setValue(preferred)
