"""Offline checks of the pipeline's infrastructure code: `python -m aws.validate` (make aws-validate).

1. cfn-lint on template.yaml (CloudFormation + SAM schema, through the SAM transform).
2. sam validate --lint when the SAM CLI is installed.
3. The ASL: every ${...} placeholder has a DefinitionSubstitution and vice versa; the substituted
   JSON has the structure this pipeline relies on (a DISTRIBUTED / STANDARD Map reading an S3
   manifest, Lambda tasks retrying throttling with backoff, only existing Next targets); and it
   parses with the ASL grammar of moto's Step Functions interpreter (LocalStack's ANTLR grammar).
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
THROTTLING_ERRORS = {"Lambda.TooManyRequestsException", "Lambda.ServiceException"}
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
                       for e in rule["ErrorEquals"]}
            if not THROTTLING_ERRORS <= retried:
                problems.append(f"{where}{name}: no backoff retry on {sorted(THROTTLING_ERRORS - retried)}")
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
    problems += check_asl(load_template())
    for problem in problems:
        print(problem)
    print("aws-validate: " + ("FAILED" if problems else "template and state machine OK"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
