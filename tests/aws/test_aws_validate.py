"""make aws-validate's checks: they pass on the repository's files and catch the mistakes they name."""

from __future__ import annotations

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
