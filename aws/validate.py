"""Offline checks of the pipeline's infrastructure code: `python -m aws.validate` (make aws-validate).

1. cfn-lint on template.yaml (CloudFormation + SAM schema, through the SAM transform).
2. sam validate --lint when the SAM CLI is installed.
3. The template's production hygiene (template_problems): buckets kept on stack deletion, TLS-only
   bucket policies, lifecycle rules, log groups with retention, X-Ray tracing, state machine
   logging, no bucket-wide S3 policy templates, memory / timeout / reserved concurrency from
   parameters, the run-setting tags clients read.
4. The ASL: every ${...} placeholder has a DefinitionSubstitution and vice versa; the substituted
   JSON has the structure this pipeline relies on (a DISTRIBUTED / STANDARD Map reading an S3
   manifest, Lambda tasks retrying throttling and TransientError about 12 times with up to
   5 minutes between tries, only existing Next targets); and it parses with the ASL grammar of
   moto's Step Functions interpreter (LocalStack's ANTLR grammar).
5. The image: the Lambda's requirements installed from a lock file with hashes; a warning while
   the base image is not pinned by digest.
Nothing here calls AWS.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "template.yaml"
ASL = HERE / "statemachine.asl.json"
DOCKERFILE = HERE / "Dockerfile"
THROTTLING_ERRORS = {"Lambda.TooManyRequestsException", "Lambda.ServiceException", "TransientError"}
MIN_ATTEMPTS, MIN_MAX_DELAY_S = 10, 300
WIDE_S3_POLICIES = {"S3CrudPolicy", "S3FullAccessPolicy", "S3WritePolicy", "AmazonS3FullAccess"}
RESULT_WRITER_ACTIONS = {"s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"}
EXPIRING_PREFIXES = {"runs/", "done/", "map-results/"}
SETTING_TAGS = {"wrok:max-concurrency", "wrok:tolerated-failure-percentage"}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def state_machine_resource(template: dict) -> dict:
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"]
    if len(machines) != 1:
        raise AssertionError(f"expected one AWS::Serverless::StateMachine, found {len(machines)}")
    return machines[0]["Properties"]


def load_template(path: Path = TEMPLATE) -> dict:
    from cfnlint.decode import decode

    template, errors = decode(str(path))
    if errors:
        raise AssertionError(f"{path.name} does not parse: {errors}")
    return template


def substituted_definition(asl_text: str, substitutions) -> dict:
    used, given = set(PLACEHOLDER.findall(asl_text)), set(substitutions)
    if used != given:
        raise AssertionError(f"ASL placeholders {sorted(used)} != DefinitionSubstitutions {sorted(given)}")
    fake = {name: f"arn:aws:lambda:eu-west-1:123456789012:function:{name}" if name.endswith("Arn") else "bucket-name"
            for name in used}
    return json.loads(PLACEHOLDER.sub(lambda match: fake[match.group(1)], asl_text))


def state_problems(states: dict, start_at: str, where: str = "") -> list:
    problems = [] if start_at in states else [f"{where}StartAt {start_at!r} is not a state"]
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")] + [c.get("Next") for c in state.get("Choices", [])]
        targets += [c.get("Next") for c in state.get("Catch", [])]
        problems += [f"{where}{name}: Next {t!r} is not a state" for t in targets if t and t not in states]
        if "Next" not in state and not state.get("End") and state.get("Type") not in ("Choice", "Succeed", "Fail"):
            problems.append(f"{where}{name}: neither Next nor End")
        if state.get("Type") == "Task" and ":lambda:" in state.get("Resource", ""):
            retried = {e for rule in state.get("Retry", []) if rule.get("BackoffRate", 1) > 1
                       and rule.get("MaxAttempts", 3) >= MIN_ATTEMPTS and rule.get("MaxDelaySeconds", 0) >= MIN_MAX_DELAY_S
                       for e in rule["ErrorEquals"]}
            if not THROTTLING_ERRORS <= retried:
                problems.append(f"{where}{name}: no backoff retry (>= {MIN_ATTEMPTS} attempts, MaxDelaySeconds >= "
                                f"{MIN_MAX_DELAY_S}) on {sorted(THROTTLING_ERRORS - retried)}")
        if state.get("Type") == "Map":
            problems += map_problems(name, state, where)
    return problems


def map_problems(name: str, state: dict, where: str) -> list:
    processor = state.get("ItemProcessor", {})
    config = processor.get("ProcessorConfig", {})
    problems = []
    if (config.get("Mode"), config.get("ExecutionType")) != ("DISTRIBUTED", "STANDARD"):
        problems.append(f"{where}{name}: ItemProcessor must be DISTRIBUTED / STANDARD (got {config})")
    if state.get("ItemReader", {}).get("Resource") != "arn:aws:states:::s3:getObject":
        problems.append(f"{where}{name}: items must come from an S3 manifest (ItemReader s3:getObject)")
    return problems + state_problems(processor.get("States", {}), processor.get("StartAt"), f"{where}{name}/")


def parse_with_moto_grammar(definition: dict) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    notes = logging.getLogger("moto.stepfunctions.parser.asl.parse.preprocessor")
    level = notes.level
    notes.setLevel(logging.ERROR)  # moto warns that it does not enforce the failure tolerance
    try:
        AmazonStateLanguageParser.parse(json.dumps(definition))  # raises on a grammar error
    finally:
        notes.setLevel(level)


def check_asl(template: dict, asl_path: Path = ASL) -> list:
    properties = state_machine_resource(template)
    definition = substituted_definition(asl_path.read_text(), properties.get("DefinitionSubstitutions", {}))
    problems = state_problems(definition["States"], definition["StartAt"])
    try:
        parse_with_moto_grammar(definition)
    except Exception as error:
        problems.append(f"ASL grammar: {error}")
    return problems


def resources_of(template: dict, kind: str) -> dict:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def refers_to(value, name: str) -> bool:
    """value is Ref name, GetAtt name.*, or a Sub / If / list holding one."""
    return f'"Ref": "{name}"' in json.dumps(value) or f'"{name}.' in json.dumps(value) \
        or f'"Fn::GetAtt": ["{name}"' in json.dumps(value) or "${" + name in json.dumps(value)


def bucket_problems(template: dict) -> list:
    problems = []
    policies = resources_of(template, "AWS::S3::BucketPolicy").values()
    for name, bucket in resources_of(template, "AWS::S3::Bucket").items():
        if bucket.get("DeletionPolicy") != "Retain" or bucket.get("UpdateReplacePolicy") != "Retain":
            problems.append(f"{name}: DeletionPolicy and UpdateReplacePolicy must be Retain (it holds user data)")
        tls_only = any(refers_to(p["Properties"].get("Bucket"), name) and any(
            statement.get("Effect") == "Deny" and
            statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
            for statement in p["Properties"]["PolicyDocument"]["Statement"]) for p in policies)
        if not tls_only:
            problems.append(f"{name}: no bucket policy denying requests without TLS (aws:SecureTransport false)")
        rules = bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
        if not any("AbortIncompleteMultipartUpload" in rule for rule in rules):
            problems.append(f"{name}: no lifecycle rule aborting incomplete multipart uploads")
    output = template["Resources"].get("OutputBucket", {}).get("Properties", {})
    expiring = {rule.get("Prefix") for rule in output.get("LifecycleConfiguration", {}).get("Rules", [])
                if rule.get("ExpirationInDays") and rule.get("Status") == "Enabled"}
    if EXPIRING_PREFIXES - expiring:
        problems.append(f"OutputBucket: no expiration rule for {sorted(EXPIRING_PREFIXES - expiring)}")
    return problems


def log_group_problems(template: dict, owner: str, group) -> list:
    groups = resources_of(template, "AWS::Logs::LogGroup")
    named = [name for name in groups if refers_to(group, name)]
    if not named:
        return [f"{owner}: logs go to no log group of this template"]
    if not groups[named[0]]["Properties"].get("RetentionInDays"):
        return [f"{named[0]}: no RetentionInDays (logs would be kept forever)"]
    return []


def function_problems(template: dict) -> list:
    problems = []
    defaults = template.get("Globals", {}).get("Function", {})
    parameters = template.get("Parameters", {})
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        properties = {**defaults, **function["Properties"]}
        if properties.get("Tracing") != "Active":
            problems.append(f"{name}: Tracing is not Active")
        problems += log_group_problems(template, name, properties.get("LoggingConfig", {}).get("LogGroup"))
        problems += [f"{name}: {policy} grants a whole bucket; grant the prefixes the code uses"
                     for policy in properties.get("Policies", []) if isinstance(policy, dict)
                     for policy in policy if policy in WIDE_S3_POLICIES]
    cluster = template["Resources"].get("ClusterFunction", {}).get("Properties", {})
    for setting in ("MemorySize", "Timeout", "ReservedConcurrentExecutions"):
        if not any(refers_to(cluster.get(setting), parameter) for parameter in parameters):
            problems.append(f"ClusterFunction: {setting} does not come from a template parameter")
    return problems


def machine_problems(template: dict) -> list:
    properties = state_machine_resource(template)
    problems = []
    if not properties.get("Tracing", {}).get("Enabled"):
        problems.append("state machine: Tracing is not enabled")
    logging_config = properties.get("Logging", {})
    if logging_config.get("Level") not in ("ALL", "ERROR", "FATAL"):
        problems.append("state machine: no Logging Level (ALL, ERROR or FATAL)")
    for destination in logging_config.get("Destinations", []) or [{}]:
        problems += log_group_problems(template, "state machine",
                                       destination.get("CloudWatchLogsLogGroup", {}).get("LogGroupArn"))
    if SETTING_TAGS - set(properties.get("Tags", {})):
        problems.append(f"state machine: no {sorted(SETTING_TAGS - set(properties.get('Tags', {})))} tags "
                        "(clients read the deployed run settings from them)")
    statements = [s for policy in properties.get("Policies", []) if isinstance(policy, dict)
                  for s in policy.get("Statement", [])]
    granted = set()
    for statement in statements:
        if "/map-results/" in json.dumps(statement.get("Resource")):
            action = statement.get("Action")
            granted |= {action} if isinstance(action, str) else set(action)
    if RESULT_WRITER_ACTIONS - granted:
        problems.append(f"state machine: ResultWriter lacks {sorted(RESULT_WRITER_ACTIONS - granted)} on map-results/")
    return problems


def template_problems(template: dict) -> list:
    return bucket_problems(template) + function_problems(template) + machine_problems(template)


def image_pins(requirements: Path, dockerfile_text: str) -> set:
    """requirements.txt's pins that apply in the Lambda image: markers judged for the base image's Python."""
    from packaging.markers import Marker

    found = re.search(r"lambda/python:(\d+\.\d+)", dockerfile_text)
    environment = {"python_version": found.group(1)} if found else {}
    pins = set()
    for line in requirements.read_text().lower().splitlines():
        requirement, _, marker = line.split("#")[0].partition(";")
        if re.fullmatch(r"\s*[a-z0-9_.-]+==\S+\s*", requirement) and (
                not marker.strip() or Marker(marker).evaluate(environment)):
            pins.add(requirement.strip())
    return pins


def image_problems(dockerfile: Path = DOCKERFILE, requirements: Path = HERE.parent / "requirements.txt") -> tuple:
    """(problems, warnings) of the image recipe: hashed lock file, base image pinned by digest."""
    text = dockerfile.read_text()
    problems, warnings = [], []
    installs = [line for line in text.splitlines() if "pip install" in line]
    if not installs or not all("--require-hashes" in line for line in installs):
        problems.append(f"{dockerfile.name}: pip must install with --require-hashes from the lock file")
    for line in installs:
        for lock in re.findall(r"-r\s+(\S+)", line):
            path = HERE / Path(lock).name
            if not path.exists() or "--hash=sha256:" not in path.read_text():
                problems.append(f"aws/{path.name}: missing, or without --hash entries")
    lock = HERE / "requirements-lambda.lock"
    locked = set(re.findall(r"^([A-Za-z0-9_.-]+==\S+)", lock.read_text().lower(), re.M)) if lock.exists() else set()
    pins = image_pins(requirements, text)
    if pins - locked:
        problems.append(f"aws/requirements-lambda.lock lacks {sorted(pins - locked)} from requirements.txt: "
                        "recompile it (see aws/requirements-lambda.in)")
    base = re.search(r"^ARG BASE_IMAGE=(\S+)", text, re.M)
    if not base or "@sha256:" not in base.group(1):
        warnings.append(f"{dockerfile.name}: the base image is not pinned by digest (see the comment above BASE_IMAGE)")
    return problems, warnings


def run_tool(command: list) -> list:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    return [] if done.returncode == 0 else [f"{' '.join(command[:2])}: {(done.stdout + done.stderr).strip()}"]


def main() -> int:
    bin_dir = Path(sys.executable).parent
    cfn_lint = shutil.which("cfn-lint", path=str(bin_dir)) or shutil.which("cfn-lint")
    if not cfn_lint:
        print("cfn-lint not installed: pip install -r requirements-aws.txt")
        return 1
    problems = run_tool([cfn_lint, str(TEMPLATE)])
    sam = shutil.which("sam", path=str(bin_dir)) or shutil.which("sam")
    if sam:
        problems += run_tool([sam, "validate", "--lint", "--template", str(TEMPLATE), "--region", "eu-west-1"])
    else:
        print("sam CLI not installed: skipping sam validate --lint")
    template = load_template()
    problems += template_problems(template) + check_asl(template)
    image, warnings = image_problems()
    problems += image
    for warning in warnings:
        print(f"warning: {warning}")
    for problem in problems:
        print(problem)
    print("aws-validate: " + ("FAILED" if problems else "template and state machine OK"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
