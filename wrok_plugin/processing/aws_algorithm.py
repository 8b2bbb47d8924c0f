"""wrok:submitaws - send layers to the AWS clustering pipeline, follow the run, merge the results.

All AWS calls go through aws/client.py. QGIS exports each input layer to a temporary GeoPackage;
aws.client.submit (GeoParquet conversion, split, upload, start) and fetch_to_file (download and merge
into a GeoPackage) run in aws_worker.py's own process, because they use geopandas, which must never
load inside QGIS. status and cancel run here. QGIS copies the merged GeoPackages into the outputs.
Credentials come only from boto3's standard chain; no parameter takes a key or secret.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from qgis.core import (
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureSink,
    QgsFields,
    QgsMessageLog,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsVectorLayer,
    QgsWkbTypes,
)

from ..cloud.client import client_problem, load_client
from ..compat import mark_advanced
from ..dependencies import qgis_python
from .aws_help import submit_help
from .base import WrokClusteringAlgorithm
from .clustering_algorithm import TunedClusteringAlgorithm, shared_settings
from .errors import releases_locals_on_error

Number = QgsProcessingParameterNumber
Local = TunedClusteringAlgorithm

# The local algorithm's parameters that mean the same on AWS: their definitions (labels, defaults,
# ranges, advanced flags) are cloned from wrok:tunedclustering, and so is their help.
SHARED_PARAMETERS = (Local.TARGET_WEIGHT, Local.TARGET_RADIUS, Local.WEIGHT_IMPORTANCE, Local.MAX_WEIGHT,
                     Local.MAX_PASSES, Local.INITIAL_TRIALS, Local.SUBSEQUENT_TRIALS, Local.REASSIGNMENT_RATIO,
                     Local.STRATEGY, Local.RANDOM_SEED, Local.MEASURING_CRS)
POLL_SECONDS = 1.5


class _Cancelled(Exception):
    """Raised from the client's progress callback to stop an upload or download."""


def safe_stem(name: str) -> str:
    """A layer name as an S3 file name: letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.strip()).strip(".") or "layer"


def unique_stems(names) -> list:
    stems, seen = [], set()
    for name in names:
        stem, number = safe_stem(name), 2
        candidate = stem
        while candidate.lower() in seen:
            candidate, number = f"{stem}_{number}", number + 1
        seen.add(candidate.lower())
        stems.append(candidate)
    return stems


def check_endpoint(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise QgsProcessingException(f"The endpoint URL {url!r} is not an http(s) URL.")
    if parts.username or parts.password:
        # Processing writes parameters into its history, logs and models: no credentials there.
        raise QgsProcessingException("Do not put credentials in the endpoint URL: they would be saved in the "
                                     "Processing history. Use an AWS profile or the environment instead.")
    return url


class SubmitAwsAlgorithm(WrokClusteringAlgorithm):
    LAYERS = "LAYERS"
    REGION_FIELD = "REGION_FIELD"
    WEIGHT_FIELD = "WEIGHT_FIELD"
    INPUT_BUCKET = "INPUT_BUCKET"
    OUTPUT_BUCKET = "OUTPUT_BUCKET"
    STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
    PREFIX = "PREFIX"
    AWS_PROFILE = "AWS_PROFILE"
    AWS_REGION = "AWS_REGION"
    ENDPOINT_URL = "ENDPOINT_URL"
    MAX_CONCURRENCY = "MAX_CONCURRENCY"
    TOLERATED_FAILURE_PERCENTAGE = "TOLERATED_FAILURE_PERCENTAGE"
    TIMEOUT = "TIMEOUT"
    OUTPUT = "OUTPUT"
    CLUSTERS = "CLUSTERS"

    def name(self):
        return "submitaws"

    def displayName(self):
        return "Submit layers to the AWS clustering pipeline"

    def group(self):
        return "AWS pipeline"

    def groupId(self):
        return "awspipeline"

    def tags(self):
        return ["aws", "lambda", "step functions", "s3", "cloud", "cluster", "region", "population"]

    def shortHelpString(self):
        local = TunedClusteringAlgorithm()
        local.initAlgorithm()
        labels = [local.parameterDefinition(name).description().split(" (")[0] for name in SHARED_PARAMETERS]
        return submit_help(labels)

    def createInstance(self):
        return SubmitAwsAlgorithm()

    def flags(self):
        return super().flags() | QgsProcessingAlgorithm.Flag.FlagCanCancel

    def canExecute(self):
        problem = client_problem()
        return (False, problem) if problem else (True, "")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.LAYERS, "Layers to cluster (points or polygons; one file per layer)",
            QgsProcessing.SourceType.TypeVectorAnyGeometry))
        self.addParameter(QgsProcessingParameterString(
            self.REGION_FIELD, "Region field (empty: one file per layer; else one file per region)", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.WEIGHT_FIELD, "Weight field (empty: every feature weighs 1)", "population", optional=True))
        local = TunedClusteringAlgorithm()
        local.initAlgorithm()
        for name in SHARED_PARAMETERS:
            self.addParameter(local.parameterDefinition(name).clone())
        self.addParameter(QgsProcessingParameterString(self.INPUT_BUCKET, "Input bucket"))
        self.addParameter(QgsProcessingParameterString(self.OUTPUT_BUCKET, "Output bucket"))
        self.addParameter(QgsProcessingParameterString(self.STATE_MACHINE_ARN, "State machine ARN"))
        self.addParameter(QgsProcessingParameterString(self.PREFIX, "Key prefix", "wrok"))
        self.addParameter(QgsProcessingParameterString(
            self.AWS_PROFILE, "AWS profile (empty: the standard AWS credential chain)", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.AWS_REGION, "AWS region (empty: the profile's or environment's)", optional=True))
        advanced = [
            QgsProcessingParameterString(self.ENDPOINT_URL, "Endpoint URL (empty: AWS)", optional=True),
            Number(self.MAX_CONCURRENCY, "Maximum concurrency", Number.Type.Integer, 40, minValue=1),
            Number(self.TOLERATED_FAILURE_PERCENTAGE, "Tolerated failure percentage", Number.Type.Double, 10.0,
                   minValue=0.0, maxValue=100.0),
            Number(self.TIMEOUT, "Timeout (seconds)", Number.Type.Integer, 3600, minValue=1),
        ]
        for parameter in advanced:
            mark_advanced(parameter)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, "Clustered features", QgsProcessing.SourceType.TypeVectorAnyGeometry))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.CLUSTERS, "Clusters", QgsProcessing.SourceType.TypeVectorPolygon, optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("SUCCEEDED_COUNT", "Files clustered"))
        self.addOutput(QgsProcessingOutputNumber("FAILED_COUNT", "Files that failed or have no result"))
        self.addOutput(QgsProcessingOutputString("FAILED_REGIONS", "Failed files and their errors (JSON)"))
        self.addOutput(QgsProcessingOutputString("EXECUTION_ARNS", "Step Functions executions (JSON)"))

    # -- parameters ---------------------------------------------------------------------------

    def engine_params(self, parameters, context) -> dict:
        """The engine's parameters as the Lambda payload wants them, validated here before any upload."""
        settings = shared_settings(self, parameters, context)
        return settings.engine_params().as_dict()  # QgsProcessingException naming a bad value

    def measuring_epsg(self, parameters, context):
        crs = self.parameterAsCrs(parameters, Local.MEASURING_CRS, context)
        if not crs.isValid():
            return None
        if not crs.authid().upper().startswith("EPSG:"):
            raise QgsProcessingException(f"The measuring CRS must have an EPSG code for the Lambda (got "
                                         f"{crs.authid() or crs.description()}).")
        return int(crs.authid().split(":", 1)[1])

    def input_layers(self, parameters, context, weight_field, region_field) -> list:
        layers = self.parameterAsLayerList(parameters, self.LAYERS, context)
        if not layers:
            raise QgsProcessingException("Give at least one layer to cluster.")
        for layer in layers:
            if not isinstance(layer, QgsVectorLayer):
                raise QgsProcessingException(f"'{layer.name()}' is not a vector layer.")
            geometry = QgsWkbTypes.geometryType(layer.wkbType())
            if geometry not in (QgsWkbTypes.GeometryType.PointGeometry, QgsWkbTypes.GeometryType.PolygonGeometry):
                raise QgsProcessingException(f"'{layer.name()}' holds {QgsWkbTypes.geometryDisplayString(geometry)}"
                                             " geometries; wrok clusters points and polygons only.")
            names = layer.fields().names()
            if weight_field:
                index = layer.fields().lookupField(weight_field)
                if index < 0:
                    numeric = [f.name() for f in layer.fields() if f.isNumeric()]
                    raise QgsProcessingException(
                        f"The weight field '{weight_field}' is not in layer '{layer.name()}'. Numeric fields "
                        f"there: {', '.join(numeric) or 'none'}.")
                if not layer.fields().at(index).isNumeric():
                    raise QgsProcessingException(f"The weight field '{weight_field}' of layer '{layer.name()}' "
                                                 "is not numeric.")
            if region_field and region_field not in names:
                raise QgsProcessingException(f"The region field '{region_field}' is not in layer "
                                             f"'{layer.name()}'. Fields there: {', '.join(names)}.")
            if layer.featureCount() == 0:
                raise QgsProcessingException(f"Layer '{layer.name()}' has no features to cluster.")
        return layers

    # -- run ----------------------------------------------------------------------------------

    @releases_locals_on_error
    def processAlgorithm(self, parameters, context, feedback):
        ok, why = self.canExecute()  # qgis_process 3.22 runs algorithms without asking canExecute()
        if not ok:
            raise QgsProcessingException(why)
        client = load_client()
        weight_field = self.parameterAsString(parameters, self.WEIGHT_FIELD, context).strip()
        region_field = self.parameterAsString(parameters, self.REGION_FIELD, context).strip()
        layers = self.input_layers(parameters, context, weight_field, region_field)
        params = self.engine_params(parameters, context)
        options = {"epsg": self.measuring_epsg(parameters, context)}
        aws = {"profile": self.parameterAsString(parameters, self.AWS_PROFILE, context).strip() or None,
               "region": self.parameterAsString(parameters, self.AWS_REGION, context).strip() or None,
               "endpoint_url": check_endpoint(self.parameterAsString(parameters, self.ENDPOINT_URL,
                                                                     context).strip()) or None}
        where = {name: self.parameterAsString(parameters, name, context).strip()
                 for name in (self.INPUT_BUCKET, self.OUTPUT_BUCKET, self.STATE_MACHINE_ARN)}
        for name, value in where.items():
            if not value:
                raise QgsProcessingException(f"{self.parameterDefinition(name).description()} is empty.")
        prefix = self.parameterAsString(parameters, self.PREFIX, context).strip().strip("/")
        timeout_s = self.parameterAsInt(parameters, self.TIMEOUT, context)

        steps = QgsProcessingMultiStepFeedback(4, feedback)
        folder = tempfile.mkdtemp(prefix="wrok_aws_", dir=QgsProcessingUtils.tempFolder())
        try:
            steps.setCurrentStep(0)
            steps.setProgressText("Exporting layers")
            files = self.export_layers(layers, folder, context, steps)
            steps.setCurrentStep(1)
            steps.setProgressText("Uploading and starting the pipeline")
            try:
                # weight_field "" (not None) tells the Lambda: every feature weighs 1
                started = run_worker("submit", [files, params, where[self.INPUT_BUCKET], where[self.OUTPUT_BUCKET],
                                                where[self.STATE_MACHINE_ARN]], dict(
                    prefix=prefix, region_field=region_field or None, weight_field=weight_field, options=options,
                    max_concurrency=self.parameterAsInt(parameters, self.MAX_CONCURRENCY, context),
                    tolerated_failure_percentage=self.parameterAsDouble(parameters, self.TOLERATED_FAILURE_PERCENTAGE,
                                                                        context), **aws), steps, stop_before=1.0)
            except _Cancelled:
                raise QgsProcessingException("Cancelled during the upload; no run was started.") from None
            except WorkerError as error:
                raise QgsProcessingException(f"Could not start the pipeline: {error}") from None
            arns = [execution["execution_arn"] for execution in started["executions"]]
            feedback.pushInfo(f"Uploaded {len(started['keys'])} file(s) to s3://{where[self.INPUT_BUCKET]}/{prefix}/; "
                              f"execution(s): {', '.join(arns)}")
            steps.setCurrentStep(2)
            steps.setProgressText("Clustering on AWS")
            finished = self.follow(client, arns, aws, timeout_s, steps)
            if not finished:
                feedback.pushWarning(
                    f"Stopped following the run after {timeout_s} s; it goes on on AWS. Files finished so far are "
                    f"fetched; fetch the rest later with `python -m aws fetch ARN out.gpkg` for {', '.join(arns)}.")
            steps.setCurrentStep(3)
            steps.setProgressText("Downloading results")
            results = self.fetch_and_write(client, arns, aws, parameters, context, steps, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        results["EXECUTION_ARNS"] = json.dumps(arns)
        return results

    def export_layers(self, layers, folder, context, feedback) -> dict:
        """{file name: temporary GeoPackage path} with every feature and field of each layer."""
        from qgis import processing

        files = {}
        for index, (layer, stem) in enumerate(zip(layers, unique_stems(layer.name() for layer in layers))):
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled; nothing was uploaded.")
            path = str(Path(folder) / f"{stem}.gpkg")
            processing.run("native:savefeatures", {"INPUT": layer, "OUTPUT": path}, context=context,
                           feedback=None, is_child_algorithm=True)
            files[stem] = path
            feedback.setProgress(100 * (index + 1) / len(layers))
        return files

    def follow(self, client, arns, aws, timeout_s, feedback) -> bool:
        """Poll the executions' item counts until none runs; True when all finished in time."""
        deadline = time.monotonic() + timeout_s
        last, errors = None, 0
        while True:
            try:
                counts = [client.status(arn, **aws) for arn in arns]
                errors = 0
            except Exception as error:  # one lost poll is not worth failing a country run
                errors += 1
                if errors >= 5:
                    raise QgsProcessingException(f"Cannot read the run's status: {describe(error)}") from None
                counts = None
            if counts is not None:
                total = sum(c["total"] for c in counts)
                done = {k: sum(c[k] for c in counts) for k in ("succeeded", "failed", "running", "pending")}
                if total:
                    feedback.setProgress(100 * (done["succeeded"] + done["failed"]) / total)
                summary = (f"{done['succeeded']} succeeded, {done['failed']} failed, {done['running']} running, "
                           f"{done['pending']} pending of {total} file(s)")
                if summary != last:
                    feedback.pushInfo(summary)
                    last = summary
                if all(c["execution_status"] != "RUNNING" for c in counts):
                    statuses = sorted({c["execution_status"] for c in counts})
                    feedback.pushInfo(f"Execution(s) {', '.join(statuses).lower()}")
                    return True
            wake = time.monotonic() + POLL_SECONDS
            while time.monotonic() < wake:
                if feedback.isCanceled():
                    self.cancel_runs(client, arns, aws, feedback)
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.1)

    @staticmethod
    def cancel_runs(client, arns, aws, feedback):
        stopped, problems = [], []
        for arn in arns:
            try:
                client.cancel(arn, **aws)
                stopped.append(arn)
            except Exception as error:  # e.g. it finished in the meantime
                problems.append(f"{arn}: {describe(error)}")
        for problem in problems:
            feedback.reportError(f"Could not stop {problem}")
        raise QgsProcessingException(
            f"Cancelled: stopped {len(stopped)} execution(s) ({', '.join(stopped)}); Lambdas already running finish "
            "on their own. Nothing was written.")

    def fetch_and_write(self, client, arns, aws, parameters, context, feedback, folder) -> dict:
        """Each run's results merged into a GeoPackage by the worker, then copied into the sinks by QGIS."""
        wanted = ["features"] + (["clusters"] if parameters.get(self.CLUSTERS) not in (None, "") else [])
        files, failures = {label: [] for label in wanted}, []
        for label in wanted:
            for index, arn in enumerate(arns):
                path = Path(folder) / f"{label}_{index}.gpkg"
                try:
                    fetched = run_worker("fetch_to_file", [arn, str(path)], dict(layer=label, **aws), feedback)
                except _Cancelled:
                    raise QgsProcessingException("Cancelled while downloading; the run's results stay in S3.") from None
                except WorkerError as error:
                    raise QgsProcessingException(f"Could not download the results: {error}") from None
                rows, failed = fetched  # fetch_to_file returns (rows, failed)
                if rows:
                    files[label].append(str(path))
                if label == "features":
                    failures += failed
        output_id, written, sources = self.write_files(files["features"], parameters, self.OUTPUT, context)
        results = {self.OUTPUT: output_id}
        if "clusters" in files:
            results[self.CLUSTERS] = self.write_files(files["clusters"], parameters, self.CLUSTERS, context)[0]
        for failure in failures:
            feedback.reportError(f"Region file {failure['key']} failed: {failure['error']}", False)
        feedback.setProgress(100)
        feedback.pushInfo(f"{written} feature(s) from {sources} file(s); {len(failures)} file(s) failed.")
        results.update(SUCCEEDED_COUNT=sources, FAILED_COUNT=len(failures), FAILED_REGIONS=json.dumps(failures))
        return results

    def write_files(self, paths, parameters, name, context):
        """Copy the merged GeoPackages into the sink with QGIS; (sink id, features written, source files)."""
        layers = [QgsVectorLayer(path, Path(path).stem, "ogr") for path in paths]
        for layer, path in zip(layers, paths):
            if not layer.isValid():
                raise QgsProcessingException(f"Could not read the downloaded results ({path}).")
        if not layers:  # nothing succeeded: an empty layer with the cluster fields
            layers = [QgsVectorLayer("Point?crs=EPSG:4326&field=cluster_id:string&field=cluster_weight:double"
                                     "&field=cluster_pass:integer&field=source_key:string", name, "memory")]
        first = layers[0]
        keys = set(first.dataProvider().pkAttributeIndexes())
        fields = QgsFields()
        for i in range(first.fields().count()):
            if i not in keys:
                fields.append(first.fields().at(i))
        sink, sink_id = self.parameterAsSink(parameters, name, context, fields, first.wkbType(), first.crs())
        if sink is None:
            return None, 0, 0
        written, sources = 0, set()
        source_key = fields.lookupField("source_key")
        for layer in layers:
            transform = QgsCoordinateTransform(layer.crs(), first.crs(), context.transformContext())
            names = [fields.at(i).name() for i in range(fields.count())]
            for feature in layer.getFeatures():
                out = QgsFeature(fields)
                geometry = feature.geometry()
                if layer.crs() != first.crs():
                    geometry.transform(transform)
                out.setGeometry(geometry)
                out.setAttributes([feature[n] if layer.fields().lookupField(n) >= 0 else None for n in names])
                if not sink.addFeature(out, QgsFeatureSink.Flag.FastInsert):
                    raise QgsProcessingException(self.writeFeatureError(sink, parameters, name))
                written += 1
                if source_key >= 0:
                    sources.add(out.attribute(source_key))
        return sink_id, written, len(sources)


class WorkerError(Exception):
    """The worker process reported an error; the message is its own."""


def run_worker(call: str, args: list, kwargs: dict, feedback, stop_before=None):
    """aws.client.<call>(*args, **kwargs) in aws_worker.py's own process, its progress shown on feedback.

    A cancel asks the worker to stop at its next progress report below stop_before (see aws_worker.py);
    raises _Cancelled when it did.
    """
    cancel_file = Path(tempfile.mkdtemp(prefix="wrok_worker_")) / "cancel"
    request = json.dumps({"call": call, "args": args, "kwargs": kwargs, "cancel_file": str(cancel_file),
                          "stop_before": stop_before})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(entry for entry in sys.path if entry))
    worker = subprocess.Popen([qgis_python(), str(Path(__file__).with_name("aws_worker.py"))], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in worker.stdout] + [lines.put(None)],
                              daemon=True)
    reader.start()
    worker.stdin.write(request)
    worker.stdin.close()
    outcome = None
    try:
        while True:
            if feedback.isCanceled() and not cancel_file.exists():
                cancel_file.touch()
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            kind, _, payload = line.rstrip("\n").partition(" ")
            if kind == "PROGRESS":
                fraction, text = json.loads(payload)
                feedback.setProgress(100 * fraction)
                feedback.pushInfo(text)
            elif kind in ("RESULT", "ERROR", "CANCELLED"):
                outcome = (kind, json.loads(payload))
        worker.wait()
        errors = worker.stderr.read()
    finally:
        worker.stdout.close()
        worker.stderr.close()
        shutil.rmtree(cancel_file.parent, ignore_errors=True)
    if outcome is None:
        raise WorkerError(f"the AWS worker stopped (exit status {worker.returncode}): {errors[-2000:]}")
    if outcome[0] == "CANCELLED":
        raise _Cancelled()
    if outcome[0] == "ERROR":
        QgsMessageLog.logMessage(outcome[1]["traceback"], "wrok")
        raise WorkerError(describe_kind(outcome[1]["kind"], outcome[1]["message"]))
    return outcome[1]


def describe(error) -> str:
    """One line for an error from boto3 or the client, with a hint for missing credentials."""
    return describe_kind(type(error).__name__, str(error) or type(error).__name__)


def describe_kind(kind: str, text: str) -> str:
    if kind in ("NoCredentialsError", "PartialCredentialsError", "ProfileNotFound", "SSOTokenLoadError",
                "UnauthorizedSSOTokenError", "TokenRetrievalError"):
        text += (" - wrok uses the standard AWS credential chain: set the AWS profile parameter, AWS_PROFILE or "
                 "the AWS_* environment variables, or run `aws sso login` first.")
    return text
