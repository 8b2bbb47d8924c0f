"""Systematic PPS selection of clusters (PSUs), per stratum, with certainty units and a reserve list.

Plain numpy. The frame is the clusters in the order given (sort them first, e.g. by cluster ID, for an
implicit geographic stratification). Within a stratum of N clusters with sizes M_i and n to select:

1. Certainty units: while some cluster's size reaches the sampling interval I = T / n' (T the total size
   of the clusters not yet taken, n' the draws left), it is taken with probability 1 and removed; repeat.
2. The rest: a seeded random start r in (0, I], hits r, r + I, ..., r + (n'-1) I on the cumulated sizes;
   a cluster is selected when a hit falls in its interval (C_{i-1}, C_i]. Its inclusion probability is
   pi_i = n' M_i / T (< 1) and its design weight 1 / pi_i.
3. Replacements (optional, r per stratum): a reserve list drawn from the clusters NOT in the main sample
   by the same procedure (its own certainty step, an independent start from the same seeded stream),
   then put in a random order (a uniform permutation from the same stream), so replacement 1 is no
   likelier to sit at the start of the frame than replacement r. Given the main sample s, a cluster i
   outside s is in the reserve list with probability r M_i / T_rest (T_rest the total size outside s;
   1 for the reserve's own certainty units), and each reserve rank is any of the r with chance 1/r.
   The main sample is exactly the n-design above whether or not replacements are asked for. Each
   reserve unit carries the main-design pi and 1/pi it would have had, so a replacement that stands in
   for a PSU can take its own design weight (re-weight for non-response when the analysis needs it).

Each stratum draws from its own random stream: numpy's SeedSequence of the full seed (0 to 2**64 - 1),
with the stratum key's UTF-8 bytes as its spawn key. Two strata never share a stream (no hash of the
name is involved), seeds that differ anywhere give different streams, and adding or removing another
stratum never changes this stratum's sample.
"""

from __future__ import annotations

import csv
import math
import numbers
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

from ..params import ClusteringInputError

SAMPLE_COLUMNS = ["stratum", "inclusion_prob", "design_weight", "selection_order", "certainty", "replacement"]
ALL_STRATA = ""  # the stratum key when the frame has no stratum field
NOT_SAMPLED = "not sampled"  # written in a sample size table's n cell: the stratum is left out on purpose
MAX_SEED = 2**64 - 1
NEEDS_STRATUM_FIELD = "a sample size table needs a stratum field that names each cluster's stratum"
_SHOW = 5  # how many offending IDs an error message names


class SampleSizes(dict):
    """stratum key -> (n main PSUs, n replacements)."""


@dataclass
class PpsSample:
    """The selected rows of the frame, main sample first then replacements, per stratum."""

    index: np.ndarray  # row of the frame
    stratum: np.ndarray  # stratum key (str)
    inclusion_prob: np.ndarray  # main-design pi (also for replacements)
    design_weight: np.ndarray  # 1 / pi
    selection_order: np.ndarray  # within the stratum: 1..n main, n+1..n+r replacements
    certainty: np.ndarray  # bool: taken with probability 1
    replacement: np.ndarray  # bool: reserve unit, not in the main sample
    reserve_prob: np.ndarray  # replacements: probability of being in the reserve given the main sample (else NaN)
    strata: list  # one dict per stratum: key, clusters, total_size, n, replacements, certainty, interval, start

    def __len__(self):
        return len(self.index)

    def columns(self) -> Dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in SAMPLE_COLUMNS}


def stratum_key(value) -> str:
    """A stratum value as text, so 1401, 1401.0 and '1401' from a CSV name the same stratum."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return math.isnan(value)
    return str(value) in ("", "NULL", "nan", "None", "<NA>")


def _count(value, what: str, minimum: int) -> int:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ClusteringInputError(f"{what} must be a whole number (got {value!r})") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not float(value).is_integer():
        raise ClusteringInputError(f"{what} must be a whole number (got {value!r})")
    if value < minimum:
        raise ClusteringInputError(f"{what} must be >= {minimum} (got {int(value)})")
    return int(value)


def sample_sizes_from_rows(rows: Sequence[Mapping], stratum_column: Optional[str], source: str,
                           default_replacements: int = 0) -> SampleSizes:
    """Sample sizes from table rows (CSV or QGIS table): a stratum column, `n`, optional `replacements`.

    The stratum column is the frame's stratum field name, or `stratum`. Without a `replacements`
    column (or in an empty cell) every stratum gets default_replacements.
    """
    if not stratum_column:
        raise ClusteringInputError(NEEDS_STRATUM_FIELD)
    rows = list(rows)
    if not rows:
        raise ClusteringInputError(f"the sample size table {source} has no rows")
    columns = list(rows[0].keys())
    lower = {str(c).strip().lower(): c for c in columns}
    key_column = None
    for wanted in (stratum_column, "stratum"):
        if wanted.lower() in lower:
            key_column = lower[wanted.lower()]
            break
    if key_column is None:
        raise ClusteringInputError(f"the sample size table {source} needs a column '{stratum_column}' or 'stratum' (found: "
                                   f"{', '.join(map(str, columns))})")
    if "n" not in lower:
        raise ClusteringInputError(f"the sample size table {source} needs a column 'n' with the number of PSUs "
                                   f"per stratum (found: {', '.join(map(str, columns))})")
    n_column, r_column = lower["n"], lower.get("replacements")
    sizes = SampleSizes()
    for line, row in enumerate(rows, start=1):
        if is_missing(row[key_column]):
            raise ClusteringInputError(f"the sample size table {source}: row {line} has no stratum value")
        key = stratum_key(row[key_column])
        if key in sizes:
            raise ClusteringInputError(f"the sample size table {source} lists stratum '{key}' twice")
        if str(row[n_column]).strip().lower() == NOT_SAMPLED:
            if r_column is not None and not is_missing(row[r_column]) and \
                    _count(row[r_column], f"replacements for stratum '{key}'", 0):
                raise ClusteringInputError(f"the sample size table {source}: stratum '{key}' is marked "
                                           f"'{NOT_SAMPLED}' but asks for replacements ({row[r_column]})")
            sizes[key] = (0, 0)
            continue
        n = _count(row[n_column], f"n for stratum '{key}'", 0)
        if n == 0:
            raise ClusteringInputError(
                f"the sample size table {source}: n for stratum '{key}' is 0; give the number of PSUs, or write "
                f"'{NOT_SAMPLED}' in its n cell to leave the stratum out of the sample on purpose (its total is "
                "then not estimated)")
        r = default_replacements if r_column is None or is_missing(row[r_column]) else \
            _count(row[r_column], f"replacements for stratum '{key}'", 0)
        sizes[key] = (n, r)
    return sizes


def read_sample_size_csv(path, stratum_column: Optional[str], default_replacements: int = 0) -> SampleSizes:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ClusteringInputError(f"cannot read the sample size table {path}: {exc.strerror}") from None
    return sample_sizes_from_rows(rows, stratum_column, str(path), default_replacements)


def inclusion_probabilities(sizes, n: int):
    """(pi per unit, certainty mask) for selecting n of these units with probability proportional to size."""
    sizes = np.asarray(sizes, dtype=float)
    certainty = np.zeros(len(sizes), dtype=bool)
    while True:
        left = n - int(certainty.sum())
        if left == 0:
            break
        total = sizes[~certainty].sum()
        # The relative tolerance keeps a unit sitting exactly on the interval (pi = 1) a certainty unit.
        newly = ~certainty & (sizes * left >= total * (1 - 1e-12))
        if not newly.any():
            break
        certainty |= newly
    pi = np.ones(len(sizes))
    left = n - int(certainty.sum())
    rest = ~certainty
    pi[rest] = left * sizes[rest] / sizes[rest].sum() if left else 0.0
    return pi, certainty


def systematic_hits(sizes, n: int, start_fraction: float) -> np.ndarray:
    """Positions (ascending) of the n units hit by a systematic draw; start_fraction in [0, 1).

    Every size must be below the interval (no certainty units), so no unit is hit twice.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cumulated = np.cumsum(np.asarray(sizes, dtype=float))
    interval = cumulated[-1] / n
    hits = interval * (1.0 - start_fraction) + interval * np.arange(n)  # start in (0, I]
    picked = np.minimum(np.searchsorted(cumulated, hits, side="left"), len(cumulated) - 1)
    return picked


def _draw(sizes, n: int, rng):
    """(positions in draw order, pi of every unit, certainty mask, interval, start) for one PPS draw."""
    pi, certainty = inclusion_probabilities(sizes, n)
    rest = np.flatnonzero(~certainty)
    left = n - int(certainty.sum())
    fraction = rng.random()
    hits = rest[systematic_hits(sizes[rest], left, fraction)]
    interval = sizes[rest].sum() / left if left else math.nan
    start = interval * (1.0 - fraction) if left else math.nan
    return np.concatenate([np.flatnonzero(certainty), hits]), pi, certainty, interval, start


def checked_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
        raise ClusteringInputError(f"the seed must be a whole number from 0 to {MAX_SEED} (got {seed!r})")
    return int(seed)


def stratum_rng(seed: int, key: str):
    """The stratum's own stream: the full seed as entropy, the key's bytes (length first) as spawn key.

    SeedSequence pads an entropy of at most 4 words (any seed below 2**128) before the spawn key, so
    distinct (seed, key) pairs assemble distinct entropy: unlike a CRC32 of the key, no two keys collide.
    """
    data = key.encode("utf-8")
    words = np.frombuffer(data + b"\0" * (-len(data) % 4), dtype="<u4")
    spawn_key = (len(data), *(int(w) for w in words))
    return np.random.default_rng(np.random.SeedSequence(checked_seed(seed), spawn_key=spawn_key))


def _check_sizes(sizes: np.ndarray, ids: np.ndarray) -> None:
    bad = ~np.isfinite(sizes)
    if bad.any():
        raise ClusteringInputError(f"{int(bad.sum())} cluster(s) have no weight (empty or not a number): "
                                   f"{_name(ids[bad])}")
    bad = sizes <= 0
    if bad.any():
        raise ClusteringInputError(
            f"{int(bad.sum())} cluster(s) have a zero or negative weight, which PPS cannot select: "
            f"{_name(ids[bad])}; remove them from the frame or fix their weight")


def _name(ids) -> str:
    ids = [str(i) for i in ids]
    more = f" and {len(ids) - _SHOW} more" if len(ids) > _SHOW else ""
    return ", ".join(ids[:_SHOW]) + more


def plan_strata(strata: np.ndarray, n: Union[int, SampleSizes], replacements: int = 0) -> SampleSizes:
    """Sample sizes for every stratum in the frame; a table must cover exactly the frame's strata."""
    present = list(dict.fromkeys(strata.tolist()))
    if not isinstance(n, Mapping):
        n = _count(n, "the number of PSUs per stratum", 1)
        replacements = _count(replacements, "the number of replacements per stratum", 0)
        return SampleSizes({key: (n, replacements) for key in present})
    missing = [key for key in present if key not in n]
    if missing:
        raise ClusteringInputError(f"the sample size table has no row for stratum(s) {_name(missing)}")
    extra = [key for key in n if key not in set(present)]
    if extra:
        raise ClusteringInputError(f"the sample size table names stratum(s) the cluster layer does not have: "
                                   f"{_name(extra)} (check the stratum field and the table's spelling)")
    return SampleSizes({key: n[key] for key in present})


def select_pps(ids, sizes, n: Union[int, SampleSizes], strata=None, *, seed: int = 1,
               replacements: int = 0) -> PpsSample:
    """Select PSUs by systematic PPS in every stratum; all input checks run before any draw.

    ids, sizes, strata: one entry per cluster in frame order. n: PSUs per stratum, or a SampleSizes
    table (which then also gives the replacements per stratum).
    """
    ids = np.asarray(ids, dtype=object)
    sizes = np.asarray(sizes, dtype=float)
    if len(ids) == 0:
        raise ClusteringInputError("the cluster layer has no clusters to select from")
    if len(sizes) != len(ids):
        raise ClusteringInputError(f"{len(ids)} cluster IDs but {len(sizes)} weights")
    duplicated = [name for name, count in zip(*np.unique(ids.astype(str), return_counts=True)) if count > 1]
    if duplicated:
        raise ClusteringInputError(f"cluster ID(s) appear more than once in the cluster layer: {_name(duplicated)}")
    _check_sizes(sizes, ids)
    if strata is None and isinstance(n, Mapping):
        raise ClusteringInputError(NEEDS_STRATUM_FIELD)
    if strata is None:
        keys = np.full(len(ids), ALL_STRATA, dtype=object)
    else:
        missing = np.array([is_missing(value) for value in strata], dtype=bool)
        if missing.any():
            raise ClusteringInputError(f"{int(missing.sum())} cluster(s) have no stratum value: {_name(ids[missing])}")
        keys = np.array([stratum_key(value) for value in strata], dtype=object)
    checked_seed(seed)
    plan = plan_strata(keys, n, replacements)
    members = {key: np.flatnonzero(keys == key) for key in plan}
    for key, (n_main, n_reserve) in plan.items():
        label = f"stratum '{key}'" if key != ALL_STRATA else "the layer"
        if n_main > len(members[key]):
            raise ClusteringInputError(f"{label} has {len(members[key])} cluster(s) but n = {n_main} PSUs were "
                                       "asked for; lower n or merge strata")
        if n_reserve and not n_main:
            raise ClusteringInputError(f"{label}: replacements were asked for but n = 0 PSUs")
        if n_main + n_reserve > len(members[key]):
            raise ClusteringInputError(
                f"{label} has {len(members[key])} cluster(s): not enough for {n_main} PSUs and {n_reserve} "
                f"replacement(s); at most {len(members[key]) - n_main} replacement(s) are possible")
    parts, summaries = [], []
    for key, (n_main, n_reserve) in plan.items():
        part, summary = _select_stratum(members[key], sizes[members[key]], n_main, n_reserve,
                                        stratum_rng(seed, key), key)
        parts.append(part)
        summaries.append(summary)
    joined = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    return PpsSample(strata=summaries, **joined)


def _select_stratum(rows, sizes, n_main, n_reserve, rng, key):
    order, pi, certainty, interval, start = _draw(sizes, n_main, rng)
    picked = np.zeros(len(rows), dtype=bool)
    picked[order] = True
    rest = np.flatnonzero(~picked)
    reserve = np.zeros(0, dtype=np.int64)
    reserve_prob = np.full(len(rows), np.nan)  # given the main sample; NaN for the main sample's units
    if n_reserve:
        positions, reserve_prob[rest] = _draw(sizes[rest], n_reserve, rng)[:2]
        # A systematic draw lists its hits in frame order: shuffled, replacement j is any of them.
        reserve = rest[positions][rng.permutation(len(positions))]
    chosen = np.concatenate([order, reserve]).astype(np.int64)
    part = {
        "index": rows[chosen],
        "stratum": np.full(len(chosen), key, dtype=object),
        "inclusion_prob": pi[chosen],
        "design_weight": 1.0 / pi[chosen],
        "selection_order": np.arange(1, len(chosen) + 1),
        "certainty": certainty[chosen],
        "replacement": np.arange(len(chosen)) >= n_main,
        "reserve_prob": np.where(np.arange(len(chosen)) >= n_main, reserve_prob[chosen], np.nan),
    }
    summary = {"stratum": key, "clusters": len(rows), "total_size": float(sizes.sum()), "n": n_main,
               "replacements": n_reserve, "certainty": int(certainty.sum()), "interval": interval, "start": start,
               "sampled": n_main > 0}
    return part, summary
