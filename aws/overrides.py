"""Per-file clustering parameters: the run's params, then overrides by key pattern, then by column value.

params_by_key: {"<glob>": {param: value, ...}, ...}
    Every glob that matches the input key (fnmatch, case-sensitive, `*` also crosses `/`) is
    applied in the order given, so later patterns win.
params_by_column: {"field": "<column>", "values": {"<value>": {param: value, ...}, ...}}
    The file's single distinct value of <column> picks the override (the original tool took the
    target radius from an `urban` column). Values are compared as text: 1, 1.0 and "1" are "1";
    booleans are "true" / "false". A file with several values, none, or one not listed fails.
Column overrides apply after key overrides.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Optional

from core import ClusteringInputError, ClusteringParams


def value_label(value) -> str:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def column_override(frame, params_by_column: dict) -> dict:
    field = params_by_column.get("field")
    table = params_by_column.get("values")
    if not field or not isinstance(table, dict):
        raise ClusteringInputError('params_by_column needs {"field": <column>, "values": {<value>: {...}}}')
    if field not in frame.columns:
        raise ClusteringInputError(f"override column {field!r} not found in the file")
    labels = sorted({value_label(v.item() if hasattr(v, "item") else v) for v in frame[field].dropna().unique()})
    if len(labels) != 1:
        raise ClusteringInputError(
            f"override column {field!r} must hold one value per file (found {len(labels)}: {', '.join(labels[:5])})"
        )
    if labels[0] not in table:
        raise ClusteringInputError(
            f"override column {field!r} has value {labels[0]!r}, which params_by_column does not list "
            f"(listed: {', '.join(map(str, table))})"
        )
    return table[labels[0]]


def resolve_params(params: dict, key: str, frame=None, params_by_key: Optional[dict] = None,
                   params_by_column: Optional[dict] = None) -> ClusteringParams:
    merged = dict(params or {})
    for pattern, override in (params_by_key or {}).items():
        if fnmatchcase(key, pattern):
            merged.update(override)
    if params_by_column:
        merged.update(column_override(frame, params_by_column))
    return ClusteringParams.from_dict(merged)  # names missing or unknown parameters itself
