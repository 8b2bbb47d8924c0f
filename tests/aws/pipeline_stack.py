"""Builds the template's resources on a moto endpoint: buckets, both Lambdas, the state machine."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import boto3

ASL_PATH = Path(__file__).resolve().parents[2] / "aws" / "statemachine.asl.json"
TRUST_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]})


def placeholder_zip() -> bytes:
    # moto stores the code but never runs it: invokes are dispatched to the real handler by name.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "handlers run in-process from the repository")
    return buffer.getvalue()


def definition_for(cluster_function_arn: str, results_bucket: str) -> str:
    text = ASL_PATH.read_text().replace("${ClusterFunctionArn}", cluster_function_arn)
    text = text.replace("${ResultsBucket}", results_bucket)
    assert "${" not in text, "the ASL uses a substitution this test does not fill in"
    return json.dumps(json.loads(text))


def create_stack(endpoint: str, input_bucket: str, output_bucket: str, name: str = "wrok", tags=None) -> dict:
    """tags: the state machine's tags, as the template sets them (wrok:max-concurrency, ...)."""
    session = boto3.Session()
    s3 = session.client("s3", endpoint_url=endpoint)
    for bucket in (input_bucket, output_bucket):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": session.region_name})
    role_arn = session.client("iam", endpoint_url=endpoint).create_role(
        RoleName=f"{name}-test", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    lam = session.client("lambda", endpoint_url=endpoint)
    function_arn = lam.create_function(
        FunctionName=f"{name}-cluster", Runtime="python3.11", Role=role_arn, Handler="aws.handler.handler",
        Code={"ZipFile": placeholder_zip()}, Timeout=900, MemorySize=3008)["FunctionArn"]
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    machine_arn = sfn.create_state_machine(
        name=f"{name}-clustering", definition=definition_for(function_arn, output_bucket), roleArn=role_arn,
        type="STANDARD", tags=[{"key": k, "value": v} for k, v in (tags or {}).items()])["stateMachineArn"]
    return {"s3": s3, "sfn": sfn, "state_machine_arn": machine_arn, "function_arn": function_arn}
