"""The algorithm's help: every parameter and the score, in plain words."""

from core.registry import PARAMETERS, STRATUM_COLUMNS


def setting_field_label(name: str) -> str:
    """The per-stratum field parameter of a registry parameter, e.g. "Per-stratum target cluster weight field"."""
    return f"Per-stratum {PARAMETERS[name].words} field"


_HELP_SOURCE = """\
<p>Groups weighted features (population grid points, building polygons) into clusters whose total
weight and size sit near your targets, e.g. primary sampling units of about 240 people within
about 1 km. Every input feature is written out with its cluster.</p>
<h3>Parameters</h3>
<ul>
<li><b>Input layer</b>: points, lines, polygons or mixed collections (measured by their full shapes, as
in the command line). QGIS 3.22 cannot read Parquet: convert it to GeoPackage first.
Tick <i>Selected features only</i> to cluster just the selection.</li>
<li><b>Weight field</b>: numeric field with each feature's weight (people, households). Empty:
every feature weighs 1. NULL weights are an error; fill them with 0 first.</li>
<li><b>H3 cell field</b>: for a table of H3 cells (e.g. Kontur Population: an <i>h3</i> index and a
population, no geometry). Each row is one cell, as a hex string or 64-bit integer, all at one
resolution; it is clustered as its hexagon, and the output is hexagons in EPSG:4326. Mixed
resolutions, invalid indexes and duplicate cells are refused. The log and the H3_CONNECTED_SHARE
output say how many clusters are connected on H3 adjacency. Empty: use the layer's geometry.</li>
<li><b>Target cluster weight</b>: the total weight a cluster should have.</li>
<li><b>Target cluster radius</b> (metres): the radius a cluster should have, measured as the
smallest circle that covers all its features (polygons in full).</li>
<li><b>Weight importance factor</b>: how much missing the target weight counts against missing
the target radius (see the score below); 0 ignores weight, larger values favour even weights.</li>
<li><b>Maximum cluster weight</b>: clusters heavier than this are split again in later passes.
Empty or left out (in a model or qgis_process too): {max_weight_empty}, as in the command line and
on AWS. A typical cap is {max_weight:g} for a target of {target_weight:g}. A single feature heavier than this
on its own stays a cluster of one.</li>
<li><b>Maximum passes</b>: how many times oversized clusters are re-clustered.</li>
<li><b>Number of clusters</b>: exactly this many clusters (in each stratum), weights balanced;
the tuner is skipped. Empty: the number is tuned.</li>
<li><b>Maximum cluster radius</b> (metres): a hard cap. A cluster wider than it is cut in two
(halves of equal weight) until none is; a single feature wider than the cap on its own stays a
cluster of one and is listed in the log.</li>
<li><b>Stratum field(s)</b>: cluster each stratum (e.g. each PSGC code and urban/rural) on its own;
IDs start with a readable stratum key, e.g. <code>PSGC1102305007_urban_CLUSTER_03</code>.</li>
<li><b>Strata table</b>: a table layer or CSV with one row per stratum, keyed by the stratum
fields (same column names) or by a <code>stratum</code> column holding the key, with any of the
columns {strata_columns}. Empty cells keep the
values above; a bad value is an error naming its stratum.</li>
<li>Advanced: {setting_fields} take those settings from fields on the features
instead of a table (one value per stratum, e.g. 500 m where urban, 2,000 m elsewhere).</li>
<li><b>Update the input layer in place</b>: also write the cluster fields into the input layer's
own data source (e.g. a GeoPackage). Needs a file or database layer, not a temporary one;
only earlier cluster fields of the same type are overwritten (a clash with another field, e.g.
<i>population</i>, is refused before any work); Shapefile names are cut to 10 characters
(cluster_we, cluster_pa). Every feature is read back and checked; on any failure the layer is put back.</li>
</ul>
<h3>Advanced parameters</h3>
<ul>
<li><b>Minimum cluster weight</b>: clusters lighter than this merge into a neighbour. Empty: none.</li>
<li><b>Trials in the first pass</b> and <b>Trials per re-clustered cluster in later passes</b>: how
many cluster counts the tuner (Optuna) tries; more trials search longer for a better score.</li>
<li><b>Reassignment ratio</b> (seed strategy): MiniBatchKMeans setting, used by the <i>seed</i> strategy.</li>
<li><b>Strategy</b>: <i>compact</i> (default: even weights and round clusters whose outlines do not
overlap; remote hamlets and features heavier than the band are kept as clusters of their own and
reported), <i>balanced</i> (the earlier bisection default: even weights, slab-shaped clusters) or
<i>seed</i> (the original k-means method, slower).</li>
<li><b>Random seed</b>: the same input, parameters and seed give the same clusters.</li>
<li><b>Parallel threads</b>: threads the tuner uses; -1 for all cores.</li>
<li><b>Invalid geometries</b>: self-intersecting polygons are repaired (makeValid) for measuring, with a
count in the log (the outputs keep the original geometries), or stop the run with an error.</li>
<li><b>Measuring CRS in metres</b>: projected CRS in metres in which radii are measured. Empty: the layer's
own CRS if it is in metres, else, for longitude/latitude layers, the UTM zone at the centre of
the features' extent (the same rule as the command line, so both give the same radii). A CRS in
degrees or feet is rejected. A layer wider than one UTM zone has each cluster's radius measured
around its own centre. For a layer without CRS, this says the CRS its coordinates are in.</li>
<li><b>Cluster ID field name</b>: name of the new ID field (default cluster_id). An existing input
field of the same name and type (an earlier run's) is replaced; one of another type is refused.</li>
<li><b>Previous cluster field</b>: update an earlier frame instead of clustering afresh. The field holds
each feature's cluster ID from the previous run (or a hand-edited layer); NULL marks a new feature.
Clusters still within ±20 % of the target under the new weights keep their IDs and members; only
those out of band and their neighbours are re-solved, new clusters get new IDs, and the log says
how many features changed cluster. Not with strata or an H3 cell field.</li>
</ul>
<h3>Outputs</h3>
<ul>
<li><b>Clustered features</b>: every input feature, with all its fields, plus the cluster ID
(e.g. CLUSTER_07 or, after a re-clustering pass, CLUSTER_07_2), cluster_weight (its cluster's
total weight) and cluster_pass (the pass that made its cluster).</li>
<li><b>Cluster outlines</b> (OUTLINES; CLUSTERS before 0.2): one convex-hull polygon per cluster with its ID, weight, number of features,
radius in metres and pass.</li>
<li><b>Cluster centroids</b> (optional): each cluster's weighted centroid as a point, with its
figures.</li>
<li><b>Report</b> (HTML, optional): the parameters, a summary table (per stratum), a histogram of
cluster weights with the ±20 % band and the maximum, weight against radius with the targets, a map of
the clusters, and the clusters out of the band or over a maximum with the reason. One file (plots
inside); it opens from the Results Viewer.</li>
<li>Numbers: cluster count, clusters over the maximum weight, median weight, median radius,
score.</li>
</ul>
<h3>The score</h3>
<p>The tuner picks the number of clusters with the lowest score:
<code>wif * (r_target / w_target) * |w_target - median weight| + |r_target - median radius|</code>.
In words: how far the median cluster radius is from the target radius in metres, plus how far
the median cluster weight is from the target weight, converted to metres by the ratio of target
radius to target weight and multiplied by the weight importance factor (wif). Lower is better;
0 means the median cluster hits both targets.</p>
"""

# The Processing dialog turns newlines into line breaks: keep each paragraph on one line.
SHORT_HELP = _HELP_SOURCE.format(
    max_weight=PARAMETERS["max_weight"].suggested, max_weight_empty=PARAMETERS["max_weight"].empty,
    target_weight=PARAMETERS["target_weight"].suggested, strata_columns=", ".join(STRATUM_COLUMNS),
    setting_fields=", ".join(f"<b>{setting_field_label(name)}</b>" for name in STRATUM_COLUMNS)).replace("\n", " ")
