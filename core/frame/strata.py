"""Strata: cluster each stratum on its own (in parallel), with its own targets, IDs prefixed by its key.

A stratum key is readable and file-safe, built from the stratum field values of a feature:
text as is, numbers after their field's name, booleans as the field's name or `not-<name>`
(`PSGC1102305007_urban`). Cluster IDs become `<key>_CLUSTER_03`.

Per-stratum targets come from a small table (rows keyed by the stratum fields or by a
`stratum` column holding the key) or from fields on the features that hold one value per
stratum. Any bad value is an error naming its stratum.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..engine.data import Features
from ..engine.result import ClusteringResult, ClusterTable, factorize_ids
from ..params import ClusteringInputError, ClusteringParams, worker_threads

# Table column / feature field name -> ClusteringParams field, for what may differ per stratum.
STRATUM_SETTINGS = {
    "target_weight": "desired_cluster_weight",
    "target_radius": "desired_cluster_radius",
    "max_weight": "max_cluster_weight",
    "max_radius": "max_cluster_radius",
    "n_clusters": "n_clusters",
}
_IGNORED_TABLE_COLUMNS = {"fid", "ogc_fid", "id", "notes", "note", "comment", "description"}


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        hasattr(value, "isNull") and value.isNull()) or (isinstance(value, str) and not value.strip())


def _key_part(field_name: str, value) -> str:
    if isinstance(value, (bool, np.bool_)):
        part = field_name if value else f"not-{field_name}"
    elif isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()):
        part = f"{field_name}{int(value)}"
    elif isinstance(value, (float, np.floating)):
        part = f"{field_name}{value:g}"
    else:
        part = str(value).strip()
    return re.sub(r"[^A-Za-z0-9.-]+", "-", part).strip("-") or "blank"


def _match_value(value) -> str:
    """A value as rows of a table and features compare it: CSV text 'TRUE' matches a boolean True."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer, float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip().lower()
    try:
        number = float(text)
        return str(int(number)) if number.is_integer() else repr(number)
    except ValueError:
        return text


def stratum_keys(columns: Dict[str, Sequence]) -> np.ndarray:
    """Each feature's stratum key from {stratum field name: its values} (in field order)."""
    if not columns:
        raise ClusteringInputError("give at least one stratum field")
    values = [list(v) for v in columns.values()]
    n = len(values[0])
    for name, column in zip(columns, values):
        missing = sum(_is_missing(v) for v in column)
        if missing:
            raise ClusteringInputError(
                f"{missing} feature(s) have no value in stratum field {name!r}; fill them so every feature "
                "belongs to a stratum")
    keys, seen = np.empty(n, dtype=object), {}
    for i in range(n):
        raw = tuple(_match_value(column[i]) for column in values)
        key = "_".join(_key_part(name, column[i]) for name, column in zip(columns, values))
        if seen.setdefault(key, raw) != raw:
            raise ClusteringInputError(
                f"two strata get the same key {key!r} ({', '.join(seen[key])} and {', '.join(raw)}); "
                "rename the values so they differ in letters or digits")
        keys[i] = key
    return keys


def _number(key: str, column: str, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ClusteringInputError(f"stratum {key}: {column} must be a number (got {value!r})") from None
    if column == "n_clusters":
        if not number.is_integer():
            raise ClusteringInputError(f"stratum {key}: n_clusters must be a whole number (got {value!r})")
        return int(number)
    return number


def _params_for(key: str, base: ClusteringParams, values: dict) -> ClusteringParams:
    changes = {STRATUM_SETTINGS[c]: _number(key, c, v) for c, v in values.items() if not _is_missing(v)}
    if changes.get("max_cluster_weight", base.max_cluster_weight) is None:
        changes["max_passes"] = 1  # no cap, nothing to re-cluster (as the CLI and plugin do)
    try:
        return dataclasses.replace(base, **changes)
    except ClusteringInputError as exc:
        raise ClusteringInputError(f"stratum {key}: {exc}") from None


def params_from_table(rows: List[dict], stratum_fields: Sequence[str], keys: np.ndarray,
                      base: ClusteringParams):
    """{stratum key: params} from table rows; returns (params by key, warnings).

    A row is keyed by the stratum fields' values (columns of the same names) or by a
    `stratum` column holding the key. Every stratum present in the data needs a row.
    """
    if not rows:
        raise ClusteringInputError("the strata table has no rows")
    columns = {c for row in rows for c in row}
    lower = {c.lower(): c for c in columns}
    by_fields = all(f.lower() in lower for f in stratum_fields)
    if not by_fields and "stratum" not in lower:
        raise ClusteringInputError(
            f"the strata table needs the stratum field column(s) {', '.join(stratum_fields)} or a 'stratum' "
            f"column (it has: {', '.join(sorted(columns))})")
    key_columns = {lower[f.lower()] for f in stratum_fields} if by_fields else {lower["stratum"]}
    unknown = sorted(c for c in columns - key_columns
                     if c.lower() not in STRATUM_SETTINGS and c.lower() not in _IGNORED_TABLE_COLUMNS | {"stratum"})
    if unknown:
        raise ClusteringInputError(
            f"the strata table has unknown column(s) {', '.join(unknown)}; expected "
            f"{', '.join(STRATUM_SETTINGS)}")
    # Keys present in the data, by the values a table row would hold.
    present = sorted(set(keys))
    rows_by_key = {}
    for number, row in enumerate(rows, start=1):
        row_lower = {c.lower(): v for c, v in row.items()}
        if by_fields:
            row_key = "_".join(_key_part(f, _typed_like(row_lower[f.lower()])) for f in stratum_fields)
        else:
            row_key = str(row_lower["stratum"]).strip()
        if row_key in rows_by_key:
            raise ClusteringInputError(f"stratum {row_key}: the strata table has two rows for it (row {number})")
        rows_by_key[row_key] = {c: row_lower[c] for c in STRATUM_SETTINGS if c in row_lower}
    missing = [k for k in present if k not in rows_by_key]
    if missing:
        raise ClusteringInputError(
            f"stratum {missing[0]} has no row in the strata table ({len(missing)} strata missing: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); table keys: "
            f"{', '.join(sorted(rows_by_key)[:5])}")
    unused = sorted(set(rows_by_key) - set(present))
    warnings = [f"strata table row(s) {', '.join(unused)} match no feature"] if unused else []
    return {k: _params_for(k, base, rows_by_key[k]) for k in present}, warnings


def _typed_like(value):
    """A table cell as the feature value it stands for: '1102305007' -> int, 'true' -> bool."""
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        try:
            number = float(text)
            return int(number) if number.is_integer() else number
        except ValueError:
            return text
    return value


def params_from_fields(keys: np.ndarray, columns: Dict[str, Sequence], base: ClusteringParams):
    """{stratum key: params} from per-feature fields {setting name: values}, one value per stratum."""
    unknown = sorted(set(columns) - set(STRATUM_SETTINGS))
    if unknown:
        raise ClusteringInputError(f"unknown per-stratum setting(s) {', '.join(unknown)}")
    result = {}
    for key in sorted(set(keys)):
        members = np.flatnonzero(keys == key)
        values = {}
        for setting, column in columns.items():
            distinct = {_match_value(column[i]) if not _is_missing(column[i]) else "" for i in members}
            if len(distinct) > 1:
                shown = ", ".join(sorted(v or "empty" for v in distinct)[:4])
                raise ClusteringInputError(f"stratum {key}: the {setting} field holds several values ({shown}); "
                                           "it needs one value per stratum")
            values[setting] = column[members[0]]
        result[key] = _params_for(key, base, values)
    return result


@dataclass
class StrataOptions:
    """What a user asks for: stratum fields, and targets from a table's rows or from feature fields."""

    fields: Sequence[str]
    table_rows: Optional[List[dict]] = None
    setting_fields: Dict[str, str] = field(default_factory=dict)  # e.g. {"target_radius": "radius_goal"}
    n_jobs: int = 1

    def plan(self, column, base: ClusteringParams):
        """(keys per feature, params by stratum, warnings); column(name) gives a field's values."""
        if self.table_rows is not None and self.setting_fields:
            raise ClusteringInputError("take per-stratum targets from a strata table or from fields, not both")
        keys = stratum_keys({name: column(name) for name in self.fields})
        if self.table_rows is not None:
            return (keys, *params_from_table(self.table_rows, self.fields, keys, base))
        if self.setting_fields:
            values = {setting: column(name) for setting, name in self.setting_fields.items()}
            return keys, params_from_fields(keys, values, base), []
        return keys, {key: base for key in set(keys)}, []


@dataclass
class StrataResult(ClusteringResult):
    """A ClusteringResult over all strata; `strata` holds each stratum's own (params, result)."""

    strata: Dict[str, tuple] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)

    def cluster_params(self) -> list:
        """Each cluster judged by its own stratum's targets and caps."""
        by_stratum = {str(key): params for key, (params, _) in self.strata.items()}
        return [by_stratum[str(key)] for key in self.clusters["stratum"]]

    @property
    def score(self):
        """None: the seed's score has one target weight and radius, which strata with their own do not share."""
        return None

    def stats(self) -> dict:
        figures = super().stats()
        figures["k_trials"] = sum(len(result.trials) for _, result in self.strata.values())
        figures["strata"] = len(self.strata)
        return figures

    def strata_stats(self) -> Dict[str, dict]:
        return {key: result.stats() for key, (_, result) in self.strata.items()}


def count_notes(result) -> List[str]:
    """Messages where a fixed number of clusters was asked for but caps split some (strata or one run)."""
    runs = result.strata.items() if getattr(result, "strata", None) else [(None, (result.params, result))]
    notes = []
    for key, (params, run) in runs:
        got = len(run.clusters)
        if params.n_clusters is not None and got != params.n_clusters:
            where = f"stratum {key}: " if key is not None else ""
            notes.append(f"{where}{got} clusters instead of the {params.n_clusters} asked for: the maximum weight or "
                         "radius split some")
    return notes


def cluster_strata(x, y, weights, keys, params_by_stratum: Dict[str, ClusteringParams],
                   base: Optional[ClusteringParams] = None, *, vertex_xy=None, vertex_owner=None, footprint=None,
                   n_jobs: int = 1, progress=None, is_cancelled=None) -> StrataResult:
    """Cluster each stratum on its own, n_jobs strata at a time; the result is the same whatever n_jobs."""
    from ..engine.run import cluster

    features = Features.checked(x, y, weights, vertex_xy, vertex_owner, footprint)
    keys = np.asarray(keys, dtype=object)
    if len(keys) != len(features):
        raise ClusteringInputError(f"{len(features)} features but {len(keys)} stratum keys")
    names, inverse = factorize_ids(keys)  # hashing: fast on millions of raster pixels
    names = [str(k) for k in names]
    missing = [k for k in names if k not in params_by_stratum]
    if missing:
        raise ClusteringInputError(f"stratum {missing[0]} has no parameters")
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
    members = {k: order[bounds[i]:bounds[i + 1]] for i, k in enumerate(names)}
    for key in names:
        wanted = params_by_stratum[key].n_clusters
        if wanted is not None and wanted > len(members[key]):
            raise ClusteringInputError(f"stratum {key}: {wanted} clusters asked but it has only "
                                       f"{len(members[key])} feature(s)")
    threads = max(1, min(worker_threads(n_jobs), len(names)))
    done = {k: 0.0 for k in names}
    lock = threading.Lock()

    def run(key):
        def report(fraction, message):
            with lock:
                done[key] = fraction
                total = sum(done[k] * len(members[k]) for k in names) / len(features)
            if progress is not None:
                progress(total, f"stratum {key}: {message}")

        group = features.subset(members[key])
        params = params_by_stratum[key]
        if threads > 1:  # the strata already fill the workers
            params = dataclasses.replace(params, n_jobs=1)
        return cluster(group.x, group.y, group.w, params, vertex_xy=group.vertex_xy, vertex_owner=group.vertex_owner,
                       footprint=footprint, progress=report, is_cancelled=is_cancelled)

    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = dict(zip(names, pool.map(run, names)))
    else:
        results = {k: run(k) for k in names}
    return _combine(features, names, members, params_by_stratum, results, base or params_by_stratum[names[0]])


def _combine(features, names, members, params_by_stratum, results, base) -> StrataResult:
    n = len(features)
    ids, cluster_weight, cluster_pass = np.empty(n, dtype=object), np.empty(n), np.empty(n, dtype=np.int64)
    cluster_row = np.empty(n, dtype=np.int64)
    tables, heavy, alone, wide, hamlets = [], [], [], [], []
    for key in names:
        result, idx = results[key], members[key]
        table = dict(result.clusters)
        # One string per cluster, shared by its members (not one per feature: millions of pixels).
        table["cluster_id"] = np.array([f"{key}_{name}" for name in table["cluster_id"]], dtype=object)
        ids[idx] = table["cluster_id"][result.cluster_row]
        cluster_row[idx] = result.cluster_row + sum(len(t["cluster_id"]) for t in tables)
        cluster_weight[idx], cluster_pass[idx] = result.cluster_weight, result.cluster_pass
        table["stratum"] = np.full(len(table["cluster_id"]), key, dtype=object)
        tables.append(table)
        heavy.append(idx[result.heavy_features])
        alone.append(idx[result.placed_alone])
        wide += [f"{key}_{name}" for name in result.over_max_radius]
        hamlets += [f"{key}_{name}" for name in result.remote_hamlets]
    clusters = ClusterTable({column: np.concatenate([t[column] for t in tables]) for column in tables[0]})
    return StrataResult(
        cluster_id=ids, cluster_weight=cluster_weight, cluster_pass=cluster_pass, clusters=clusters, params=base,
        cluster_row=cluster_row,
        heavy_features=np.sort(np.concatenate(heavy)).astype(np.int64),
        passes_run=max(r.passes_run for r in results.values()),
        merged_clusters=sum(r.merged_clusters for r in results.values()),
        over_max_radius=np.array(wide, dtype=object),
        placed_alone=np.sort(np.concatenate(alone)).astype(np.int64), remote_hamlets=hamlets,
        weighted_rms_m=_pooled_rms([results[k] for k in names]),
        strata={k: (params_by_stratum[k], results[k]) for k in names})


def _pooled_rms(results):
    """The weighted RMS spread over all strata, exactly: each stratum's mean square weighted by its weight.

    None (not measured) when a stratum did not measure it; hull overlap is left unmeasured across strata,
    whose outlines may overlap by design (they are clustered independently)."""
    spreads = [r.weighted_rms_m for r in results]
    if any(spread is None for spread in spreads):
        return None
    weights = np.array([float(np.sum(r.clusters["weight"])) for r in results])
    if weights.sum() <= 0:  # weighted_rms_spread then counts every feature once
        weights = np.array([float(np.sum(r.clusters["n_features"])) for r in results])
    return float(np.sqrt(np.dot(weights, np.square(spreads)) / weights.sum()))
