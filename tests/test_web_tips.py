"""The 举报线索 pages in headless Chromium: a tip to a private address refused with a clear message, a tip with an
attachment, the tipster masked for a reviewer and shown to a supervisor (audited), and the pages at 390 px.

The app's tip setup is the command line's (``adclear.tips.web_setup``) with a resolver injected (``resolve``):
private.test resolves to 10.20.30.40 without asking DNS, and the URL is refused before any packet; a URL that
passes the check is handed to a fetcher that only records it.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3

import pytest

from adclear.tips import web_setup
from core.db import connect
from core.seeds import Seeds
from demo.hostile import ssrf
from review import attachments, tips
from review.dispatch import Office
from tests.test_web_browser import browser, login  # noqa: F401 (the module's browser fixture)
from tests.webdata import build, running_app

pytestmark = pytest.mark.slow

OFFICE = Office(code="SFX", name="示范县处非办")
SEEDS = {
    "operator": {"name": "示范县处非办", "code": "SFX"},
    "sites": [
        {
            "name": "other",
            "platform": "别的网站",
            "kind": "classifieds",
            "start_urls": ["http://other.test/"],
            "allowed_domains": ["other.test"],
            "list": {"items": "a"},
            "detail": {"title": "h1", "body": "body"},
        }
    ],
}
PUBLIC = {"bbs.example": "93.184.216.34"}  # a public address: passes the check; the test's fetcher sends nothing


def resolve(host: str) -> list[str]:
    """The hostile demo's names, and one public name; nothing asks DNS."""
    if host in PUBLIC:
        return [PUBLIC[host]]
    return ssrf.resolve(host)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def app(tmp_path):
    """(base URL, database path) of an app whose tip URLs are checked through the hostile demo's resolver."""
    db_path = tmp_path / "data" / "adclear.db"
    build(db_path)
    started: list[str] = []
    setup = web_setup(
        Seeds.model_validate(SEEDS), OFFICE, db_path=db_path, seeds_path=tmp_path / "seeds.yml",
        overrides={"ADCLEAR_RESOLVER": "tests.test_web_tips.resolve"},
    )  # fmt: skip
    checked = tips.Setup(office=OFFICE, precheck=setup.precheck, start_fetch=started.append)
    with running_app(db_path, TIPS=checked) as base:
        yield base, db_path, started


def query(db_path, sql, *args):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, args).fetchall()


def fill_tip(page, base, *, summary, url="", name="", phone=""):
    page.goto(f"{base}/tips")
    if not page.locator("#tip-new").evaluate("d => d.open"):
        page.click("#tip-new summary")
    page.select_option("#tip-form select[name=channel]", "phone")
    page.fill("#tip-form textarea[name=summary]", summary)
    page.fill("#tip-form input[name=url]", url)
    page.fill("#tip-form input[name=name]", name)
    page.fill("#tip-form input[name=phone]", phone)


def test_a_tip_to_a_private_address_is_refused_with_a_clear_message(browser, app):  # noqa: F811
    base, db_path, started = app
    page = login(browser, base, "rev1")
    fill_tip(page, base, summary="微信群里推荐内部理财，月息3分", url="http://private.test/admin", name="张三")
    page.click("#tip-submit")
    page.wait_for_url(re.compile(r".*/tips/\d+$"))
    error = page.locator(".flash-error").inner_text()
    assert "网址未抓取" in error
    assert "未连接即拒绝：private.test 解析为 10.20.30.40，是内网地址" in error and "为线索放行该地址段" in error
    assert "已拒绝" in page.locator("#tip-fetch").inner_text()
    fetch = page.locator("#tip-fetch .fetch-detail")  # the recorded English in its title, the reader's Chinese shown
    assert fetch.inner_text().startswith("未连接即拒绝：private.test 解析为 10.20.30.40，是内网地址")
    assert fetch.get_attribute("title").startswith("refused before connecting: private.test resolves to 10.20.30.40")
    assert "〔" in page.locator("h1").inner_text() and "线字第0001号" in page.locator("h1").inner_text()
    assert started == []  # nothing was handed to the fetcher
    assert query(db_path, "SELECT fetch_outcome, url FROM tips") == [("refused", "http://private.test/admin")]
    steps = page.locator("#tip-steps").inner_text()
    assert "受理线索" in steps and "线索网址抓取" in steps and "已拒绝" in steps


def test_an_accepted_url_is_handed_to_the_fetcher(browser, app):  # noqa: F811
    base, db_path, started = app
    page = login(browser, base, "rev1")
    fill_tip(page, base, summary="本县论坛有人卖原始股", url="http://bbs.example/thread/1.html")
    page.click("#tip-submit")
    page.wait_for_url(re.compile(r".*/tips/\d+$"))
    assert "正在后台抓取" in page.locator(".flash-ok").last.inner_text()
    assert started == [number for (number,) in query(db_path, "SELECT number FROM tips")]
    assert "等待抓取" in page.locator("#tip-fetch").inner_text()


def test_a_tip_with_an_attachment(browser, app):  # noqa: F811
    base, db_path, _ = app
    page = login(browser, base, "rev1")
    fill_tip(page, base, summary="来信附朋友圈截图：养老项目保本高息")
    page.set_input_files(
        "#tip-form input[name=attachment]", {"name": "朋友圈截图.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.click("#tip-submit")
    page.wait_for_url(re.compile(r".*/tips/\d+$"))
    digest = hashlib.sha256(PNG).hexdigest()
    files = page.locator("#tip-files").inner_text()
    assert "朋友圈截图.png" in files and digest in files
    db = connect(db_path)
    assert (attachments.attachments_dir(db) / digest).read_bytes() == PNG
    db.close()
    link = page.locator("#tip-files a").get_attribute("href")
    assert page.request.get(f"{base}{link}").body() == PNG
    assert query(db_path, "SELECT name, sha256, size FROM tip_attachments") == [("朋友圈截图.png", digest, len(PNG))]


def test_the_tipster_is_masked_for_a_reviewer_and_shown_to_a_supervisor(browser, app):  # noqa: F811
    base, db_path, _ = app
    db = connect(db_path)
    made = tips.add(
        db, OFFICE, channel="phone", summary="电话举报：小区门口发传单，年化18%", actor="rev1",
        tipster_name="张三丰", tipster_phone="13812345678",
    )  # fmt: skip
    db.close()
    reviewer = login(browser, base, "rev1")
    for path in ("/tips", f"/tips/{made.id}"):
        reviewer.goto(f"{base}{path}")
        html = reviewer.content()
        assert "张**" in html and "138****5678" in html, path
        assert "张三丰" not in html and "13812345678" not in html, path
    assert "已脱敏" in reviewer.locator("#tipster").inner_text()
    boss = login(browser, base, "boss")
    boss.goto(f"{base}/tips/{made.id}")
    assert "张三丰 · 13812345678" in boss.locator("#tipster").inner_text()
    assert query(db_path, "SELECT actor, target FROM audit_log WHERE action = 'tip_reveal'") == [
        ("boss", f"tip:{made.number}")
    ]


def test_the_tip_pages_fit_a_phone(browser, app):  # noqa: F811
    base, db_path, _ = app
    db = connect(db_path)
    made = tips.add(
        db, OFFICE, channel="web", summary="网友举报" * 40, url="http://example.test/" + "x" * 120, actor="rev1"
    )
    db.close()
    page = login(browser, base, "boss")
    for width in (390, 360):
        page.set_viewport_size({"width": width, "height": 844})
        for path in ("/tips", f"/tips/{made.id}"):
            page.goto(f"{base}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (width, path)
