"""The IAM the SAM transform generates from template.yaml (offline, samtranslator): each role gets
only the services and resources its code touches. Whether that is enough is only known on AWS."""

from __future__ import annotations

import copy
import json

import pytest

from aws import validate


class NoManagedPolicies:
    def load(self):
        return {}


@pytest.fixture(scope="module")
def role_statements():
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(validate.load_template())
    # sam build / package put these in; the translator needs them filled
    template["Resources"]["ClusteringStateMachine"]["Properties"]["DefinitionUri"] = "s3://artifacts/asl.json"
    for name in ("ClusterFunction", "KickoffFunction"):
        template["Resources"][name]["Properties"]["ImageUri"] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wrok:1"
    with pytest.MonkeyPatch.context() as patch:  # the translator asks boto3 for a region, never for AWS
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        resources = transform(template, {}, NoManagedPolicies())["Resources"]
    return {name: [s for policy in r["Properties"].get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
            for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}


def actions(statement) -> set:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def grants(statements, action: str) -> str:
    """Every resource granted the action, as one JSON text to search."""
    return json.dumps([s["Resource"] for s in statements if action in actions(s)])


# AWS documents Resource "*" as the only form these accept (CloudWatch Logs vended delivery, X-Ray).
RESOURCE_STAR_ONLY = ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                      "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                      "logs:DescribeResourcePolicies", "logs:DescribeLogGroups", "xray:PutTraceSegments",
                      "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")


def test_no_role_grants_wildcard_actions_or_resources(role_statements):
    assert set(role_statements) == {"ClusterFunctionRole", "KickoffFunctionRole", "ClusteringStateMachineRole"}
    for statements in role_statements.values():
        for statement in statements:
            assert not any(a == "*" or a.endswith(":*") for a in actions(statement)), statement
            assert statement["Resource"] != "*" or actions(statement) <= set(RESOURCE_STAR_ONLY), statement


def test_clustering_lambda_reads_input_and_writes_only_run_outputs(role_statements):
    statements = role_statements["ClusterFunctionRole"]
    assert "InputBucket" in grants(statements, "s3:GetObject")
    for write in ("s3:PutObject", "s3:DeleteObject"):
        granted = grants(statements, write)
        assert "OutputBucket.Arn}/runs/*" in granted and "InputBucket" not in granted
        assert "OutputBucket.Arn}/*" not in granted  # no bucket-wide writes (S3CrudPolicy gave those)
    assert not any(a.startswith("states:") for s in statements for a in actions(s))


def test_kickoff_starts_only_the_clustering_machine(role_statements):
    statements = role_statements["KickoffFunctionRole"]
    assert "ClusteringStateMachine" in grants(statements, "states:StartExecution")
    assert "InputBucket" not in grants(statements, "s3:PutObject")


def test_state_machine_invokes_the_clustering_lambda_and_runs_its_own_children(role_statements):
    statements = role_statements["ClusteringStateMachineRole"]
    assert "ClusterFunction" in grants(statements, "lambda:InvokeFunction")
    assert "${AWS::StackName}-clustering" in grants(statements, "states:StartExecution")
    assert "execution:${AWS::StackName}-clustering/*" in grants(statements, "states:StopExecution")
    assert "/runs/*" in grants(statements, "s3:GetObject")
    # what AWS documents for a Distributed Map's ResultWriter
    for action in ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"):
        assert "/map-results/*" in grants(statements, action), action
    assert "InputBucket" not in json.dumps(statements)  # it never reads region files itself
