"""Screenshots of search and of an entity page for the docs (docs/img/search.png, docs/img/entity.png).

    .venv/bin/adclear --db /tmp/demo/core.db demo --no-serve     # a demo database with its demo logins
    .venv/bin/python docs/img/make_search_screenshots.py /tmp/demo/core.db [NARROW_DIR]

At 1280 px into docs/img/; with NARROW_DIR, the same pages at 390 px there too (to look at, not for the docs).
Needs Debian's chromium and fonts-noto-cjk (`make system-deps`); traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from make_screenshots import log_in  # noqa: E402 (docs/img, the script's own folder)

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM  # noqa: E402 (after the path insert)

# a phone written as an evader writes it: spaced, full-width digits
QUERY = "保本 １３８ ００００ ５８２１"
ADVERTISER = "环球汇金投资顾问"


def main(db_path: Path, narrow: Path | None) -> None:
    import logging

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from core.db import connect
    from review.users import DEMO_USERS, ensure_demo_users
    from review.web import create_app

    ensure_demo_users(connect(db_path))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, create_app(db_path), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    name, _, password = DEMO_USERS[0]
    shots = {"search": f"/search?q={quote(QUERY)}", "entity": f"/entity?author={quote(ADVERTISER)}"}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            log_in(page, base, name, password)
            for width, where in ((1280, HERE), (390, narrow)):
                if where is None:
                    continue
                page.set_viewport_size({"width": width, "height": 900})
                for shot, path in shots.items():
                    answer = page.goto(base + path)
                    assert answer is not None and answer.status == 200, (path, answer and answer.status)
                    wide = page.evaluate("document.documentElement.scrollWidth")
                    print(f"{shot} at {width} px: page {wide} px wide")
                    page.screenshot(path=str(where / f"{shot}.png"), full_page=width < 1280)
            browser.close()
    finally:
        server.shutdown()


ARGS = list(BASE_ARGS)

if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
