"""Help for wrok:submitaws: its own parameters, plus the local algorithm's words for the shared ones."""

from __future__ import annotations

import re

from .help_text import SHORT_HELP


def shared_items(labels) -> str:
    """The <li> items of the local algorithm's help that explain any of these parameter labels."""
    items = re.findall(r"<li>.*?</li>", SHORT_HELP)
    chosen = " ".join(item for item in items if any(f"<b>{label}</b>" in item for label in labels))
    return chosen.replace("(see the score below)", "(see the score in the help of Tuned Weight/Radius Clustering)")


_INTRO = """\
<p>Clusters each layer (or each region of it) on AWS: the layers are exported, uploaded as
GeoParquet to the input bucket, and the pipeline's Step Functions Distributed Map runs one
clustering Lambda per file with the same engine and parameters as <i>Tuned Weight/Radius
Clustering</i>. The algorithm follows the run (map run item counts in the progress bar), then
downloads the results and merges them into one layer. A region that fails does not stop the
others: it is reported with its error.</p>
<h3>Parameters</h3>
<ul>
<li><b>Layers to cluster</b>: one or more point or polygon layers; each becomes one file (one
Lambda), named after the layer.</li>
<li><b>Region field</b>: optional; split every layer into one file per value of this field (e.g.
a province), so regions cluster in parallel. Features with no value form their own file.</li>
<li><b>Weight field</b>: numeric field with each feature's weight, in every layer (default
population). Empty: every feature weighs 1.</li>
<li><b>Input bucket</b>, <b>Output bucket</b>, <b>State machine ARN</b>: from the deployed
stack's outputs (InputBucket, OutputBucket, StateMachineArn).</li>
<li><b>Key prefix</b>: the files go to s3://input-bucket/prefix/; results for a key K land at
runs/RUN/clustered/K, runs/RUN/clusters/K and runs/RUN/summaries/K.json (runs/RUN/errors/K.json on
failure) in the output bucket, RUN being the execution's name. A rerun never touches an earlier
run's results.</li>
<li><b>AWS profile</b> and <b>AWS region</b>: optional; empty uses the standard AWS chain
(AWS_PROFILE and other environment variables, SSO login, instance role). Keys are never asked
for or stored by wrok.</li>
</ul>
<h3>Clustering parameters (as in Tuned Weight/Radius Clustering)</h3>
<ul>
"""

_ADVANCED = """\
</ul>
<h3>Advanced AWS parameters</h3>
<ul>
<li>The <b>measuring CRS</b>, when set, must have an EPSG code: the Lambda gets that code.</li>
<li><b>Endpoint URL</b>: optional; an S3 and Step Functions compatible endpoint (local test
servers). Empty: AWS itself.</li>
<li><b>Maximum concurrency</b>: files clustered at once.</li>
<li><b>Tolerated failure percentage</b>: share of files that may fail before Step Functions marks
the run failed (the results of the others are fetched either way).</li>
<li><b>Timeout</b> (seconds): how long to follow the run. When it expires the run keeps going on
AWS; the files finished so far are fetched, the others are reported as failed with no result
yet, and the execution ARNs are given so the results can be fetched later with
<code>python -m aws fetch ARN out.gpkg</code>.</li>
</ul>
<h3>Outputs</h3>
<ul>
<li><b>Clustered features</b>: every feature of the files that succeeded, with its fields plus
cluster_id (prefixed with the file's region name, e.g. North:CLUSTER_007, so ids stay unique),
cluster_weight, cluster_pass and source_key (the file's S3 key).</li>
<li><b>Clusters</b>: optional, one convex hull per cluster.</li>
<li><b>FAILED_COUNT</b> and <b>FAILED_REGIONS</b> (JSON list of {"key", "error"}), each failure also
reported in the log; <b>SUCCEEDED_COUNT</b>; <b>EXECUTION_ARNS</b> (JSON list).</li>
</ul>
<p>Cancel stops the Step Functions execution (StopExecution): no new file starts, Lambdas already
running finish on their own, and nothing is written.</p>
"""


def submit_help(shared_labels) -> str:
    text = _INTRO + shared_items(shared_labels) + "\n" + _ADVANCED
    return text.replace("\n", " ")  # the Processing dialog turns newlines into line breaks
