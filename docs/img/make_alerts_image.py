"""The 告警 page for the docs (docs/img/alerts.png), from a real sequence, in headless Chromium.

    .venv/bin/python docs/img/make_alerts_image.py [OUT_DIR]

In a scratch directory: the demo sites on a free loopback port, a local 企业微信-style receiver, a 钉钉 channel
whose receiver is down; `adclear crawl` of the classifieds site and the hostile site, then the classifieds site
again in its new layout (POST /_demo/layout): the run finds pages and no ad, its alert is sent to the one channel
and given up on the other after its tries. The page is shot at 1280 px (docs/img/alerts.png) and at 390 px
(OUT_DIR/alerts-390.png, default /tmp, to look at). Needs Debian's chromium and fonts-noto-cjk.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM  # noqa: E402 (after the path insert)


class _Robot(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _adclear(work: Path, *args: str) -> None:
    env = {**os.environ, "ADCLEAR_ALERTS": str(work / "alerts.yml"), "PYTHONIOENCODING": "utf-8"}
    cmd = [sys.executable, "-m", "adclear", "--db", str(work / "data" / "adclear.db"), "--seeds",
           str(work / "seeds.yml"), *args]  # fmt: skip
    print(subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True).stdout)


def prepare(work: Path) -> Path:
    from demo.server import start

    demo = start(0)
    robot = ThreadingHTTPServer(("127.0.0.1", 0), _Robot)
    threading.Thread(target=robot.serve_forever, daemon=True).start()
    seeds = (REPO / "seeds.yml").read_text(encoding="utf-8").replace("http://127.0.0.1:8731", demo.base_url)
    (work / "seeds.yml").write_text(seeds, encoding="utf-8")
    (work / "alerts.yml").write_text(
        f"""retry: {{attempts: 2, backoff: 0}}
channels:
  - name: ops-wecom
    type: wecom
    url: http://127.0.0.1:{robot.server_address[1]}/cgi-bin/webhook/send?key=demo
  - name: chief-dingtalk
    type: dingtalk
    url: http://127.0.0.1:{_free_port()}/robot/send?access_token=demo
    secret: SECdemo
    min_severity: critical
""",
        encoding="utf-8",
    )
    _adclear(work, "crawl", "demo-classifieds", "demo-hostile")
    request = urllib.request.Request(f"{demo.base_url}/_demo/layout?site=classifieds&v=2", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    _adclear(work, "crawl", "demo-classifieds")
    _adclear(work, "alerts", "deliver")  # the second and last try of the 钉钉 channel, whose receiver is down
    demo.shutdown()
    robot.shutdown()
    return work / "data" / "adclear.db"


def shoot(db_path: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from core.db import connect
    from review.users import DEMO_USERS, ensure_demo_users
    from review.web import create_app

    ensure_demo_users(connect(db_path))
    app = create_app(db_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    name, _, password = DEMO_USERS[1]  # a supervisor
    try:
        with sync_playwright() as p:
            chromium = os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM)
            browser = p.chromium.launch(executable_path=chromium, args=list(BASE_ARGS))
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(f"{base}/login")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", password)
            page.click("form button[type=submit]")
            page.wait_for_url("**/queue")
            page.goto(f"{base}/alerts")
            page.screenshot(path=str(HERE / "alerts.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=str(out / "alerts-390.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    print(f"wrote {HERE / 'alerts.png'} and {out / 'alerts-390.png'}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        shoot(prepare(Path(scratch)), Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp"))
