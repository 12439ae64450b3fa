"""Screenshots of the 举报线索 pages for docs/tips.md (docs/img/tips.png, tips-tip.png, tips-phone.png).

    .venv/bin/adclear --db /tmp/demo/core.db demo --no-serve     # a demo database with its demo logins
    .venv/bin/python docs/img/make_tips_screenshots.py /tmp/demo/core.db

Adds four tips to that database (a phone tip verified and answered, a tip whose URL is refused, a tip whose URL
became one of the demo's ads, a letter with a screenshot), then photographs the pages as the demo reviewer sees
them (the tipster masked) at 1280 px and at a phone's 390 px. Needs Debian's chromium and fonts-noto-cjk
(`make system-deps`); traffic stays on 127.0.0.1: the refused URL's name is resolved by the hostile demo's
resolver, which asks no DNS server.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM  # noqa: E402 (after the path insert)

ARGS = list(BASE_ARGS)
PNG = (HERE / "notice.png").read_bytes()


def add_tips(db_path: Path) -> int:
    """The four tips; the id of the one whose URL became an ad."""
    from adclear.tips import precheck, site_for
    from core.db import connect
    from core.seeds import load_seeds
    from demo.hostile.ssrf import resolve
    from review import tips
    from review.dispatch import Office
    from review.users import DEMO_USERS, ensure_demo_users

    db = connect(db_path)
    ensure_demo_users(db)
    seeds = load_seeds(HERE.parents[1] / "seeds.yml")
    office = Office(code=seeds.operator.code, name=seeds.operator.name)
    me = DEMO_USERS[0][0]
    phone = tips.add(
        db, office, channel="phone", summary="来电反映：小区门口有人发传单推销“养老公寓”认购，承诺年化15%、到期回购。",
        region="示范县城关镇", tipster_name="王建国", tipster_phone="13912345678", actor=me,
    )  # fmt: skip
    tips.verify(db, phone.id, actor=me, result="verified", note="派员现场核实，传单与描述一致")
    tips.feedback(db, phone.id, actor=me, text="已电话告知举报人：线索属实，已移交市场监管部门处理。")
    refused = tips.add(
        db, office, channel="web", summary="网友留言：某群分享的“内部理财”链接。", url="http://private.test/licai",
        tipster_name="李娜", tipster_phone="13600001111", actor=me,
    )  # fmt: skip
    problem = precheck(refused.url or "", site_for(seeds, refused.url or ""), resolve)
    tips.record_fetch(db, refused.id, outcome="refused", detail=str(problem or ""), ad_id=None, actor=me)
    (ad_id, url) = db.execute("SELECT id, url FROM ads WHERE status = 'flagged' ORDER BY id LIMIT 1").fetchone()
    fetched = tips.add(db, office, channel="email", summary="邮件举报示范同城网上的理财广告。", url=url, actor=me)
    tips.record_fetch(db, fetched.id, outcome="fetched", detail=f"{url} 200", ad_id=ad_id, actor="adclear-tip")
    tips.add(
        db, office, channel="letter", summary="来信附朋友圈截图：某合作社吸收“互助金”，月息2分。",
        files=[("朋友圈截图.png", PNG)], tipster_name="赵敏", actor=me,
    )  # fmt: skip
    db.close()
    return fetched.id


def main(db_path: Path) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from adclear.tips import web_setup
    from core.seeds import load_seeds
    from review.dispatch import Office
    from review.users import DEMO_USERS
    from review.web import create_app

    tip_id = add_tips(db_path)
    seeds = load_seeds(HERE.parents[1] / "seeds.yml")
    office = Office(code=seeds.operator.code, name=seeds.operator.name)
    setup = web_setup(seeds, office, db_path=db_path, seeds_path=HERE.parents[1] / "seeds.yml")
    app = create_app(db_path, TIPS=setup)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    name, _, password = DEMO_USERS[0]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(f"{base}/login")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", password)
            page.click("form button[type=submit]")
            page.wait_for_url("**/queue")
            page.goto(f"{base}/tips")
            page.click("#tip-new summary")
            page.screenshot(path=str(HERE / "tips.png"), full_page=True)
            page.goto(f"{base}/tips/{tip_id}")
            page.screenshot(path=str(HERE / "tips-tip.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{base}/tips")
            page.screenshot(path=str(HERE / "tips-phone.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    print(f"wrote {HERE / 'tips.png'}, {HERE / 'tips-tip.png'} and {HERE / 'tips-phone.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
