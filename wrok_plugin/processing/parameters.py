"""QGIS parameter definitions and readers generated from core.registry: one declaration for every algorithm.

An entry's QGIS id, label, default, range, help and advanced flag come from the registry. Older ids
(`qgis_aliases`) stay as hidden parameters, so saved models and scripts that use them keep their values.
"""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QVariant

from core.registry import PARAMETERS, REQUIRED

from ..compat import PARAMETER_HIDDEN, PARAMETER_OPTIONAL, mark_advanced

Number = QgsProcessingParameterNumber
SMALLEST_ABOVE_ZERO = 1e-9  # QGIS ranges are closed: "> 0" becomes ">= this"


def definition(name: str, qgis_id: str = "", optional=None, parent: str = "INPUT") -> QgsProcessingParameterDefinition:
    entry = PARAMETERS[name]
    qgis_id = qgis_id or entry.qgis
    if optional is None:
        optional = entry.default is not REQUIRED and entry.default is None
    label = entry.label if not (optional and entry.empty) else f"{entry.label} (empty: {entry.empty})"
    if entry.kind == "field":  # a field of the `parent` layer parameter
        parameter = QgsProcessingParameterField(qgis_id, label, parentLayerParameterName=parent,
                                                type=QgsProcessingParameterField.DataType.Any, optional=optional)
    elif entry.kind == "choice":
        default = entry.choices.index(entry.default)
        parameter = QgsProcessingParameterEnum(qgis_id, label, options=list(entry.choices), defaultValue=default)
    else:
        kind = Number.Type.Integer if entry.kind == "whole" else Number.Type.Double
        # Left out or empty, QGIS reads a parameter as its default: the registry's, so empty means the same as in
        # the CLI (no cap for the maximum weight). Required ones start at the suggested value (240 people, 1 km).
        default = entry.suggested if entry.default is REQUIRED else entry.default
        parameter = Number(qgis_id, label, kind, default, optional=optional)
        if entry.low is not None:
            parameter.setMinimum(entry.low + (SMALLEST_ABOVE_ZERO if entry.low_open else 0))
        if entry.high is not None:
            parameter.setMaximum(min(entry.high, 2**31 - 1) if entry.kind == "whole" else entry.high)
    parameter.setHelp(f"{entry.help[0].upper()}{entry.help[1:]}.")
    return mark_advanced(parameter) if entry.advanced else parameter


def add_parameters(algorithm, names) -> None:
    """The registry's parameters, then their older ids as hidden parameters (read only when given)."""
    for name in names:
        algorithm.addParameter(definition(name))
    for name in names:
        for alias in PARAMETERS[name].qgis_aliases:
            hidden = definition(name, alias, optional=True)
            hidden.setDefaultValue(None)
            hidden.setFlags(hidden.flags() | PARAMETER_HIDDEN)
            algorithm.addParameter(hidden)


def add_sink_alias(algorithm, sink, old_id: str) -> None:
    """An output's older id, hidden: a saved model or script that still writes to it gets the same features."""
    hidden = sink.clone()
    hidden.setName(old_id)
    hidden.setFlags(hidden.flags() | PARAMETER_HIDDEN | PARAMETER_OPTIONAL)
    hidden.setCreateByDefault(False)
    algorithm.addParameter(hidden)


def given_sinks(parameters, *ids) -> list:
    """The first id always (QGIS makes a temporary output for it when needed), the older ids when given."""
    return [ids[0], *(i for i in ids[1:] if not is_empty(parameters.get(i)))]


def is_empty(value) -> bool:
    return value is None or value == "" or (isinstance(value, QVariant) and value.isNull())


def read_value(algorithm, parameters, context, name: str):
    """The value given for this parameter (by its id, else an older id); left out or empty, its default (QGIS's
    rule), which for an optional parameter is None: empty, as the registry says what that means."""
    entry = PARAMETERS[name]
    qgis_id = next((i for i in (entry.qgis, *entry.qgis_aliases) if not is_empty(parameters.get(i))), entry.qgis)
    if is_empty(parameters.get(qgis_id)) and algorithm.parameterDefinition(qgis_id).defaultValue() is None:
        return None
    if entry.kind == "field":
        return algorithm.parameterAsString(parameters, qgis_id, context) or None
    if entry.kind == "choice":
        return entry.choices[algorithm.parameterAsEnum(parameters, qgis_id, context)]
    if entry.kind == "whole":
        return algorithm.parameterAsInt(parameters, qgis_id, context)
    return algorithm.parameterAsDouble(parameters, qgis_id, context)


def read_values(algorithm, parameters, context, names) -> dict:
    return {name: read_value(algorithm, parameters, context, name) for name in names}
