"""The reviewers' web app in real headless Chromium (Playwright), against the app on a free loopback port.

Each test gets its own database (ads stored and classified through the library, WARC evidence included) and
its own app; one browser serves the whole module.
"""

from __future__ import annotations

import http.server
import os
import re
import sqlite3
import threading
from pathlib import Path

import pytest

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM
from tests.webdata import HOSTILE_TITLE, PASSWORDS, build, running_app

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM)
ARGS = list(BASE_ARGS)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make system-deps` (or set ADCLEAR_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Beacon:
    """A server we control on loopback: every request that reaches it is recorded."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/beacon"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def beacon():
    b = Beacon()
    yield b
    b.close()


@pytest.fixture
def site(tmp_path, beacon):
    """(base URL, database path, ad ids) of a fresh app."""
    db_path = tmp_path / "data" / "adclear.db"
    ids = build(db_path, beacon=beacon.url)
    with running_app(db_path) as base:
        yield base, db_path, ids


def login(browser, base: str, name: str, password: str = "", **context_options):
    context = browser.new_context(locale="zh-CN", **context_options)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password or PASSWORDS[name])
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue$"))
    return page


def query(db_path: Path, sql: str, *args):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, args).fetchall()


def plain(page, selector: str) -> str:
    """The text of an element without the hit numbers (the <sup> after each highlight)."""
    return page.evaluate(
        "(sel) => { const n = document.querySelector(sel).cloneNode(true);"
        " n.querySelectorAll('sup').forEach((s) => s.remove()); return n.textContent; }",
        selector,
    )


def ad_of(page) -> int:
    return int(re.search(r"/ad/(\d+)", page.url).group(1))


def test_login_and_logout(browser, site):
    base, db_path, _ = site
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/queue")
    assert "/login" in page.url  # no session: sent to the login page
    page.fill("input[name=name]", "rev1")
    page.fill("input[name=password]", PASSWORDS["rev1"])
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue$"))
    assert page.locator("header .me").inner_text() == "rev1 · 审核员"
    assert page.locator("#count-open").inner_text() == "6"
    (cookie,) = [c for c in context.cookies() if c["name"] == "adclear"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # http here: not Secure
    page.click("[data-action=menu]")  # the ☰ menu holds the logout
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login$"))
    assert "已退出登录" in page.content()
    page.goto(f"{base}/queue")
    assert "/login" in page.url  # the session ended on the server
    actions = [a for (a,) in query(db_path, "SELECT action FROM audit_log WHERE actor = 'rev1' ORDER BY id")]
    assert actions == ["login", "logout"]
    assert query(db_path, "SELECT end_reason FROM web_sessions") == [("logout",)]
    context.close()


def test_wrong_password_then_lockout_says_when(browser, site):
    base, db_path, _ = site
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{base}/login")
    for attempt in range(1, 6):
        page.fill("input[name=name]", "rev1")
        page.fill("input[name=password]", f"wrong-password-{attempt}")
        page.click("form button[type=submit]")
        message = page.locator("#login-error").inner_text()
        if attempt < 5:
            assert message == "用户名或密码错误。"
    assert re.fullmatch(r"该账号密码错误次数过多，已暂时锁定，请于 \d\d:\d\d:\d\d 后重试。", message)
    # now even the right password is refused until then
    page.fill("input[name=name]", "rev1")
    page.fill("input[name=password]", PASSWORDS["rev1"])
    page.click("form button[type=submit]")
    assert "已暂时锁定" in page.locator("#login-error").inner_text()
    assert "/login" in page.url
    # another account is not locked by rev1's failures
    page.fill("input[name=name]", "rev2")
    page.fill("input[name=password]", PASSWORDS["rev2"])
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue$"))
    rows = query(db_path, "SELECT action, address FROM audit_log WHERE actor = 'rev1' ORDER BY id")
    assert [a for a, _ in rows] == ["login_failed"] * 5 + ["login_locked"]
    assert {addr for _, addr in rows} == {"127.0.0.1"}


def test_claim_then_confirm_and_reject_by_keyboard(browser, site):
    base, db_path, ids = site
    page = login(browser, base, "rev1")
    # J/K move through the queue, Enter opens the selected row
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("j")
    second = page.locator("#queue-table tbody tr").nth(1).get_attribute("data-ad")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert ad_of(page) == int(second)
    page.goto(f"{base}/queue")
    # N claims the highest-priority ad
    with page.expect_navigation():
        page.keyboard.press("n")
    first = ad_of(page)
    assert first == ids["promo3"]  # score 9: the top of the queue
    assert "你已认领此广告" in page.locator("#claim-state").inner_text()
    assert query(db_path, "SELECT claimed_by FROM queue WHERE ad_id = ?", first) == [("rev1",)]
    # C opens the confirmation; its hits name several categories, so none is chosen: 1 picks the first
    # candidate (and fills its legal basis); Enter submits it
    page.keyboard.press("c")
    assert page.locator("#panel-confirm").get_attribute("open") is not None
    assert page.locator("#confirm-form input[name=category]:checked").count() == 0
    page.keyboard.press("1")
    category = page.locator("#confirm-form input[name=category]:checked").get_attribute("value")
    assert "第十一条" in page.locator("#legal-basis").input_value()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    second = ad_of(page)
    assert second != first  # straight on to the next ad, claimed
    assert f"广告 #{first} 已确认违法" in page.locator(".flashes").inner_text()
    # R, then 1 (防非宣传), then Enter rejects
    page.keyboard.press("r")
    page.keyboard.press("1")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"广告 #{second} 已驳回" in page.locator(".flashes").inner_text()
    decisions = query(db_path, "SELECT ad_id, reviewer, decision, category, reason FROM decisions ORDER BY id")
    assert decisions[0][:4] == (first, "rev1", "confirmed", category)
    assert decisions[1] == (second, "rev1", "rejected", None, "防非宣传")
    assert query(db_path, "SELECT action, ad_id FROM ledger ORDER BY seq") == [
        ("confirmed", first),
        ("takedown_requested", first),
        ("rejected", second),
    ]
    addresses = query(db_path, "SELECT DISTINCT address FROM audit_log WHERE action IN ('confirm', 'reject')")
    assert addresses == [("127.0.0.1",)]
    # the ledger page verifies the chain
    page.goto(f"{base}/ledger")
    assert page.locator("#ledger-status").inner_text().startswith("✔ 哈希链校验通过：共 3 条")


def test_two_sessions_never_hold_the_same_ad(browser, site):
    base, db_path, ids = site
    one, two = login(browser, base, "rev1"), login(browser, base, "rev2")
    held = {}
    for name, page in (("rev1", one), ("rev2", two)):
        page.goto(f"{base}/queue")
        page.click("#claim-next")
        page.wait_for_url(re.compile(r".*/ad/\d+$"))
        held[name] = [ad_of(page)]
    assert held["rev1"] != held["rev2"]
    # one ad at a time: "claim next" while holding one goes back to it (issue 14, finding 12)
    one.goto(f"{base}/queue")
    with one.expect_navigation():
        one.click("#claim-next")
    assert ad_of(one) == held["rev1"][0]
    # rev2 on an ad rev1 holds: told who holds it, and its decision is refused
    theirs = held["rev1"][0]
    two.goto(f"{base}/ad/{theirs}")
    assert "rev1 正在处理此广告" in two.locator("#claim-state").inner_text()
    two.keyboard.press("r")
    two.keyboard.press("4")
    with two.expect_navigation():
        two.keyboard.press("Enter")
    assert "该广告已被 rev1 认领" in two.locator(".flashes").inner_text()
    assert query(db_path, "SELECT count(*) FROM decisions") == [(0,)]
    assert query(db_path, "SELECT claimed_by, ad_id FROM queue WHERE state = 'claimed' ORDER BY claimed_by") == [
        ("rev1", held["rev1"][0]),
        ("rev2", held["rev2"][0]),
    ]


def test_escalate_then_supervisor_resolves(browser, site):
    base, db_path, _ = site
    page = login(browser, base, "rev1")
    with page.expect_navigation():
        page.keyboard.press("n")
    ad_id = ad_of(page)
    page.keyboard.press("e")
    page.keyboard.type("像是养老诈骗，但自称持牌，请主管判断")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert f"广告 #{ad_id} 已上报主管" in page.locator(".flashes").inner_text()
    # out of the reviewers' queue: no one can claim it, the ad page says it waits for a supervisor
    assert query(db_path, "SELECT state FROM queue WHERE ad_id = ?", ad_id) == [("escalated",)]
    other = login(browser, base, "rev2")
    other.goto(f"{base}/ad/{ad_id}")
    assert "已由 rev1" in other.locator("#escalation-banner").inner_text()
    assert other.locator("#confirm-form").count() == 0 and other.locator("#reject-form").count() == 0
    # the supervisor sees it, opens it, rejects it with reason 3 by keyboard
    boss = login(browser, base, "boss")
    boss.goto(f"{base}/escalations")
    assert "像是养老诈骗" in boss.locator("#escalations").inner_text()
    boss.keyboard.press("j")
    with boss.expect_navigation():
        boss.keyboard.press("Enter")
    assert ad_of(boss) == ad_id
    boss.keyboard.press("r")
    boss.keyboard.press("3")
    with boss.expect_navigation():
        boss.keyboard.press("Enter")
    assert boss.url.endswith("/escalations")
    assert boss.locator("#no-escalations").count() == 1
    assert "已驳回" in boss.locator("#resolved").inner_text()
    assert query(db_path, "SELECT state, resolved_by, resolution FROM escalations") == [
        ("resolved", "boss", "rejected")
    ]
    assert query(db_path, "SELECT reviewer, decision, reason FROM decisions") == [("boss", "rejected", "持牌机构合规")]
    actions = query(db_path, "SELECT actor, action FROM audit_log WHERE target = ? ORDER BY id", f"ad:{ad_id}")
    assert actions == [("rev1", "claim"), ("rev1", "escalate"), ("boss", "reject"), ("boss", "resolve_escalation")]


def test_a_form_without_its_csrf_token_is_refused(browser, site):
    base, db_path, ids = site
    page = login(browser, base, "rev1")
    page.goto(f"{base}/ad/{ids['promo0']}")
    page.evaluate("document.querySelector('#confirm-form input[name=csrf_token]').remove()")
    page.keyboard.press("c")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "安全令牌" in page.locator("#error-message").inner_text()
    # a script request without the header is refused too; with it, it passes the check
    status = page.evaluate(
        "async (u) => (await fetch(u, {method: 'POST', body: new URLSearchParams({reason: '防非宣传'})})).status",
        f"{base}/ad/{ids['promo0']}/reject",
    )
    assert status == 400
    assert query(db_path, "SELECT count(*) FROM decisions") == [(0,)]


def test_a_reviewer_is_refused_on_supervisor_pages(browser, site):
    base, _, _ = site
    page = login(browser, base, "rev1")
    # search is for every role; the dashboard shows a reviewer his own figures
    menu = ["待审队列", "搜索", "处置", "举报线索", "清理台账", "统计"]
    assert page.locator("header nav").inner_text().split() == menu
    for path in ("/escalations", "/audit", "/export", "/users"):
        response = page.goto(f"{base}{path}")
        assert response.status == 403, path
        assert "权限" in page.locator("#error-message").inner_text()
    boss = login(browser, base, "boss")
    for path in ("/escalations", "/audit", "/export"):
        assert boss.goto(f"{base}{path}").status == 200
    assert boss.goto(f"{base}/users").status == 403  # admins only
    # the export downloads and is audited
    boss.goto(f"{base}/export")
    with boss.expect_download() as download:
        boss.click("#export-submit")
    assert download.value.suggested_filename.endswith(".csv")
    boss.goto(f"{base}/audit")
    assert boss.locator("#audit tr[data-action=export]").count() == 1


def test_a_hostile_ad_is_shown_inert(browser, site, beacon):
    base, _, ids = site
    page = login(browser, base, "rev1")
    dialogs, requests, done, failed = [], [], [], {}
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfinished", lambda r: done.append(r.url))
    page.on("requestfailed", lambda r: failed.setdefault(r.url, r.failure))
    page.goto(f"{base}/queue")
    assert HOSTILE_TITLE in page.locator("#queue-table").inner_text()
    page.goto(f"{base}/ad/{ids['hostile']}")
    page.wait_for_load_state("networkidle")
    assert plain(page, "#ad-title") == HOSTILE_TITLE  # the markup shown as text
    body = plain(page, "#ad-body")
    assert "<img src=x onerror=alert('img')>" in body and "javascript:alert('link')" in body
    assert page.locator("#ad-url").inner_text() == "javascript:alert('url')"
    assert page.locator("main script, main img[onerror], main svg, a[href^='javascript']").count() == 0
    page.locator("#ad-body").click()
    page.locator("#ad-url").click()
    page.keyboard.press("?")
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)
    assert dialogs == []
    # the ad's own page makes no request but to the app; the archived page in the frame tries (its <img>,
    # its stylesheet) and the browser blocks each one by the frame's CSP, before it leaves
    outside = [u for u in requests if not u.startswith(base)]
    assert all(u.startswith(beacon.url) for u in outside), outside
    assert {u: failed.get(u) for u in outside} == {u: "csp" for u in outside}
    assert all(u.startswith(base) for u in done)
    assert beacon.hits == []


def test_the_evidence_frame_is_sandboxed_and_cannot_fetch(browser, site, beacon):
    base, _, ids = site
    page = login(browser, base, "rev1")
    dialogs, failed = [], {}
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("requestfailed", lambda r: failed.setdefault(r.url, r.failure))
    with page.expect_response(re.compile(r".*/evidence/page$")) as answer:
        page.goto(f"{base}/ad/{ids['hostile']}")
    csp = answer.value.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data:")
    frame = page.locator("#evidence-frame")
    assert frame.get_attribute("sandbox") == ""  # every restriction: no scripts, no same origin
    assert "恶意页面" in page.frame_locator("#evidence-frame").locator("h1").inner_text()
    page.wait_for_timeout(1500)
    # opened on its own (not framed), the archived page is still sandboxed by its CSP
    direct = page.context.new_page()
    direct.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    direct.goto(f"{base}/ad/{ids['hostile']}/evidence/page")
    direct.wait_for_timeout(1000)
    assert dialogs == []
    assert beacon.hits == []  # nothing reached the server the archived page points at
    assert failed == {f"{beacon.url}?img": "csp", f"{beacon.url}?css": "csp"}  # blocked in the browser


def test_pages_fit_a_phone_and_wide_tables_scroll_inside_them(browser, site):
    """At a small phone's width (360 px) no page is wider than the screen (the ad page once ran 787 px wide): the
    tables scroll sideways inside the page, their Chinese text is not squeezed to one character per line, and the
    header folds what is not navigation behind a ☰ button (it took 40% of the screen)."""
    base, _, ids = site
    page = login(browser, base, "boss")
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/queue", f"/ad/{ids['promo0']}", "/escalations", "/takedowns", "/ledger", "/audit", "/export"):
        page.goto(f"{base}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    assert page.evaluate("document.querySelector('header.top').getBoundingClientRect().height") < 100
    assert not page.is_visible("#logout")
    page.click("[data-action=menu]")
    assert page.is_visible("#logout") and page.is_visible("#change-password")
    page.goto(f"{base}/queue")
    # a title cell keeps a readable width (before: ~2 characters wide)
    assert page.evaluate("document.querySelector('table.queue td a').getBoundingClientRect().width") > 150


def test_the_header_is_one_line_on_a_desktop_for_every_role(browser, site):
    """At 1280 px the header is one line for each role, in both languages: a supervisor's and an admin's pages
    (thirteen for an admin) once pushed the language, help, name, password and logout to a second line (90 px).
    Those are under the ☰ button now, a drop-down that a click elsewhere or Esc closes."""
    from core.db import connect
    from review.users import add_user

    base, db_path, _ = site
    db = connect(db_path)
    add_user(db, "root1", "admin", "Cedar-Ocean-7731")
    db.close()
    heights, pages = {}, {}
    for name in ("rev1", "boss", "root1"):
        password = PASSWORDS.get(name, "Cedar-Ocean-7731")
        page = pages[name] = login(browser, base, name, password, viewport={"width": 1280, "height": 800})
        for lang in ("en", "zh"):
            page.goto(f"{base}/lang/{lang}?next=/queue")
            heights[name, lang] = page.evaluate("document.querySelector('header.top').getBoundingClientRect().height")
    assert {k: h for k, h in heights.items() if h > 50} == {}, heights  # one line is 42 px, two were 90
    page = pages["root1"]
    assert not page.is_visible("#logout")
    page.click("[data-action=menu]")
    assert page.is_visible("#logout") and page.is_visible("#change-password")
    assert page.locator("header .me").inner_text() == "root1 · 管理员"
    page.mouse.click(640, 600)
    assert not page.is_visible("#logout")
    page.click("[data-action=menu]")
    page.keyboard.press("Escape")
    assert not page.is_visible("#logout")
    for opened in pages.values():
        opened.context.close()
