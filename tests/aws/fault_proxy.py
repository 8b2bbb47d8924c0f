"""An HTTP proxy in front of moto's server that answers chosen S3 requests with 503 SlowDown,
as S3 does under request-rate pressure; everything else is passed through unchanged."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class FaultProxy:
    def __init__(self, upstream: str):
        target = urlparse(upstream)
        self.upstream = (target.hostname, target.port)
        self.rules: list = []  # [method, text in the path, answers left (None: always)]
        self.refused: list = []  # (method, path) of every SlowDown sent
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def slow_down(self, method: str, path_text: str, times=None) -> None:
        """Answer `method` requests whose decoded path contains path_text with SlowDown (times, or always)."""
        with self.lock:
            self.rules.append([method, path_text, times])

    def clear(self) -> None:
        """No more refusals, and forget those made."""
        with self.lock:
            self.rules.clear()
            self.refused.clear()

    def refuse(self, method: str, path: str) -> bool:
        with self.lock:
            for rule in self.rules:
                if rule[0] == method and rule[1] in unquote(path) and rule[2] != 0:
                    if rule[2] is not None:
                        rule[2] -= 1
                    self.refused.append((method, unquote(path)))
                    return True
        return False

    def handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if not size:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += chunk
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def relay(self):
                body = self.body()
                if proxy.refuse(self.command, self.path):
                    return self.answer(503, {"Content-Type": "application/xml"}, SLOW_DOWN)
                connection = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                headers = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
                if self.command == "HEAD":  # the object's size, though no body follows
                    headers["Content-Length"] = response.getheader("Content-Length", "0")
                self.answer(response.status, headers, data, head=self.command == "HEAD")

            def answer(self, status, headers, data, head=False):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", headers.get("Content-Length", str(len(data))) if head
                                 else str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

        return Handler

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
