"""Fixtures: fake credentials, a moto S3 for unit tests, and a real moto HTTP server for the pipeline."""

from __future__ import annotations

import copy
import importlib
import json
import urllib.request

import pytest

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch):
    """No test may reach a real account: fake keys, no profile, a fixed region."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def call_real_handler(function, body: bytes, response_headers: dict) -> bytes:
    """Run the function's configured handler in-process, answering as the Lambda service does."""
    module_name, _, attribute = function.handler.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    try:
        result = handler(json.loads(body or b"{}"), None)
    except Exception as error:  # the Lambda runtime reports unhandled errors this way
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()
    return json.dumps(result).encode()


@pytest.fixture(scope="module")
def moto_endpoint():
    """A ThreadedMotoServer on 127.0.0.1 whose Step Functions interpreter runs executions and whose
    Lambda invokes run the project's real handlers (moto alone would only echo the payload)."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.models import default_user_config
    from moto.server import ThreadedMotoServer

    saved_config = copy.deepcopy(default_user_config)  # the config call below is process-wide
    patch = pytest.MonkeyPatch()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        patch.setenv("MOTO_PORT", str(port))  # where moto's interpreter calls Lambda and S3
        patch.setattr(LambdaSimpleBackend, "invoke",
                      lambda self, name, qualifier, body, headers, response_headers:
                      call_real_handler(self.get_function(name, qualifier), body, response_headers))
        config = json.dumps({"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        request = urllib.request.Request(f"{endpoint}/moto-api/config", data=config.encode(), method="POST")
        urllib.request.urlopen(request, timeout=10).close()
        yield endpoint
    finally:
        server.stop()
        patch.undo()
        default_user_config.clear()
        default_user_config.update(saved_config)
