"""Every user-facing parameter, declared once: name, type, constraint, default, what empty means, label, help,
CLI flag and QGIS id. The CLI options, the QGIS parameter definitions and readers, the AWS payload check, the
strata-table columns and the docs' parameter reference are all generated from PARAMETERS.

Plain Python (no numpy, no QGIS): the plugin reads it before the engine's packages are installed.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Optional

from .params import DEFAULTS, MAX_WHOLE_NUMBER, STRATEGIES, ClusteringInputError

REQUIRED = object()  # no default: the user must give it


@dataclass(frozen=True)
class Parameter:
    name: str  # the one public name: JSON payloads, strata-table columns, docs
    kind: str  # "number", "whole", "choice" or "field" (a field of the input layer)
    label: str  # sentence case, as the QGIS dialog shows it
    help: str
    default: object = None  # REQUIRED, a value, or None (empty)
    empty: str = ""  # what leaving it empty means, in words (the docs and the CLI help say it)
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False  # True: the value must be above `low`, not equal to it
    choices: tuple = ()
    engine_field: Optional[str] = None  # the ClusteringParams field it sets
    cli: str = ""  # "--target-weight"
    cli_aliases: tuple = ()  # older flags, still accepted
    qgis: str = ""  # "TARGET_WEIGHT"
    qgis_aliases: tuple = ()  # older ids, still read from saved models and scripts
    advanced: bool = False  # QGIS: under "Advanced parameters"
    suggested: object = None  # the value a dialog starts from, where it differs from the default
    zero_is_empty: bool = False  # 0 means the same as empty (a QGIS number box cannot always be cleared)
    per_stratum: bool = False  # a strata-table column / per-stratum field
    only_for_strategy: Optional[str] = None  # a value other than the default with another strategy is refused

    @property
    def words(self) -> str:
        """The label as messages use it: lower case, without its parenthesis."""
        return self.label.split(" (")[0].lower()

    def check(self, value):
        """The value, checked against this parameter's constraint; ClusteringInputError names the problem."""
        if value is None:
            if self.default is REQUIRED:
                raise ClusteringInputError(f"{self.words} is required")
            return None
        if self.kind == "field":
            if not isinstance(value, str):
                raise ClusteringInputError(f"{self.words} must be a field name (got {value!r})")
            return value or None
        if self.kind == "choice":
            if value not in self.choices:
                raise ClusteringInputError(f"{self.words} must be one of {', '.join(self.choices)} "
                                           f"(got {value!r})")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ClusteringInputError(f"{self.words} must be a number (got {value!r})")
        if self.kind == "whole" and not float(value).is_integer():
            raise ClusteringInputError(f"{self.words} must be a whole number (got {value!r})")
        if not math.isfinite(value):
            raise ClusteringInputError(f"{self.words} must be a finite number (got {value!r})")
        if not self._in_range(value):
            raise ClusteringInputError(f"{self.words} must be {self.range_text()} (got {value!r})")
        return int(value) if self.kind == "whole" else float(value)

    def _in_range(self, value) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def range_text(self) -> str:
        if self.kind == "field":
            return "a field of the input"
        if self.name == "jobs":
            return f"-1 (every core) or a whole number from 1 to {_number(self.high)}"
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.high is None:
            return low or "any number"
        if low and not self.low_open:
            return f"from {_number(self.low)} to {_number(self.high)}"
        return f"{low} and <= {_number(self.high)}"

    def shown_default(self):
        return self.suggested if self.suggested is not None else (None if self.default is REQUIRED else self.default)


def _number(value) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _engine(field, **declared):
    return Parameter(engine_field=field, default=DEFAULTS.get(field, REQUIRED) if "default" not in declared
                     else declared.pop("default"), **declared)


PARAMETERS = {p.name: p for p in (
    _engine("desired_cluster_weight", name="target_weight", kind="number", label="Target cluster weight",
            help="the total weight (e.g. people) each cluster should have", low=0, low_open=True,
            cli="--target-weight", qgis="TARGET_WEIGHT", default=REQUIRED,
            suggested=240.0, per_stratum=True),
    _engine("desired_cluster_radius", name="target_radius", kind="number", label="Target cluster radius (metres)",
            help="the radius each cluster should have, in metres", low=0, low_open=True,
            cli="--target-radius", qgis="TARGET_RADIUS", default=REQUIRED,
            suggested=1000.0, per_stratum=True),
    _engine("max_cluster_weight", name="max_weight", kind="number", label="Maximum cluster weight",
            help="clusters heavier than this are re-clustered in later passes until none is (at or above the "
                 "target)", default=None, empty="no cap and a single pass; 0 means the same", low=0,
            zero_is_empty=True, cli="--max-weight", qgis="MAX_WEIGHT", suggested=300.0,
            per_stratum=True),
    _engine("min_cluster_weight", name="min_weight", kind="number", label="Minimum cluster weight",
            help="clusters lighter than this merge into a neighbour", empty="none", low=0,
            cli="--min-weight", qgis="MIN_WEIGHT", advanced=True),
    _engine("weight_importance_factor", name="weight_importance", kind="number", label="Weight importance factor",
            help="how much the weight matters against the radius in the score", low=0,
            cli="--weight-importance", qgis="WEIGHT_IMPORTANCE"),
    _engine("max_passes", name="max_passes", kind="whole", label="Maximum passes",
            help="passes that re-cluster the clusters over the maximum weight (needs a maximum weight)",
            low=1, high=MAX_WHOLE_NUMBER, cli="--max-passes", qgis="MAX_PASSES"),
    _engine("n_clusters", name="n_clusters", kind="whole", label="Number of clusters",
            help="exactly this many clusters (per stratum) in the first pass: the number is not tuned",
            empty="tuned toward the targets", low=1, high=MAX_WHOLE_NUMBER, cli="--clusters",
            qgis="NUMBER_OF_CLUSTERS", per_stratum=True),
    _engine("max_cluster_radius", name="max_radius", kind="number", label="Maximum cluster radius (metres)",
            help="hard cap: wider clusters are split until none is (single wide features excepted)",
            empty="no cap", low=0, low_open=True, cli="--max-radius", qgis="MAX_RADIUS", per_stratum=True),
    _engine("initial_max_trials", name="initial_trials", kind="whole", label="Trials in the first pass",
            help="Optuna trials tuning the number of clusters in the first pass", low=1, high=MAX_WHOLE_NUMBER,
            cli="--initial-trials", qgis="INITIAL_TRIALS", advanced=True),
    _engine("subsequent_max_trials", name="subsequent_trials", kind="whole",
            label="Trials per re-clustered cluster in later passes",
            help="Optuna trials for each cluster re-clustered in a later pass", low=1, high=MAX_WHOLE_NUMBER,
            cli="--subsequent-trials", qgis="SUBSEQUENT_TRIALS", advanced=True),
    _engine("minibatch_reassignment_ratio", name="reassignment_ratio", kind="number",
            label="Reassignment ratio (seed strategy)", help="MiniBatchKMeans' reassignment ratio",
            low=0, high=1, cli="--reassignment-ratio", qgis="REASSIGNMENT_RATIO", advanced=True,
            only_for_strategy="seed"),
    _engine("strategy", name="strategy", kind="choice", label="Strategy",
            help="compact: even weights and round clusters whose outlines do not overlap; balanced: the earlier "
                 "bisection strategy; seed: the original tool's k-means, reproduced exactly",
            choices=STRATEGIES, cli="--strategy", qgis="STRATEGY", advanced=True),
    _engine("random_state", name="seed", kind="whole", label="Random seed",
            help="the same input and seed give the same clusters", low=0, high=2**32 - 1,
            cli="--seed", cli_aliases=("--random-state",), qgis="SEED", qgis_aliases=("RANDOM_SEED",),
            advanced=True),
    _engine("n_jobs", name="jobs", kind="whole", label="Parallel threads (-1: all cores)",
            help="threads the engine may use; the output is the same for any number", low=-1, high=1024,
            cli="--jobs", qgis="JOBS", advanced=True),
)}

# The PPS draw and the value classes (no ClusteringParams field): the same names in the CLI and in QGIS.
PARAMETERS.update({p.name: p for p in (
    Parameter(name="n", kind="whole", label="PSUs to select per stratum", help="PSUs drawn in each stratum",
              empty="taken from the sample sizes table", low=1, high=MAX_WHOLE_NUMBER, cli="--n", qgis="N",
              suggested=10),
    Parameter(name="replacements", kind="whole", label="Replacement PSUs per stratum",
              help="reserve PSUs per stratum, a second PPS draw (a sizes table's replacements column wins)",
              default=0, low=0, high=MAX_WHOLE_NUMBER, cli="--replacements", qgis="REPLACEMENTS"),
    Parameter(name="sample_seed", kind="whole", label="Random seed",
              help="the same frame and seed give the same sample; each stratum's stream comes from the full "
                   "seed and the stratum's name", default=42, low=0, high=2**64 - 1, cli="--seed", qgis="SEED"),
    Parameter(name="previous_field", kind="field", label="Previous cluster field",
              help="update a previous frame: the field holding each feature's cluster ID from the previous run (empty "
                   "on new features); clusters still in band keep their IDs and members, only those out of band and "
                   "their neighbours change (see Updating a frame)", empty="cluster afresh",
              cli="--previous-field", qgis="PREVIOUS_CLUSTER_FIELD", advanced=True),
    Parameter(name="classes", kind="whole", label="Number of classes", help="value classes (k of k-means)",
              default=REQUIRED, low=1, high=MAX_WHOLE_NUMBER, cli="--classes", qgis="CLASSES", suggested=4),
)})

ENGINE_PARAMETERS = tuple(p for p in PARAMETERS.values() if p.engine_field)
STRATUM_COLUMNS = {p.name: p.engine_field for p in ENGINE_PARAMETERS if p.per_stratum}  # strata-table columns


def parameter_label(engine_field: str) -> str:
    """How the reports name an engine field: the dialog's label and the CLI flag."""
    entry = next(p for p in ENGINE_PARAMETERS if p.engine_field == engine_field)
    return f"{entry.label} ({entry.cli})"


def suggested_values(names=None) -> dict:
    """What a dialog starts from: the suggested targets, then the defaults (public names)."""
    return {entry.name: entry.shown_default() for entry in PARAMETERS.values() if names is None or entry.name in names}


def value_of(name: str, given):
    """A parameter's checked value, or its default when not given (None)."""
    entry = PARAMETERS[name]
    checked = entry.check(given)
    return entry.default if checked is None and entry.default is not REQUIRED else checked


def check_jobs(value):
    entry = PARAMETERS["jobs"]
    checked = entry.check(value)
    if checked == 0:
        raise ClusteringInputError(f"{entry.words} must be {entry.range_text()} (got 0)")
    return checked


def engine_values(values: dict) -> dict:
    """ClusteringParams keyword arguments from public names (None or absent = empty), by every front end's rules:

    * a maximum weight left empty or 0 means no cap, and then a single pass;
    * a setting that cannot apply (maximum passes without a cap, a reassignment ratio outside the seed strategy)
      is refused when it is given a value other than its default, never silently ignored.
    """
    unknown = sorted(set(values) - set(PARAMETERS))
    if unknown:
        raise ClusteringInputError(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(PARAMETERS)}")
    checked = {}
    for entry in ENGINE_PARAMETERS:
        value = values.get(entry.name)
        if entry.zero_is_empty and value == 0:
            value = None
        checked[entry.name] = check_jobs(value) if entry.name == "jobs" else entry.check(value)
    strategy = checked["strategy"] or DEFAULTS["strategy"]
    for entry in ENGINE_PARAMETERS:
        given = checked[entry.name]
        if entry.only_for_strategy and given is not None and given != entry.default \
                and strategy != entry.only_for_strategy:
            raise ClusteringInputError(f"{entry.words} applies only with the "
                                       f"{entry.only_for_strategy} strategy; the {strategy} strategy does not use it")
    passes = checked["max_passes"]
    if checked["max_weight"] is None:
        if passes is not None and passes != DEFAULTS["max_passes"] and passes != 1:
            raise ClusteringInputError(
                f"maximum passes ({passes}) applies only with a maximum weight: later passes re-cluster the "
                "clusters over it, and without one there is a single pass; give a maximum weight or leave the "
                "passes at their default")
        checked["max_passes"] = 1
    return {entry.engine_field: checked[entry.name] for entry in ENGINE_PARAMETERS if checked[entry.name] is not None}


def engine_params(values: dict):
    """A validated ClusteringParams from public names (see engine_values)."""
    from .params import ClusteringParams

    return ClusteringParams(**engine_values(values))


def public_values(params) -> dict:
    """The public names and values of a ClusteringParams (the AWS payload, the reports)."""
    return {entry.name: getattr(params, entry.engine_field) for entry in ENGINE_PARAMETERS}


# --- generated front ends -------------------------------------------------------------------------------------


def cli_help(entry: Parameter) -> str:
    shown = entry.shown_default()
    tail = f"not given: {entry.empty}" if entry.default is None and entry.empty else (
        "required" if entry.default is REQUIRED else f"default {shown}")
    return f"{entry.help} ({tail})".replace("%", "%%")


def add_cli_options(parser, names) -> None:
    """argparse options for these parameters; each stores None when not given, so empty keeps its meaning."""
    for name in names:
        entry = PARAMETERS[name]
        kind = {"number": float, "whole": int, "field": str}.get(entry.kind)
        parser.add_argument(entry.cli, *entry.cli_aliases, dest=entry.name, type=kind,
                            choices=entry.choices or None, required=entry.default is REQUIRED,
                            metavar=None if entry.choices else "FIELD" if entry.kind == "field" else entry.name.upper(),
                            help=cli_help(entry))


def cli_values(args, names=None) -> dict:
    """{public name: value or None} from parsed CLI options."""
    return {name: getattr(args, name) for name in (names or [p.name for p in ENGINE_PARAMETERS])
            if hasattr(args, name)}


def reference_markdown() -> str:
    """The docs' parameter reference: one table row per parameter, as every front end names it."""
    lines = ["| parameter | QGIS id | CLI | type and range | default | empty means | what it does |",
             "|---|---|---|---|---|---|---|"]
    for entry in PARAMETERS.values():
        kind = "one of " + ", ".join(entry.choices) if entry.choices else f"{entry.kind}, {entry.range_text()}"
        default = "required" if entry.default is REQUIRED else ("empty" if entry.default is None else entry.default)
        if entry.suggested is not None:
            default = f"{default} (dialogs start at {entry.suggested:g})"
        aliases = [*entry.qgis_aliases, *entry.cli_aliases]
        old = f" (formerly {', '.join(f'`{a}`' for a in aliases)})" if aliases else ""
        strata = "; a strata-table column" if entry.per_stratum else ""
        lines.append(f"| `{entry.name}` | `{entry.qgis}` | `{entry.cli}`{old} | {kind} | {default} | "
                     f"{entry.empty or '-'} | {entry.help}{strata} |")
    return "\n".join(lines) + "\n"
