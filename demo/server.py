"""Serve the demo sites on loopback: ``serve(port)`` until Ctrl-C, or ``start(port)`` in a thread.

One server, one port, one site per path prefix (``/classifieds/`` …), a robots.txt for all of them, and an
index page at ``/``. Only ever binds to 127.0.0.1. ``POST /_demo/…`` takes an ad down, puts it back, reposts it
or takes a site down (``demo.admin``), so that tests and the demo see what happens after a takedown.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from demo.admin import PREFIX as ADMIN_PREFIX
from demo.admin import Admin, relayout
from demo.classifieds.site import ClassifiedsSite
from demo.hostile.site import HostileSite
from demo.reply import Reply
from demo.social.site import SocialSite

__all__ = ["DEFAULT_PORT", "DemoServer", "Reply", "serve", "start"]

DEFAULT_PORT = 8731
HOST = "127.0.0.1"

ROBOTS = """User-agent: *
Disallow: /classifieds/user/
Disallow: /hostile/private/
Disallow: /_demo/
"""

INDEX = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>adclear 演示站点</title></head>
<body><h1>adclear 演示站点</h1><ul>
<li><a href="/classifieds/">示范同城网（分类信息）</a></li>
<li><a href="/social/">示范圈（社交动态，需 JavaScript）</a></li>
<li><a href="/hostile/">故障与恶意页面（测试爬虫的健壮性）</a></li>
</ul><p>所有内容均为虚构，仅供演示与测试。</p></body></html>"""


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = DEFAULT_PORT):
        self.classifieds = ClassifiedsSite()
        _ = self.classifieds.ads  # load (and validate) the content before accepting requests
        self.hostile = HostileSite()
        self.social = SocialSite()
        _ = self.social.posts
        self.admin = Admin(self.classifieds, self.social)  # takedowns, reposts and outages (demo.admin)
        self.requests: list[tuple[float, str]] = []  # (time, path) of every request, for tests
        super().__init__((HOST, port), _Handler)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def route(self, path: str, query: str = "") -> Reply:
        self.requests.append((time.monotonic(), path))
        reply = self._route(path, query)
        if "classifieds" in self.admin.relaid and path.startswith("/classifieds"):
            reply = replace(reply, body=relayout(reply.body))  # its new layout (POST /_demo/layout)
        return reply

    def _route(self, path: str, query: str) -> Reply:
        if path == "/robots.txt":
            return Reply(200, "text/plain; charset=utf-8", ROBOTS.encode())
        if path in ("/", "/index.html"):
            return Reply(200, "text/html; charset=utf-8", INDEX.encode())
        if path.startswith(ADMIN_PREFIX):
            return Reply(405, "text/plain; charset=utf-8", b"POST only", headers={"Allow": "POST"})
        down = next((s for s in self.admin.down if path.startswith(f"/{s}/") or path == f"/{s}"), None)
        if down is not None:
            return Reply(503, "text/plain; charset=utf-8", f"{down}: service unavailable".encode())
        answer = self.social.page(path, query) or self.classifieds.search_page(path, query)
        if answer is not None:
            return Reply(*answer)
        for site in (self.classifieds, self.hostile):
            answer = site.page(path)
            if answer is not None:
                return answer if isinstance(answer, Reply) else Reply(*answer)
        return Reply(404, "text/plain; charset=utf-8", b"not found")


class _Handler(BaseHTTPRequestHandler):
    server: DemoServer
    server_version = "adclear-demo/1"

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_POST(self) -> None:
        """``/_demo/…`` (demo.admin), from this machine only."""
        target = urlsplit(self.path)
        if not target.path.startswith(ADMIN_PREFIX):
            reply = Reply(405, "text/plain; charset=utf-8", b"GET only", headers={"Allow": "GET, HEAD"})
        elif not ipaddress.ip_address(self.client_address[0]).is_loopback:
            reply = Reply(403, "text/plain; charset=utf-8", b"from this machine only")
        else:
            reply = self.server.admin.answer(target.path, target.query)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _answer(self, *, with_body: bool) -> None:
        target = urlsplit(self.path)
        reply = self.server.route(target.path, target.query)
        self.send_response(reply.status)
        if reply.content_type:  # "" sends none: a hostile page leaves the type to be sniffed
            self.send_header("Content-Type", reply.content_type)
        length = reply.declared_length if reply.declared_length is not None else len(reply.body)
        if length >= 0:  # -1: none sent, the body ends when the connection closes
            self.send_header("Content-Length", str(length))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.stall:
            self.wfile.flush()
            time.sleep(reply.stall)
        if with_body:
            try:
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                return  # the crawler gave up (timeout, size limit): fine
        if reply.declared_length is not None:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # quiet: the crawler logs what it fetched
        pass


def start(port: int = DEFAULT_PORT) -> DemoServer:
    """Serve in a daemon thread; ``port=0`` picks a free port (see ``server.base_url``)."""
    server = DemoServer(port)
    thread = threading.Thread(target=server.serve_forever, name="demo-sites", daemon=True)
    thread.start()
    return server


def serve(port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted."""
    server = DemoServer(port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
