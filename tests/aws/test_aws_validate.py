"""make aws-validate's checks: they pass on the repository's files and catch the mistakes they name."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from aws import validate

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template():
    return validate.load_template()


def test_repository_template_and_asl_pass_every_offline_check():
    done = subprocess.run([sys.executable, "-m", "aws.validate"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "template and state machine OK" in done.stdout


def asl_problems(template, tmp_path, edit) -> list:
    definition = json.loads(validate.ASL.read_text())
    edit(definition)
    path = tmp_path / "edited.asl.json"
    path.write_text(json.dumps(definition))
    return validate.check_asl(template, path)


def map_state(definition):
    return definition["States"]["ClusterRegions"]


def lambda_task(definition):
    return map_state(definition)["ItemProcessor"]["States"]["ClusterOneFile"]


def test_the_repository_asl_has_no_problem(template, tmp_path):
    assert asl_problems(template, tmp_path, lambda d: None) == []


@pytest.mark.parametrize("edit, expected", [
    (lambda d: map_state(d)["ItemProcessor"]["ProcessorConfig"].update(Mode="INLINE"), "DISTRIBUTED / STANDARD"),
    (lambda d: lambda_task(d).pop("Retry"), "no backoff retry"),
    (lambda d: lambda_task(d)["Retry"][0].update(MaxAttempts=6, MaxDelaySeconds=120), "no backoff retry"),
    (lambda d: lambda_task(d)["Retry"][0]["ErrorEquals"].remove("TransientError"), "TransientError"),
    (lambda d: lambda_task(d).update(Next="Nowhere", End=None) or lambda_task(d).pop("End"), "'Nowhere' is not"),
    (lambda d: map_state(d).pop("ItemReader"), "S3 manifest"),
    (lambda d: lambda_task(d)["Parameters"].update(FunctionName="${OtherArn}"), "DefinitionSubstitutions"),
    (lambda d: map_state(d).update(Type="Mapp"), "ASL grammar"),
])
def test_asl_mistakes_are_reported(template, tmp_path, edit, expected):
    try:
        problems = asl_problems(template, tmp_path, edit)
    except AssertionError as error:  # a placeholder mismatch stops the check at once
        problems = [str(error)]
    assert any(expected in problem for problem in problems), problems


def test_template_wires_parameters_into_the_functions_and_machine(template):
    resources = template["Resources"]
    cluster = resources["ClusterFunction"]["Properties"]
    assert cluster["MemorySize"] == {"Ref": "ClusterMemoryMB"} and cluster["Timeout"] == {"Ref": "ClusterTimeoutSeconds"}
    kickoff_env = resources["KickoffFunction"]["Properties"]["Environment"]["Variables"]
    assert kickoff_env["MAX_CONCURRENCY"] == {"Ref": "MaxConcurrency"}
    assert kickoff_env["TOLERATED_FAILURE_PERCENTAGE"] == {"Ref": "ToleratedFailurePercentage"}
    assert resources["InputBucket"]["Properties"]["BucketName"] == {"Ref": "InputBucketName"}
    policies = [next(iter(p)) for p in resources["ClusteringStateMachine"]["Properties"]["Policies"]]
    assert {"LambdaInvokePolicy", "StepFunctionsExecutionPolicy", "Statement"} <= set(policies)
    assert "S3CrudPolicy" not in policies  # the machine reads manifests and writes map results only


def resource(template, name):
    return template["Resources"][name]


@pytest.mark.parametrize("edit, expected", [
    (lambda t: resource(t, "OutputBucket").pop("DeletionPolicy"), "OutputBucket: DeletionPolicy"),
    (lambda t: t["Resources"].pop("InputBucketPolicy"), "InputBucket: no bucket policy denying requests without TLS"),
    (lambda t: resource(t, "OutputBucket")["Properties"]["LifecycleConfiguration"]["Rules"].pop(0),
     "no expiration rule for ['runs/']"),
    (lambda t: t["Globals"]["Function"].pop("Tracing"), "ClusterFunction: Tracing is not Active"),
    (lambda t: resource(t, "ClusterLogGroup")["Properties"].pop("RetentionInDays"), "ClusterLogGroup: no RetentionInDays"),
    (lambda t: resource(t, "KickoffFunction")["Properties"].pop("LoggingConfig"), "KickoffFunction: logs go to no"),
    (lambda t: resource(t, "ClusterFunction")["Properties"]["Policies"].append(
        {"S3CrudPolicy": {"BucketName": {"Ref": "OutputBucket"}}}), "S3CrudPolicy grants a whole bucket"),
    (lambda t: resource(t, "ClusterFunction")["Properties"].update(MemorySize=3008), "MemorySize does not come"),
    (lambda t: resource(t, "ClusterFunction")["Properties"].pop("ReservedConcurrentExecutions"),
     "ReservedConcurrentExecutions does not come"),
    (lambda t: resource(t, "ClusteringStateMachine")["Properties"].pop("Logging"), "no Logging Level"),
    (lambda t: resource(t, "ClusteringStateMachine")["Properties"].pop("Tracing"), "Tracing is not enabled"),
    (lambda t: resource(t, "ClusteringStateMachine")["Properties"].pop("Tags"), "wrok:max-concurrency"),
    (lambda t: resource(t, "ClusteringStateMachine")["Properties"]["Policies"][2]["Statement"][2]["Action"].remove(
        "s3:AbortMultipartUpload"), "ResultWriter lacks ['s3:AbortMultipartUpload']"),
])
def test_template_hygiene_mistakes_are_reported(template, edit, expected):
    edited = copy.deepcopy(template)
    assert validate.template_problems(edited) == []
    edit(edited)
    problems = validate.template_problems(edited)
    assert any(expected in problem for problem in problems), problems


def test_image_recipe_installs_only_hashed_locked_packages(tmp_path):
    problems, warnings = validate.image_problems()
    assert problems == [] and warnings == [] or problems == [] and "not pinned by digest" in warnings[0]
    lock = (validate.HERE / "requirements-lambda.lock").read_text()
    assert "numpy==1.26.4" in lock and "python-dateutil==2.8.2" in lock and lock.count("--hash=sha256:") > 100
    unhashed = tmp_path / "Dockerfile"
    unhashed.write_text(validate.DOCKERFILE.read_text().replace("--require-hashes ", ""))
    assert "--require-hashes" in validate.image_problems(unhashed)[0][0]
    unpinned = tmp_path / "Dockerfile.pinned"
    unpinned.write_text(validate.DOCKERFILE.read_text().replace(
        "ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.11", "ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.11@sha256:" + "0" * 64))
    assert validate.image_problems(unpinned)[1] == []
    newer = tmp_path / "requirements.txt"  # an engine pin the lock does not have yet
    newer.write_text((validate.HERE.parent / "requirements.txt").read_text() + "\nnewpackage==1.0\n")
    assert "lacks ['newpackage==1.0']" in validate.image_problems(requirements=newer)[0][0]
    elsewhere = tmp_path / "elsewhere.txt"  # a pin for another Python than the image's is not the image's to lock
    elsewhere.write_text((validate.HERE.parent / "requirements.txt").read_text()
                         + '\nnewpackage==1.0 ; python_version >= "3.14"\n')
    assert validate.image_problems(requirements=elsewhere)[0] == []
