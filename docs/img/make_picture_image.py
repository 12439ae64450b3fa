"""An ad flagged from its picture alone, its hit's box drawn over the picture (docs/img/picture.png).

    .venv/bin/python docs/img/make_picture_image.py [OUT_DIR]

In a scratch directory: the demo sites on a free loopback port, `adclear crawl demo-classifieds`, then
`adclear images read` (RapidOCR and zxing-cpp on the pictures of the demo ads 1901 and 1902); the page of ad
1901 is shot at its pictures at 1280 px (docs/img/picture.png) and 390 px (OUT_DIR/picture-390.png, default
/tmp, to look at). Needs Debian's chromium and fonts-noto-cjk.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM  # noqa: E402 (after the path insert)
from docs.img.make_alerts_image import _adclear  # noqa: E402
from docs.img.make_screenshots import log_in  # noqa: E402


def prepare(work: Path) -> tuple[Path, int]:
    from demo.server import start

    demo = start(0)
    seeds = (REPO / "seeds.yml").read_text(encoding="utf-8").replace("http://127.0.0.1:8731", demo.base_url)
    (work / "seeds.yml").write_text(seeds, encoding="utf-8")
    _adclear(work, "crawl", "demo-classifieds")
    demo.shutdown()
    _adclear(work, "images", "read", "--timeout", "120")
    db = work / "data" / "adclear.db"
    with sqlite3.connect(db) as conn:
        (ad_id,) = conn.execute("SELECT id FROM ads WHERE url LIKE '%/ad/1901.html'").fetchone()
    return db, ad_id


def shoot(db_path: Path, ad_id: int, out: Path) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from core.db import connect
    from review.users import DEMO_USERS, ensure_demo_users
    from review.web import create_app

    ensure_demo_users(connect(db_path))
    server = make_server("127.0.0.1", 0, create_app(db_path), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    name, _, password = DEMO_USERS[0]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM), args=list(BASE_ARGS)
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            log_in(page, base, name, password)
            page.goto(f"{base}/ad/{ad_id}")
            page.locator("#picture-1").scroll_into_view_if_needed()
            page.screenshot(path=str(HERE / "picture.png"))
            page.set_viewport_size({"width": 390, "height": 844})
            page.locator("#picture-1").scroll_into_view_if_needed()
            page.screenshot(path=str(out / "picture-390.png"))
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(out / "picture-full.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    print(f"wrote {HERE / 'picture.png'} and {out / 'picture-390.png'}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        db, ad = prepare(Path(scratch))
        shoot(db, ad, Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp"))
