"""The three cluster fields and where they may go: one rule for the CLI, the plugin and in-place updates.

A cluster field may take the place of an existing field only when that field holds the same
kind of value (text, real, integer), i.e. it is the output of an earlier run. Anything else
(a `population` field, an integer `cluster_id`) is refused, so no user value is overwritten.
Names are compared case-insensitively, as GeoPackage, Shapefile and PostgreSQL (unquoted) do.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

from ..params import ClusteringInputError

DEFAULT_ID_FIELD = "cluster_id"
WEIGHT_FIELD = "cluster_weight"
PASS_FIELD = "cluster_pass"
TEXT, REAL, INTEGER, OTHER = "text", "real", "integer", "other"
SHAPEFILE_NAME_LENGTH = 10  # dBASE stores at most 10 characters per field name


def cluster_field_kinds(id_field: str = DEFAULT_ID_FIELD) -> Dict[str, str]:
    """Name -> kind of the three fields a run adds, in output order."""
    return {id_field: TEXT, WEIGHT_FIELD: REAL, PASS_FIELD: INTEGER}


def check_id_field_name(id_field) -> str:
    name = (id_field or "").strip() if isinstance(id_field, str) else ""
    if not name:
        raise ClusteringInputError("the cluster ID field name is empty; give a name such as cluster_id")
    if name.lower() in (WEIGHT_FIELD, PASS_FIELD):
        raise ClusteringInputError(
            f"the cluster ID field cannot be named {name!r}: wrok writes the cluster's weight and pass to "
            f"{WEIGHT_FIELD} and {PASS_FIELD}; choose another name such as cluster_id"
        )
    return name


def plan_cluster_fields(existing: Iterable[Tuple[str, str]], id_field: str = DEFAULT_ID_FIELD,
                        max_name_length: Optional[int] = None) -> List[str]:
    """The names to write the cluster fields to, given the target's (name, kind) fields.

    Returns [id name, weight name, pass name] as the target stores them: an existing field of
    the same kind is reused under its own spelling; a new name is cut to max_name_length.
    Raises ClusteringInputError naming the clash otherwise.
    """
    id_field = check_id_field_name(id_field)
    by_lower = {}
    for name, kind in existing:
        by_lower.setdefault(name.lower(), (name, kind))
    planned = []
    for wanted, kind in cluster_field_kinds(id_field).items():
        stored = wanted[:max_name_length] if max_name_length else wanted
        if stored.lower() in (p.lower() for p in planned):
            raise ClusteringInputError(
                f"field names are cut to {max_name_length} characters here, so {wanted!r} would become "
                f"{stored!r}, the same as another cluster field; choose a shorter cluster ID field name"
            )
        match = by_lower.get(stored.lower())
        if match is not None and match[1] != kind:
            raise ClusteringInputError(
                f"the layer already has a field {match[0]!r} holding {match[1]} values; wrok would overwrite it "
                f"with the {kind} field {wanted!r}. Choose another cluster ID field name, rename that field, or "
                "write to a new output"
            )
        planned.append(match[0] if match is not None else stored)
    return planned


def kind_of_dtype(dtype) -> str:
    """Kind of a pandas/numpy column type."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return OTHER
    if pd.api.types.is_integer_dtype(dtype):
        return INTEGER
    if pd.api.types.is_float_dtype(dtype):
        return REAL
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return TEXT
    return OTHER
