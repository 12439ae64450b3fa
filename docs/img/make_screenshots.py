"""Screenshots of the review app for the docs (docs/img/queue.png, ad.png, cluster.png), in headless Chromium.

    .venv/bin/adclear --db /tmp/demo/core.db demo --no-serve     # a demo database with its demo logins
    .venv/bin/python docs/img/make_screenshots.py /tmp/demo/core.db

Needs Debian's chromium and fonts-noto-cjk (`make system-deps`); traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM  # noqa: E402 (after the path insert)

ARGS = list(BASE_ARGS)


def log_in(page: Any, base: str, name: str, password: str) -> None:
    """Log ``page`` in to the app at ``base``; returns on the queue page."""
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/queue")


def main(db_path: Path) -> None:
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
    name, _, password = DEMO_USERS[0]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 860}, locale="zh-CN")
            log_in(page, base, name, password)
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.screenshot(path=str(HERE / "queue.png"))
            with page.expect_navigation():
                page.keyboard.press("n")
            page.keyboard.press("c")
            page.wait_for_timeout(300)
            page.set_viewport_size({"width": 1400, "height": 1250})
            page.screenshot(path=str(HERE / "ad.png"))
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(f"{base}/queue?clusters=1")
            page.locator("a.cluster-mark").first.click()
            page.wait_for_url("**/cluster/*")
            page.screenshot(path=str(HERE / "cluster.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    print(f"wrote {HERE / 'queue.png'}, {HERE / 'ad.png'} and {HERE / 'cluster.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
