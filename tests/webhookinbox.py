"""A local webhook receiver for the alert tests: http.server on 127.0.0.1, keeping every POST it receives.

It answers as the robots do: ``{"errcode": 0, "errmsg": "ok"}`` (``answer`` changes it, ``status`` the HTTP
status), so that the same receiver stands for a generic webhook, a 企业微信 robot and a 钉钉 robot.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Posted:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # the JSON received


@dataclass
class Hook:
    port: int = 0
    posts: list[Posted] = field(default_factory=list)
    status: int = 200
    answer: dict[str, Any] = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Posted]:
        return [p for p in self.posts if p.path == path]


@contextmanager
def webhook_server() -> Iterator[Hook]:
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = urlsplit(self.path)
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            hook.posts.append(
                Posted(
                    target.path,
                    {k: v[0] for k, v in parse_qs(target.query).items()},
                    dict(self.headers.items()),
                    json.loads(raw.decode("utf-8")),
                )
            )
            data = json.dumps(hook.answer).encode()
            self.send_response(hook.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
