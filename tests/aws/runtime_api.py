"""A minimal AWS Lambda Runtime API on 127.0.0.1 serving queued events to awslambdaric.

GET  /2018-06-01/runtime/invocation/next          -> the next event (or waits, bounded, when none is left)
POST /2018-06-01/runtime/invocation/<id>/response -> recorded in .responses
POST /2018-06-01/runtime/invocation/<id>/error    -> recorded in .errors
POST /2018-06-01/runtime/init/error               -> recorded in .errors under "init"
"""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime/"


class RuntimeApi:
    def __init__(self, events: list, idle_seconds: float = 30.0):
        self.pending = queue.Queue()
        for index, event in enumerate(events):
            self.pending.put((f"request-{index}", event))
        self.responses, self.errors = {}, {}
        self.finished = threading.Event()
        self.expected = len(events)
        self.idle_seconds = idle_seconds
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.request_handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def record(self, store: dict, request_id: str, body: bytes) -> None:
        store[request_id] = json.loads(body or b"null")
        if len(self.responses) + len(self.errors) >= self.expected:
            self.finished.set()

    def request_handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def reply(self, code: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(code)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != PREFIX + "invocation/next":
                    return self.reply(404)
                try:
                    request_id, event = api.pending.get(timeout=api.idle_seconds)
                except queue.Empty:  # the test is over or broken: the runtime gets an error
                    return self.reply(500, b'{"errorMessage": "no more events"}')
                self.reply(200, json.dumps(event).encode(), {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    # as Lambda sends it: now + the function's timeout, in epoch milliseconds
                    "Lambda-Runtime-Deadline-Ms": str(int((time.time() + 900) * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:wrok",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                })

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == PREFIX + "init/error":
                    api.record(api.errors, "init", body)
                elif self.path.endswith("/response"):
                    api.record(api.responses, self.path.split("/")[-2], body)
                elif self.path.endswith("/error"):
                    api.record(api.errors, self.path.split("/")[-2], body)
                else:
                    return self.reply(404)
                self.reply(202, b"{}")

        return Handler

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
