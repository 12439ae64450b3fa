"""A reviewer's day in headless Chromium: the category when the hits disagree, clusters decided at once, the
warning against contradicting a near-duplicate, a supervisor's correction (更正) in the ledger page and the export,
an admin unlocking an account (issue 19)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest

from core.db import connect
from core.fingerprints import recluster
from review.users import add_user
from tests.test_web_browser import CHROMIUM, ad_of, login, query
from tests.webdata import PASSWORDS, add_ad, build, running_app

pytestmark = pytest.mark.slow

ADMIN = ("root1", "Cobalt-Meadow-6620")
# one scheme posted three times (a repost, an edit): a cluster of near-duplicates
SEMINAR = (
    "好消息！本周六上午在金穗大酒店三楼举办养老项目说明会，投资养老服务项目，年化收益12%，保本保息，"
    "凡到场的叔叔阿姨都有礼品相送，名额有限，先到先得，详情咨询王经理，电话 138 0000 7788。"
)
COPIES = [
    SEMINAR,
    SEMINAR.replace("王经理", "李经理").replace("7788", "9911"),
    SEMINAR.replace("本周六上午", "本周日下午").replace("三楼", "五楼"),
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make system-deps` (or set ADCLEAR_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    from core.chromium import BASE_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(BASE_ARGS), headless=True)
        yield b
        b.close()


@pytest.fixture
def site(tmp_path):
    """(base URL, database path, ad ids) of an app whose data holds a cluster of three near-duplicates."""
    db_path = tmp_path / "data" / "adclear.db"
    ids = build(db_path)
    db = connect(db_path)
    ids["cluster"] = [
        add_ad(db, "养老项目说明会", body, url=f"http://example.test/c/{n}.html") for n, body in enumerate(COPIES)
    ]
    counts = recluster(db)
    assert counts["clusters"] == 1 and counts["in_clusters"] == 3
    add_user(db, ADMIN[0], "admin", ADMIN[1])
    db.close()
    with running_app(db_path) as base:
        yield base, db_path, ids


def login_as(browser, base: str, name: str, password: str):
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    return page


def test_an_ad_whose_hits_name_several_categories_is_not_confirmed_without_a_choice(browser, site):
    base, db_path, ids = site
    page = login(browser, base, "rev1")
    ad_id = ids["promo3"]  # 区块链 … its hits name four categories
    page.goto(f"{base}/ad/{ad_id}")
    with page.expect_navigation():
        page.click("#claim-this")
    page.keyboard.press("c")
    radios = page.locator("#confirm-form .candidate input[name=category]")
    assert radios.count() == 4
    assert page.locator("#confirm-form input[name=category]:checked").count() == 0  # none pre-selected
    assert "4 个涉嫌类型" in page.locator("#category-warning").inner_text()
    # each candidate shows the words that matched it, marked, and its rule
    first = page.locator("#confirm-form label.candidate").first
    assert first.locator("mark.hit-category").count() >= 1 and first.locator("code.rule").count() >= 1
    assert page.locator("#legal-basis").input_value() == ""
    # C put the focus on the first candidate, not on the submit button: Enter does not confirm
    assert page.evaluate("document.activeElement.name") == "category"
    page.click("#confirm-submit")  # the browser refuses the form: a category is required
    page.wait_for_timeout(300)
    assert ad_of(page) == ad_id and query(db_path, "SELECT count(*) FROM decisions") == [(0,)]
    # past the browser's check (the attribute removed), the server refuses it too
    page.evaluate("document.querySelectorAll('#confirm-form [required]').forEach((e) => e.removeAttribute('required'))")
    with page.expect_navigation():
        page.click("#confirm-submit")
    assert "请选择涉嫌类型" in page.locator(".flashes").inner_text()
    assert query(db_path, "SELECT count(*) FROM decisions") == [(0,)] and query(
        db_path, "SELECT count(*) FROM ledger"
    ) == [(0,)]
    # the reviewer picks the second candidate by its digit; the legal basis follows; Enter confirms it
    page.keyboard.press("c")
    chosen = page.locator("#confirm-form label.candidate").nth(1).locator("input").get_attribute("value")
    page.keyboard.press("2")
    assert page.locator("#confirm-form input[name=category]:checked").get_attribute("value") == chosen
    assert "第十一条" in page.locator("#legal-basis").input_value()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert query(db_path, "SELECT ad_id, category FROM decisions") == [(ad_id, chosen)]
    # an ad whose hits agree: its one category is pre-filled
    page.goto(f"{base}/ad/{ids['promo0']}")
    checked = page.locator("#confirm-form input[name=category]:checked")
    assert checked.count() == 1 and checked.get_attribute("value") == "投资理财/P2P网贷"
    assert page.locator("#category-warning").count() == 0


def test_a_cluster_is_decided_at_once_one_ledger_entry_per_ad(browser, site, tmp_path):
    base, db_path, ids = site
    first, second, third = ids["cluster"]
    page = login(browser, base, "rev1")
    # the queue marks each ad of the cluster with its size; the filter keeps only them
    marks = page.locator("#queue-table a.cluster-mark")
    assert marks.count() == 3 and set(marks.all_inner_texts()) == {"≈3"}
    page.check("#clusters-only")
    with page.expect_navigation():
        page.click(".filters button[type=submit]")
    rows = page.locator("#queue-table tbody tr")
    assert sorted(int(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.ad)")) == [first, second, third]
    with page.expect_navigation():
        marks.first.click()
    assert page.url.endswith(f"/cluster/{first}")
    assert page.locator("#cluster-ads tbody tr").count() == 3
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(tmp_path / f"cluster-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size({"width": 1280, "height": 900})
    # decide two of the three: untick the third, pick the category, give the reason
    page.uncheck(f"#cluster-ads input[name=ad][value='{third}']")
    page.check("#cluster-confirm input[name=category][value='养老投资']")
    page.fill("#cluster-reason", "以养老床位投资承诺年化收益，面向老年人公开招揽")
    with page.expect_navigation():
        page.click("#cluster-confirm-submit")
    assert "已确认 2 条广告违法" in page.locator(".flashes").inner_text()
    entries = query(db_path, "SELECT action, ad_id, json_extract(payload, '$.cluster_id') FROM ledger ORDER BY seq")
    assert entries == [
        ("confirmed", first, first),
        ("takedown_requested", first, None),
        ("confirmed", second, first),
        ("takedown_requested", second, None),
    ]
    assert query(db_path, "SELECT ad_id, reviewer, category FROM decisions ORDER BY ad_id") == [
        (first, "rev1", "养老投资"),
        (second, "rev1", "养老投资"),
    ]
    assert query(db_path, "SELECT status FROM ads WHERE id = ?", third) == [("flagged",)]
    statuses = page.locator("#cluster-ads tbody tr .status").all_inner_texts()
    assert statuses[:2] == ["已确认违法", "已确认违法"] and statuses[2] != "已确认违法"


def test_rejecting_the_near_duplicate_of_a_confirmed_ad_needs_a_reason(browser, site):
    base, db_path, ids = site
    first, second, _ = ids["cluster"]
    page = login(browser, base, "rev1")
    page.goto(f"{base}/ad/{first}")
    with page.expect_navigation():
        page.click("#claim-this")
    page.keyboard.press("c")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # one category (养老投资): pre-filled, confirmed with two keys
    assert query(db_path, "SELECT ad_id, decision FROM decisions") == [(first, "confirmed")]
    other = login(browser, base, "rev2")
    other.goto(f"{base}/ad/{second}")
    with other.expect_navigation():
        other.click("#claim-this")
    # the reject form warns, names the confirmed near-duplicate and asks why
    other.keyboard.press("r")
    warning = other.locator("#reject-clash")
    assert warning.is_visible()
    assert f"#{first}" in warning.inner_text() and "已确认违法" in warning.inner_text()
    other.keyboard.press("4")  # 非集资广告
    other.keyboard.press("Enter")  # refused by the browser: the reason is required
    other.wait_for_timeout(300)
    assert ad_of(other) == second and query(db_path, "SELECT count(*) FROM decisions") == [(1,)]
    # without the browser's check, the server refuses and says why
    other.evaluate("document.querySelector('#reject-clash textarea').removeAttribute('required')")
    with other.expect_navigation():
        other.click("#reject-submit")
    assert "与近似广告的已有决定相反" in other.locator(".flashes").inner_text()
    assert query(db_path, "SELECT count(*) FROM decisions") == [(1,)]
    # with a reason it is decided, and the ledger keeps the reason and the near-duplicate it goes against
    other.keyboard.press("r")
    other.keyboard.press("4")
    other.fill("#reject-clash textarea", "此条为转载的防骗提示，内容已改")
    with other.expect_navigation():
        other.click("#reject-submit")
    (payload,) = query(db_path, "SELECT payload FROM ledger WHERE action = 'rejected'")[0]
    assert json.loads(payload)["despite"] == {"near_duplicates": [first], "reason": "此条为转载的防骗提示，内容已改"}
    other.goto(f"{base}/ledger")
    assert "与近似广告" in other.locator("#ledger").inner_text()


def test_a_supervisors_correction_shows_in_the_ledger_page_and_the_export(browser, site):
    base, db_path, ids = site
    ad_id = ids["promo0"]
    page = login(browser, base, "rev1")
    page.goto(f"{base}/ad/{ad_id}")
    with page.expect_navigation():
        page.click("#claim-this")
    page.keyboard.press("c")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto(f"{base}/ad/{ad_id}")
    assert page.locator("#panel-reverse").count() == 0
    boss = login(browser, base, "boss")
    boss.goto(f"{base}/ad/{ad_id}")
    boss.click("#panel-reverse summary")
    boss.fill("#reverse-reason", "误判：系持牌银行理财产品广告")
    with boss.expect_navigation():
        boss.click("#reverse-submit")
    assert "决定已撤销" in boss.locator(".flashes").inner_text()
    assert boss.locator("#panel-confirm").count() == 1  # back in review: it can be decided again
    assert "已撤销（台账 #3）" in boss.locator("#decisions").inner_text()
    assert query(db_path, "SELECT action, actor FROM ledger ORDER BY seq") == [
        ("confirmed", "rev1"),
        ("takedown_requested", "rev1"),
        ("reversed", "boss"),
    ]
    assert query(db_path, "SELECT state FROM takedowns") == [("cancelled",)]
    boss.goto(f"{base}/ledger")
    row = boss.locator("#ledger tbody tr").first  # newest first
    assert "撤销决定" in row.inner_text() and "误判：系持牌银行理财产品广告" in row.inner_text()
    assert "撤销台账 #1 的决定" in row.inner_text()
    # the export (every state) says the confirmation was reversed, by whom and why
    boss.goto(f"{base}/export")
    boss.select_option("select[name=state]", "all")
    with boss.expect_download() as download:
        boss.click("#export-submit")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["处置状态"] == "已撤销" and row["审核结论"] == "确认违法（已撤销）"
    assert "撤销理由（boss，" in row["审核理由"] and row["审核理由"].endswith("误判：系持牌银行理财产品广告")
    audit = query(db_path, "SELECT actor, action, address FROM audit_log WHERE action = 'reverse'")
    assert audit == [("boss", "reverse", "127.0.0.1")]


def test_an_admin_unlocks_a_locked_account_which_then_logs_in(browser, site):
    base, db_path, _ = site
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{base}/login")
    for attempt in range(5):
        page.fill("input[name=name]", "rev1")
        page.fill("input[name=password]", f"wrong-password-{attempt}")
        page.click("form button[type=submit]")
    page.fill("input[name=name]", "rev1")
    page.fill("input[name=password]", PASSWORDS["rev1"])
    page.click("form button[type=submit]")
    assert "已暂时锁定" in page.locator("#login-error").inner_text()
    admin = login_as(browser, base, *ADMIN)
    admin.wait_for_url(re.compile(r".*/queue$"))
    admin.goto(f"{base}/users")
    row = admin.locator("#users tr[data-user=rev1]")
    assert "锁定至" in row.inner_text()
    admin.set_viewport_size({"width": 390, "height": 844})  # a phone: the table scrolls inside the page
    assert admin.evaluate("document.documentElement.scrollWidth") <= 390
    admin.set_viewport_size({"width": 1280, "height": 900})
    assert admin.locator("#users tr[data-user=rev2] .user-unlock").count() == 0  # only locked accounts
    with admin.expect_navigation():
        row.locator(".user-unlock").click()
    assert "已解除 rev1 的锁定" in admin.locator(".flashes").inner_text()
    assert "锁定至" not in admin.locator("#users tr[data-user=rev1]").inner_text()
    page.fill("input[name=name]", "rev1")
    page.fill("input[name=password]", PASSWORDS["rev1"])
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue$"))
    audit = query(db_path, "SELECT actor, action, target, address FROM audit_log WHERE action = 'user_unlock'")
    assert audit == [(ADMIN[0], "user_unlock", "user:rev1", "127.0.0.1")]


def test_an_admin_adds_disables_enables_and_resets_accounts(browser, site):
    base, db_path, _ = site
    admin = login_as(browser, base, *ADMIN)
    admin.goto(f"{base}/users")
    admin.fill("#user-add input[name=name]", "zhao")
    admin.select_option("#user-add select[name=role]", "reviewer")
    admin.fill("#user-add input[name=password]", "Temp-Orchid-4471")
    with admin.expect_navigation():
        admin.click("#user-add-submit")
    assert "已新增用户 zhao" in admin.locator(".flashes").inner_text()
    # the new account must change its temporary password before anything else
    newbie = login_as(browser, base, "zhao", "Temp-Orchid-4471")
    newbie.wait_for_url(re.compile(r".*/password$"))
    assert "请先修改为自己的密码" in newbie.locator(".flashes").inner_text()
    newbie.goto(f"{base}/queue")
    assert newbie.url.endswith("/password")
    newbie.fill("input[name=current]", "Temp-Orchid-4471")
    newbie.fill("input[name=new]", "Quartz-Violin-8823")
    newbie.fill("input[name=again]", "Quartz-Violin-8823")
    newbie.click("main form button[type=submit]")
    newbie.wait_for_url(re.compile(r".*/login$"))
    assert query(db_path, "SELECT must_change_password FROM users WHERE name = 'zhao'") == [(0,)]
    # disable, then enable; reset a password: sessions end, a change is forced again
    row = admin.locator("#users tr[data-user=zhao]")
    with admin.expect_navigation():
        row.locator(".user-disable").click()
    assert query(db_path, "SELECT disabled FROM users WHERE name = 'zhao'") == [(1,)]
    with admin.expect_navigation():
        admin.locator("#users tr[data-user=zhao] .user-enable").click()
    assert query(db_path, "SELECT disabled FROM users WHERE name = 'zhao'") == [(0,)]
    admin.locator("#users tr[data-user=zhao] .user-reset summary").click()
    admin.fill("#users tr[data-user=zhao] .user-reset input[name=password]", "Reset-Pebble-5934")
    with admin.expect_navigation():
        admin.locator("#users tr[data-user=zhao] .user-reset button").click()
    assert query(db_path, "SELECT must_change_password FROM users WHERE name = 'zhao'") == [(1,)]
    # an admin cannot disable their own account (no button), nor by a crafted request
    assert admin.locator(f"#users tr[data-user={ADMIN[0]}] .user-disable").count() == 0
    own = query(db_path, "SELECT id FROM users WHERE name = ?", ADMIN[0])[0][0]
    status = admin.evaluate(
        "async (u) => (await fetch(u, {method: 'POST', headers: {'X-CSRF-Token':"
        " document.querySelector('meta[name=csrf-token]').content}})).status",
        f"{base}/users/{own}/disable",
    )
    assert status == 400 and query(db_path, "SELECT disabled FROM users WHERE name = ?", ADMIN[0]) == [(0,)]
    actions = [a for (a,) in query(db_path, "SELECT action FROM audit_log WHERE actor = ? ORDER BY id", ADMIN[0])]
    assert actions[1:] == ["user_add", "user_disable", "user_enable", "user_password_reset"]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM web_sessions WHERE end_reason = 'password'").fetchone()[0] >= 1
