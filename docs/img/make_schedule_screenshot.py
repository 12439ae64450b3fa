"""docs/img/schedule.png: the 监测计划 page while the scheduler runs a crawl asked for with its 立即运行 button.

    .venv/bin/adclear --db /tmp/demo/adclear.db demo --no-serve      # a demo database with runs and demo logins
    .venv/bin/python docs/img/make_schedule_screenshot.py /tmp/demo/adclear.db [OUT_390.png]

Serves the demo sites on 127.0.0.1:8731, starts `adclear scheduler` on the database (seeds.yml of this
checkout), logs in as the demo supervisor, presses 立即运行 for demo-social, takes the page at 1280 px once
the crawl runs (and at 390 px into OUT_390.png, for a look), then stops the scheduler with SIGTERM: the crawl
checkpoints (its run is 'interrupted', reason 'shutdown'). Needs Debian's chromium and fonts-noto-cjk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM  # noqa: E402 (after the path insert)


def main(db_path: Path, narrow: Path | None) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from core.db import connect
    from demo.server import start
    from review.users import DEMO_USERS, ensure_demo_users
    from review.web import create_app

    ensure_demo_users(connect(db_path))
    sites = start(8731)
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "adclear", "--db", str(db_path), "--seeds", str(REPO / "seeds.yml"), "scheduler"],
        cwd=REPO,
    )
    app = create_app(db_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    name, _, password = DEMO_USERS[1]  # the supervisor
    try:
        with sync_playwright() as p:
            chromium = os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM)
            browser = p.chromium.launch(executable_path=chromium, args=list(BASE_ARGS))
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(f"{base}/login")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", password)
            page.click("form button[type=submit]")
            time.sleep(2)  # the scheduler's first pass: its jobs are in the database
            page.goto(f"{base}/schedule")
            page.click("#job-demo-social button[type=submit]")
            for _ in range(40):  # the scheduler takes the request within its tick
                time.sleep(0.5)
                page.goto(f"{base}/schedule")
                if page.locator("#job-demo-social .status-running").count():
                    break
            page.screenshot(path=str(HERE / "schedule.png"), full_page=True)
            if narrow is not None:
                page.set_viewport_size({"width": 390, "height": 844})
                page.screenshot(path=str(narrow), full_page=True)
            browser.close()
        for _ in range(120):  # the crawl under way (its run recorded) before it is stopped
            time.sleep(0.5)
            if connect(db_path).execute("SELECT 1 FROM crawl_runs WHERE status = 'running'").fetchone():
                time.sleep(6)  # past the browser's start: Scrapy's clean shutdown records the run interrupted
                break
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(180)
        server.shutdown()
        sites.shutdown()
    last = connect(db_path).execute("SELECT id, status, reason, pages FROM crawl_runs ORDER BY id DESC").fetchone()
    print(f"wrote {HERE / 'schedule.png'}; the scheduler exited {scheduler.returncode}; the last run: {last}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
