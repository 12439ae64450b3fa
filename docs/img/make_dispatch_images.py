"""Pictures of dispatch for the docs: a page of a notice (docs/img/notice.png), the 处置 page
(docs/img/takedowns.png), made in headless Chromium from a demo database.

    .venv/bin/adclear --db /tmp/demo/core.db demo --no-serve     # a demo database with its demo logins
    .venv/bin/python docs/img/make_dispatch_images.py /tmp/demo/core.db

The demo reviewer confirms a few ads, batches are made per receiver (receivers.yml), approved by the demo
supervisor and delivered to a local SMTP server on 127.0.0.1 (aiosmtpd): one delivered on an earlier day so that
its takedowns are overdue today, one refused by the server (failed), one waiting for its handover. Needs
Debian's chromium, fonts-noto-cjk and poppler-utils (`make system-deps`); traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM  # noqa: E402 (after the path insert)
from review.decisions import confirm  # noqa: E402  (after the path is set)

ARGS = list(BASE_ARGS)
CONFIRM = {  # ad title prefix → category
    "鑫盛通网贷 年化12% 保本保息 一千元起投": "投资理财/P2P网贷",
    "康乐颐养公寓 床位预售": "养老投资",
    "招募社区节点合伙人": "拉人头/层级返利",
    "中老年理财讲座": "投资理财/P2P网贷",
    "股权众筹：示范县网红奶茶": "私募股权/原始股",
    "共赢联盟招募合伙人": "拉人头/层级返利",
}


def _ad(db, prefix: str) -> int:
    return db.execute("SELECT id FROM ads WHERE title LIKE ? AND status != 'confirmed'", [prefix + "%"]).fetchone()[0]


def confirm_some(db) -> None:
    for prefix, category in CONFIRM.items():
        confirm(db, _ad(db, prefix), reviewer="reviewer", category=category, reason="承诺保本高息，面向公众招揽资金")


def dispatch_all(db, data_dir: Path, port: int) -> Path:
    from core.seeds import load_seeds
    from review import delivery, dispatch, takedowns
    from review.mail import DeliveryFailed, SmtpSettings
    from review.receivers import load_receivers
    from review.workdays import today_china

    operator = load_seeds(REPO / "seeds.yml").operator
    setup = dispatch.Setup(
        receivers=load_receivers(REPO / "receivers.yml"),
        office=dispatch.Office(operator.code, operator.name, operator.contact),
        notices_dir=data_dir / "notices",
        smtp=SmtpSettings(host="127.0.0.1", port=port, sender="chufei@sfx.example"),
    )
    batches = {b.receiver: b for b in dispatch.create(db, setup, actor="reviewer")}
    for batch in batches.values():
        dispatch.approve(db, batch.id, supervisor="supervisor")
    # delivered three weeks ago (an injected clock): its deadline has passed today
    early = delivery.send(db, batches["demo-tongcheng"].id, setup, actor="supervisor",
                          today=today_china() - timedelta(days=21))  # fmt: skip
    first = takedowns.get(db, early.takedown_ids[0])
    takedowns.record_feedback(db, first.id, result="已删除", by="示范同城网 客服 李四", at=None, actor="reviewer")
    try:  # a server that refuses the address: the batch shows as failed
        delivery.send(db, batches["demo-quan"].id, replace(setup, smtp=replace(setup.smtp, port=1)), actor="supervisor")
    except DeliveryFailed:
        pass
    confirm(db, _ad(db, "原始股内部认购"), reviewer="reviewer", category="私募股权/原始股", reason="承诺上市翻倍")
    return data_dir / (early.notice_file or "")


def main(db_path: Path) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from core.db import connect
    from review.dispatch import Office, Setup
    from review.mail import SmtpSettings
    from review.receivers import load_receivers
    from review.users import DEMO_USERS, ensure_demo_users
    from review.web import create_app
    from tests.smtpinbox import smtp_server

    db = connect(db_path)
    ensure_demo_users(db)
    confirm_some(db)
    with smtp_server() as (_, port):
        notice = dispatch_all(db, db_path.parent, port)
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", str(notice),
                    str(HERE / "notice")], check=True)  # fmt: skip
    setup = Setup(
        load_receivers(REPO / "receivers.yml"), Office("SFX", "示范县"), db_path.parent / "notices",
        smtp=SmtpSettings(host="127.0.0.1", port=1, sender="chufei@sfx.example"),  # shows 重新发送; not used
    )  # fmt: skip
    app = create_app(db_path, DISPATCH=setup)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    name, _, password = DEMO_USERS[1]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM),
                                        args=ARGS)  # fmt: skip
            page = browser.new_page(viewport={"width": 1400, "height": 1100}, locale="zh-CN")
            page.goto(f"{base}/login")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", password)
            page.click("form button[type=submit]")
            page.wait_for_url("**/queue")
            page.goto(f"{base}/takedowns?state=all")
            page.keyboard.press("j")
            page.screenshot(path=str(HERE / "takedowns.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    print(f"wrote {HERE / 'notice.png'} and {HERE / 'takedowns.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
