"""Screenshots of the dashboard (统计) for the docs: docs/img/dashboard.png at 1280 px, and a 390 px (phone) one.

    .venv/bin/python docs/img/make_dashboard_image.py DB [CAMPAIGN] [--narrow OUT.png]

DB: a database with a campaign (the one tests/test_stats.py builds on the demo sites makes a good picture);
logs in with the first demo supervisor (created if missing). Needs Debian's chromium and fonts-noto-cjk
(`make system-deps`); traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM  # noqa: E402 (after the path insert)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("campaign", nargs="?", default="")
    parser.add_argument("--narrow", type=Path, default=Path("/tmp/dashboard-390.png"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from core.db import connect
    from review.users import DEMO_USERS, ensure_demo_users
    from review.web import create_app

    ensure_demo_users(connect(args.db))
    server = make_server("127.0.0.1", 0, create_app(args.db), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    name, _, password = next(u for u in DEMO_USERS if u[1] == "supervisor")
    query = "?" + urlencode({"campaign": args.campaign}) if args.campaign else ""
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM), args=list(BASE_ARGS)
            )
            for width, out in ((1280, HERE / "dashboard.png"), (390, args.narrow)):
                page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")
                page.goto(f"{base}/login")
                page.fill("input[name=name]", name)
                page.fill("input[name=password]", password)
                page.click("form button[type=submit]")
                page.wait_for_url("**/queue")
                page.goto(f"{base}/dashboard{query}")
                page.wait_for_selector("#chart-funnel[data-drawn] canvas")
                page.wait_for_timeout(1200)  # ECharts' entry animation
                page.screenshot(path=str(out), full_page=True)
                print(f"wrote {out}")
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
