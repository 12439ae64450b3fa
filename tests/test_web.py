"""The web app without a browser: roles on every route, CSRF, sessions and the rate limit, cookies, the secret
key, escaping, evidence headers, escalations, the queue page's filters, accounts and their CLI."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adclear.cli import main
from review.sessions import Limits
from tests.webdata import HOSTILE_TITLE, PASSWORDS, build

PUBLIC = {"auth.login", "auth.logout", "auth.language", "auth.home", "static"}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    data = tmp_path_factory.mktemp("web-template") / "data"
    ids = build(data / "adclear.db")
    return data, ids


@pytest.fixture
def site(template, tmp_path):
    """A private copy of the template database: (db path, ad ids)."""
    source, ids = template
    target = tmp_path / "data"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("web-secret.key"))
    return target / "adclear.db", ids


def make_app(db_path, **config):
    from review.web import create_app

    app = create_app(db_path, **{"COUNTS_TTL": 0, **config})
    app.config["TESTING"] = True
    return app


def token_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(client, name: str, password: str | None = None):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token_of(page.text)},
    )


def logged_in(app, name: str):
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client, token_of(client.get("/queue").text)


def rows(db_path, sql, *args):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, args).fetchall()


# --- roles, CSRF, sessions ------------------------------------------------------------------------------------


def test_every_route_says_who_may_use_it(site):
    app = make_app(site[0])
    declared = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint != "static":
            assert hasattr(view, "required_role"), f"{rule.endpoint} does not declare a role"
            declared[rule.endpoint] = view.required_role
    assert {e for e, role in declared.items() if role is None} | {"static"} == PUBLIC
    assert declared["supervise.audit_log"] == "supervisor"
    assert declared["supervise.export"] == "supervisor"
    assert declared["supervise.resolve"] == "supervisor"
    assert declared["supervise.user_list"] == "admin"
    assert declared["review.confirm"] == "reviewer"


def test_a_view_without_a_role_is_closed_to_everyone(site):
    app = make_app(site[0])
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    client, _ = logged_in(app, "boss")
    assert client.get("/forgotten").status_code == 403


def test_role_checks(site):
    app = make_app(site[0])
    anonymous = app.test_client()
    for path in ("/queue", "/ad/1", "/ledger", "/audit", "/escalations", "/export", "/users", "/ad/1/evidence/page"):
        answer = anonymous.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next="), path
    reviewer, _ = logged_in(app, "rev1")
    for path in ("/audit", "/escalations", "/export", "/users"):
        answer = reviewer.get(path)
        assert answer.status_code == 403, path
    assert "此页面需要主管权限" in reviewer.get("/audit").text
    boss, _ = logged_in(app, "boss")
    assert boss.get("/audit").status_code == 200
    assert "此页面需要管理员权限" in boss.get("/users").text


def test_posts_without_the_sessions_csrf_token_change_nothing(site):
    db_path, ids = site
    app = make_app(db_path)
    client, token = logged_in(app, "rev1")
    other, other_token = logged_in(app, "rev2")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": other_token}):
        answer = client.post("/claim", data=data)
        assert answer.status_code == 400
        assert "安全令牌" in answer.text
    assert client.post(f"/ad/{ids['promo0']}/reject", data={"reason": "防非宣传"}).status_code == 400
    assert rows(db_path, "SELECT count(*) FROM audit_log WHERE action = 'claim'") == [(0,)]
    assert client.post("/claim", data={"csrf_token": token}).status_code == 302
    assert client.post("/claim", headers={"X-CSRF-Token": token}).status_code == 302
    assert rows(db_path, "SELECT count(*) FROM audit_log WHERE action = 'claim'") == [(2,)]
    # the login form has its own token, in the signed cookie
    fresh = app.test_client()
    fresh.get("/login")
    assert fresh.post("/login", data={"name": "rev1", "password": PASSWORDS["rev1"]}).status_code == 400


def test_cookies_are_httponly_lax_and_secure_over_https(site):
    app = make_app(site[0])
    plain = app.test_client()
    cookie = login(plain, "rev1").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    tls = app.test_client()
    page = tls.get("/login", base_url="https://review.example")
    answer = tls.post(
        "/login",
        base_url="https://review.example",
        data={"name": "rev1", "password": PASSWORDS["rev1"], "csrf_token": token_of(page.text)},
    )
    assert "Secure" in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_security_headers_on_app_pages(site):
    app = make_app(site[0])
    client, _ = logged_in(app, "rev1")
    answer = client.get("/queue")
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'")
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_the_secret_key_is_made_once_beside_the_database_mode_0600(site):
    db_path, _ = site
    first = make_app(db_path).config["SECRET_KEY"]
    key_file = db_path.parent / "web-secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) == 64
    assert make_app(db_path).config["SECRET_KEY"] == first
    key_file.chmod(0o644)
    make_app(db_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_idle_sessions_time_out(site):
    app = make_app(site[0], LIMITS=Limits(idle_seconds=1, touch_seconds=0))
    client, _ = logged_in(app, "rev1")
    assert client.get("/queue").status_code == 200
    time.sleep(1.2)
    answer = client.get("/queue")
    assert answer.status_code == 302
    assert "会话已超时" in client.get(answer.headers["Location"]).text
    assert rows(site[0], "SELECT end_reason FROM web_sessions") == [("idle",)]


def test_disabling_a_user_ends_its_session(site):
    from core.db import connect
    from review.users import disable_user

    app = make_app(site[0])
    client, _ = logged_in(app, "rev1")
    disable_user(connect(site[0]), "rev1")
    assert client.get("/queue").status_code == 302
    page = app.test_client().get("/login")
    refused = app.test_client().post(
        "/login", data={"name": "rev1", "password": PASSWORDS["rev1"], "csrf_token": token_of(page.text)}
    )
    assert refused.status_code == 400  # a new client has no login token yet; use one that does:
    fresh = app.test_client()
    assert "该账号已停用" in login(fresh, "rev1").text


def test_rate_limit_per_address_and_its_end(site):
    app = make_app(site[0], LIMITS=Limits(user_failures=100, address_failures=3, window_seconds=2))
    client = app.test_client()
    for name in ("a1", "b2", "c3"):
        login(client, name, "not-the-password")
    answer = login(client, "rev1")  # the right password, but this address is locked
    assert answer.status_code == 401
    assert re.search(r"本机登录失败次数过多，已暂时锁定，请于 \d\d:\d\d:\d\d 后重试。", answer.text)
    time.sleep(2.1)
    assert login(client, "rev1").status_code == 302  # the window passed
    assert [a for (a,) in rows(site[0], "SELECT action FROM audit_log WHERE action LIKE 'login%' ORDER BY id")] == [
        "login_failed",
        "login_failed",
        "login_failed",
        "login_locked",
        "login",
    ]


def test_language_switch_and_no_open_redirect(site):
    app = make_app(site[0])
    client, _ = logged_in(app, "rev1")
    assert client.get("/lang/en?next=//evil.example/x").headers["Location"] == "/"
    assert client.get("/lang/en?next=https://evil.example/").headers["Location"] == "/"
    assert client.get("/lang/en?next=/queue").headers["Location"] == "/queue"
    english = client.get("/queue").text
    assert "Claim next" in english and "领取下一条" not in english
    client.get("/lang/zh")
    assert "领取下一条" in client.get("/queue").text


# --- pages --------------------------------------------------------------------------------------------------------


def test_crawled_text_is_escaped_everywhere(site):
    db_path, ids = site
    app = make_app(db_path)
    client, _ = logged_in(app, "rev1")
    for path in ("/queue", f"/ad/{ids['hostile']}"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html and 'href="javascript:' not in html
        assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in html
    html = client.get(f"/ad/{ids['hostile']}").text
    assert "&lt;img src=x onerror=alert(&#39;img&#39;)&gt;" in html
    assert '<code class="url" id="ad-url">javascript:alert(&#39;url&#39;)</code>' in html


def test_the_archived_page_is_served_for_a_sandbox(site):
    db_path, ids = site
    app = make_app(db_path)
    client, _ = logged_in(app, "rev1")
    answer = client.get(f"/ad/{ids['hostile']}/evidence/page")
    assert answer.status_code == 200
    assert answer.headers["Content-Security-Policy"].startswith(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    )
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<script>alert('frame')" in answer.data  # served as archived, defused by the policy
    page = client.get(f"/ad/{ids['hostile']}").text
    assert re.search(r'<iframe class="evidence-frame" id="evidence-frame" sandbox src="/ad/\d+/evidence/page"', page)
    assert client.get(f"/ad/{ids['hostile']}/evidence/screenshot").status_code == 404


def test_the_ad_page_shows_hits_breakdown_contacts_and_history(site):
    db_path, ids = site
    app = make_app(db_path)
    client, _ = logged_in(app, "rev1")
    html = client.get(f"/ad/{ids['promo0']}").text
    assert '<mark class="hit hit-signal" data-hits="' in html and "保本保息" in html
    assert "《广告法》第二十五条" in html  # a hit's legal basis
    assert 'id="score">' in html and "利诱性：承诺还本付息或给付回报" in html  # grouped by the legal conditions
    assert "xst2026" in html  # the WeChat contact
    assert "SHA-256" in html and 'id="evidence-sha"' in html
    assert "首次发现" in html  # the sighting


def test_claims_are_exclusive_under_concurrency_and_expire(site):
    db_path, _ = site
    app = make_app(db_path, LEASE_SECONDS=60, MAX_CLAIMS=3)  # a small configured number: each holds 2 of the 6
    clients = [logged_in(app, name) for name in ("rev1", "rev2", "boss")]
    got: list[tuple[str, str]] = []

    def claim_all(client, token, name):
        for _ in range(3):
            answer = client.post("/claim", data={"csrf_token": token})
            if "/ad/" in answer.headers["Location"]:
                got.append((name, answer.headers["Location"]))

    threads = [threading.Thread(target=claim_all, args=(c, t, n)) for (c, t), n in zip(clients, "abc", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 6 and len({loc for _, loc in got}) == 6  # six ads, six different holders' claims


def test_an_expired_lease_returns_the_ad(site):
    db_path, _ = site
    app = make_app(db_path, LEASE_SECONDS=1)
    one, one_token = logged_in(app, "rev1")
    two, two_token = logged_in(app, "rev2")
    first = one.post("/claim", data={"csrf_token": one_token}).headers["Location"]
    assert two.post("/claim", data={"csrf_token": two_token}).headers["Location"] != first
    time.sleep(1.2)
    assert two.post("/claim", data={"csrf_token": two_token}).headers["Location"] == first


def test_queue_filters_counts_and_neighbours(site):
    from core.db import connect
    from review import queue

    db_path, ids = site
    db = connect(db_path)
    everything = queue.items(db)
    assert [i["priority"] for i in everything] == sorted((i["priority"] for i in everything), reverse=True)
    high = queue.items(db, queue.Filter(band="high"))
    assert high and all(i["score"] >= 8 for i in high)
    assert all(i["score"] < 8 for i in queue.items(db, queue.Filter(band="mid")))
    elderly = queue.items(db, queue.Filter(category="养老投资"))
    assert [i["ad_id"] for i in elderly] == [ids["promo1"]]
    assert queue.items(db, queue.Filter(platform="别的平台")) == []
    counts = queue.counts(db, reviewer="rev1")
    assert (counts["open"], counts["flag"], counts["claimed"], counts["mine"]) == (6, 6, 0, 0)
    order = [i["ad_id"] for i in everything]
    assert queue.neighbours(db, order[2]) == (order[1], order[3])
    assert queue.neighbours(db, order[0]) == (None, order[1])
    f = queue.Filter.from_args({"category": "不存在", "band": "x", "from": "2026-13-01", "site": "s"})
    assert f == queue.Filter(site="s")


def test_how_long_an_ad_waits_is_said_in_the_readers_language(site):
    db_path, _ = site
    client, _ = logged_in(make_app(db_path), "rev1")
    chinese = client.get("/queue").text
    assert "分钟</b>" in chinese or "小时</b>" in chinese or "天</b>" in chinese
    client.get("/lang/en")
    english = client.get("/queue").text
    assert "分钟" not in english and "小时" not in english
    assert re.search(r"<td>\d+ (min|h|d)</td>", english), english


def test_escalation_leaves_the_queue_until_a_supervisor_decides(site):
    from core.db import connect
    from review import escalations, queue

    db_path, ids = site
    db = connect(db_path)
    ad = ids["promo2"]
    assert queue.claim(db, "rev1", ad_id=ad) == ad
    esc = escalations.escalate(db, ad, reviewer="rev1", note="看不准", address="127.0.0.1")
    assert queue.claim(db, "rev2", ad_id=ad) is None
    assert ad not in [i["ad_id"] for i in queue.items(db)]
    with pytest.raises(escalations.EscalationError, match="only a supervisor"):
        escalations.resolve(db, esc.id, supervisor="rev2", decision="reject", address="x", reason="其他", note="n")
    escalations.send_back(db, esc.id, supervisor="boss", note="自己判断", address="127.0.0.1")
    assert queue.claim(db, "rev2", ad_id=ad) == ad
    again = escalations.escalate(db, ad, reviewer="rev2", note="还是看不准", address="127.0.0.1")
    made = escalations.resolve(
        db,
        again.id,
        supervisor="boss",
        decision="confirm",
        address="127.0.0.1",
        category="私募股权/原始股",
        reason="原始股",
    )
    assert made.decision == "confirmed"
    assert [(e.state, e.resolution) for e in escalations.for_ad(db, ad)] == [
        ("returned", "returned"),
        ("resolved", "confirmed"),
    ]
    assert rows(db_path, "SELECT state FROM queue WHERE ad_id = ?", ad) == [("decided",)]


def test_export_from_the_ui_is_audited_with_the_address(site):
    from core.db import connect
    from review.decisions import confirm

    db_path, ids = site
    confirm(connect(db_path), ids["promo0"], reviewer="rev1", category="投资理财/P2P网贷", reason="保本保息")
    app = make_app(db_path)
    client, token = logged_in(app, "boss")
    answer = client.post("/export", data={"csrf_token": token, "format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="takedowns-')
    text = answer.data.decode("utf-8-sig")
    assert "鑫盛通网贷" in text and len(text.strip().splitlines()) == 2  # the header and the takedown: no head row
    assert rows(db_path, "SELECT actor, address FROM audit_log WHERE action = 'export'") == [("boss", "127.0.0.1")]


def test_highlight_segments_overlap_and_stale_hits():
    from review.web.highlight import numbered_hits, segments

    text = "年化13%，保本保息"
    hits = numbered_hits(
        [
            {"field": "text", "start": 0, "end": 5, "matched": "年化13%", "kind": "signal"},
            {"field": "text", "start": 0, "end": 2, "matched": "年化", "kind": "signal"},
            {"field": "text", "start": 6, "end": 10, "matched": "保本保息", "kind": "category"},
            {"field": "text", "start": 6, "end": 10, "matched": "别的字", "kind": "signal"},
            {"field": "title", "start": 0, "end": 1, "matched": "x", "kind": "signal"},
        ]
    )
    segs, stale = segments(text, hits, "text")
    assert "".join(s.text for s in segs) == text
    assert [(s.text, s.hits, s.ends) for s in segs] == [
        ("年化", (1, 2), (2,)),
        ("13%", (1,), (1,)),
        ("，", (), ()),
        ("保本保息", (3,), (3,)),
    ]
    assert segs[3].css == "hit hit-category"
    assert stale == [4]


# --- accounts -----------------------------------------------------------------------------------------------------


TOO_EASY = (
    "password is too easy to guess; use a longer one, e.g. three unrelated words and a number "
    "(密码太容易被猜中，请换一个更长的密码，如三个不相关的词加数字)"
)


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("zhang", "short1", "password too short: at least 10 characters (密码至少 10 位)"),
        ("zhangsan", "zhangsan2026!", "password must not contain the user name (密码不能包含用户名)"),
        ("li", "1234567890", "password is too common; choose another (密码过于常见，请另选)"),
        ("li", "aaaaaaaaaaaa", "password is too common; choose another (密码过于常见，请另选)"),
        # issue 14, finding 12: these passed the 32-word list
        ("li", "1234567890a", "password is too common; choose another (密码过于常见，请另选)"),
        ("li", "1qaz2wsx3edc4rfv", "password is too common; choose another (密码过于常见，请另选)"),
        ("li", "woaini1314520", TOO_EASY),
        ("li", "zhangwei19851010", TOO_EASY),
        ("li", "abcd1234abcd", TOO_EASY),
        ("li", "x" * 257, "password too long: at most 256 characters (密码最多 256 位)"),
    ],
)
def test_password_policy_names_the_rule(name, password, message):
    from review.users import PasswordRejected, check_password

    with pytest.raises(PasswordRejected) as caught:
        check_password(name, password)
    assert str(caught.value) == message


def test_user_commands(tmp_path):
    db = tmp_path / "a.db"

    def cli(*args, stdin=None):
        return CliRunner().invoke(main, ["--db", str(db), *args], input=stdin)

    added = cli("user", "add", "张三", "--role", "reviewer", "--password-stdin", stdin="Qing-Shan-7788\n")
    assert added.exit_code == 0, added.output
    assert added.output == "user 张三 added (reviewer)\n"
    weak = cli("user", "add", "lisi", "--role", "supervisor", "--password-stdin", stdin="short\n")
    assert weak.exit_code == 1
    assert weak.output == "Error: password too short: at least 10 characters (密码至少 10 位)\n"
    again = cli("user", "add", "张三", "--role", "admin", "--password-stdin", stdin="Other-Pass-9911\n")
    assert again.output == "Error: user '张三' already exists; `adclear user list` shows the accounts\n"
    prompted = cli("user", "add", "wang", "--role", "admin", stdin="Blue-River-4455\nBlue-River-4455\n")
    assert prompted.exit_code == 0, prompted.output
    assert cli("user", "disable", "张三").output == "user 张三 disabled; its sessions ended\n"
    assert (
        cli("user", "disable", "nobody").output == "Error: no user 'nobody'; `adclear user list` shows the accounts\n"
    )
    listing = cli("user", "list").output.splitlines()
    assert listing[1].split()[:3] == ["wang", "admin", "active"]
    assert listing[2].split()[:3] == ["张三", "reviewer", "disabled"]
    with sqlite3.connect(db) as conn:
        (digest,) = conn.execute("SELECT password_hash FROM users WHERE name = 'wang'").fetchone()
        audit = conn.execute("SELECT action, target FROM audit_log ORDER BY id").fetchall()
    assert digest.startswith("$argon2id$") and "Blue-River" not in digest
    assert audit == [("user_add", "user:张三"), ("user_add", "user:wang"), ("user_disable", "user:张三")]


def test_demo_logins_are_created_once_and_printed(tmp_path):
    from adclear.cli import Config
    from adclear.cli.web_cmds import demo_web

    cfg = Config(db_path=tmp_path / "a.db", seeds_path=Path("seeds.yml"))
    runner = CliRunner()
    with runner.isolation() as (out, _err, _):
        demo_web(cfg, 8732, serve=False)
        demo_web(cfg, 8732, serve=False)
    printed = out.getvalue().decode()
    assert "Review web app: http://127.0.0.1:8732/" in printed
    assert "reviewer    shenhe-2026-demo" in printed
    assert rows(cfg.db_path, "SELECT name, role FROM users ORDER BY id") == [
        ("reviewer", "reviewer"),
        ("supervisor", "supervisor"),
        ("admin", "admin"),
    ]


def test_the_migration_keeps_queued_items_and_allows_escalated(tmp_path):
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    from core.db import connect
    from core.migrations import migrations

    path = tmp_path / "old.db"
    old = Migrations("adclear")
    old._migrations = [m for m in migrations._migrations if m.name < "m004"]
    db = Database(path)
    old.apply(db)
    db.execute("INSERT INTO sites (name, platform, kind, config, updated_at) VALUES ('s', 'p', 'forum', '{}', 't')")
    db.execute(
        "INSERT INTO ads (ad_key, url, site, platform, content_hash, first_seen, last_seen, last_fetched) "
        "VALUES ('k', 'u', 's', 'p', 'h', 't', 't', 't')"
    )
    db.execute(
        "INSERT INTO verdicts (ad_id, content_hash, classifier_version, classified_at, score, label, categories, "
        "hits) VALUES (1, 'h', 'v', 't', 5, 'flag', '[]', '[]')"
    )
    db.execute(
        "INSERT INTO queue (ad_id, verdict_id, priority, state, claimed_by, lease_until, queued_at, updated_at) "
        "VALUES (1, 1, 1005, 'claimed', 'x', '2999', 'q', 'u')"
    )
    db.conn.commit()
    db.close()
    db = connect(path)
    assert db.execute("SELECT ad_id, priority, state, claimed_by FROM queue").fetchall() == [
        (1, 1005.0, "claimed", "x")
    ]
    db.execute("UPDATE queue SET state = 'escalated'")
    db.conn.commit()
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'queue'")}
    assert {"queue_open", "queue_open_order", "queue_open_age"} <= indexes
    from review import queue

    for sql in (
        f"SELECT q.ad_id {queue._FROM} WHERE {queue.OPEN} ORDER BY q.priority DESC, q.queued_at, q.ad_id LIMIT 5",
        f"SELECT count(*) FROM {queue.QUEUE} WHERE {queue.OPEN}",
    ):
        plan = " ".join(str(r) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "queue_open_order" in plan and "TEMP B-TREE" not in plan, plan


def test_hostile_title_fixture_is_what_the_browser_tests_expect():
    assert HOSTILE_TITLE.startswith("<script>")


# --- changing one's own password ----------------------------------------------------------------------------


def test_a_user_changes_their_own_password_and_logs_in_again(site):
    db_path = site[0]
    app = make_app(db_path)
    client, token = logged_in(app, "rev1")
    other, _ = logged_in(app, "rev1")  # the same user on another device
    page = client.get("/password")
    assert page.status_code == 200 and "当前密码" in page.text and 'id="change-password"' in page.text
    answer = client.post(
        "/password",
        data={
            "current": PASSWORDS["rev1"],
            "new": "Pepper-Canyon-8820",
            "again": "Pepper-Canyon-8820",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert "密码已修改" in client.get("/login").text
    # every session of the user has ended, this one and the other device's
    for c in (client, other):
        assert c.get("/queue").headers["Location"].startswith("/login")
    assert login(app.test_client(), "rev1").status_code == 401  # the old password no longer works
    assert login(app.test_client(), "rev1", "Pepper-Canyon-8820").status_code == 302
    assert rows(db_path, "SELECT actor, target FROM audit_log WHERE action = 'user_password'") == [
        ("rev1", "user:rev1")
    ]


@pytest.mark.parametrize(
    ("current", "new", "again", "message"),
    [
        ("Wrong-Password-000", "Pepper-Canyon-8820", "Pepper-Canyon-8820", "当前密码不正确"),
        (None, "Pepper-Canyon-8820", "Pepper-Canyon-8821", "两次输入的新密码不一致"),
        (None, "short", "short", "密码至少 10 位"),
        (None, "rev1-Pepper-Canyon", "rev1-Pepper-Canyon", "密码不能包含用户名"),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(site, current, new, again, message):
    db_path = site[0]
    app = make_app(db_path)
    client, token = logged_in(app, "rev1")
    before = rows(db_path, "SELECT password_hash FROM users WHERE name = 'rev1'")
    answer = client.post(
        "/password",
        data={"current": current or PASSWORDS["rev1"], "new": new, "again": again, "csrf_token": token},
    )
    assert answer.status_code == 400 and message in answer.text
    assert rows(db_path, "SELECT password_hash FROM users WHERE name = 'rev1'") == before
    assert client.get("/queue").status_code == 200  # still logged in


def test_guessing_the_current_password_counts_as_failed_logins(site):
    """A stolen session cannot try passwords faster than the login page allows."""
    db_path = site[0]
    app = make_app(db_path, LIMITS=Limits(user_failures=3, address_failures=100))
    client, token = logged_in(app, "rev1")
    for i in range(3):
        data = {"current": f"Guess-{i}-abcdef", "new": "Pepper-Canyon-8820", "again": "Pepper-Canyon-8820"}
        assert client.post("/password", data={**data, "csrf_token": token}).status_code == 400
    right = {"current": PASSWORDS["rev1"], "new": "Pepper-Canyon-8820", "again": "Pepper-Canyon-8820"}
    answer = client.post("/password", data={**right, "csrf_token": token})
    assert answer.status_code == 400 and "错误次数过多" in answer.text  # locked, even with the right one
    assert len(rows(db_path, "SELECT 1 FROM audit_log WHERE action = 'password_change_failed'")) == 3
    assert login(app.test_client(), "rev1").status_code == 401  # the login page is locked for rev1 too


def test_changing_a_password_needs_the_csrf_token_and_a_session(site):
    app = make_app(site[0])
    client, _ = logged_in(app, "rev1")
    data = {"current": PASSWORDS["rev1"], "new": "Pepper-Canyon-8820", "again": "Pepper-Canyon-8820"}
    assert client.post("/password", data=data).status_code == 400
    assert login(app.test_client(), "rev1").status_code == 302  # unchanged
    assert app.test_client().get("/password").headers["Location"].startswith("/login")


# --- the login limit under attack (issue 14, finding 5) -----------------------------------------------------------


def _attempts(db_path, name=None):
    if name is None:
        return rows(db_path, "SELECT name, ok FROM login_attempts ORDER BY id")
    return rows(db_path, "SELECT ok FROM login_attempts WHERE name = ? ORDER BY id", name)


def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(site):
    """30 guesses at once for one name, each from its own address: at most 5 passwords are checked."""
    from core.db import connect
    from review import sessions

    db_path = site[0]
    barrier = threading.Barrier(30)
    outcomes: list[str] = []

    def guess(i: int) -> None:
        db = connect(db_path, migrate=False)
        barrier.wait()
        try:
            sessions.login(db, "rev1", f"Guess-{i}-xyzzy", address=f"10.9.0.{i}")
        except sessions.LoginRefused as e:
            outcomes.append(e.kind)
        finally:
            db.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 30
    assert len(_attempts(db_path, "rev1")) == 5  # passwords checked
    assert outcomes.count("locked_user") >= 25
    assert len(rows(db_path, "SELECT 1 FROM audit_log WHERE action = 'login_failed'")) == 5


def test_logging_in_to_ones_own_account_does_not_reset_the_address_limit(site):
    """19 wrong passwords for other names, one right one for the attacker's own account, then more guesses from
    the same address: one more is checked (the 20th), then the address is locked."""
    from core.db import connect
    from review import sessions

    db_path = site[0]
    db = connect(db_path)
    limits = Limits(user_failures=5, address_failures=20)
    for i in range(19):
        with pytest.raises(sessions.LoginRefused) as caught:
            sessions.login(db, ["rev1", "boss", "nobody", "admin"][i % 4], f"Spray-{i}-xyzzy", address="203.0.113.9",
                           limits=limits)  # fmt: skip
        assert caught.value.kind in ("bad_password", "locked_user")
    assert len(_attempts(db_path)) == 19  # every one checked: no name reached its own limit
    sessions.login(db, "rev2", PASSWORDS["rev2"], address="203.0.113.9", limits=limits)
    kinds = []
    for i in range(10):
        with pytest.raises(sessions.LoginRefused) as caught:
            sessions.login(db, f"victim{i}", f"Spray-{i}-again", address="203.0.113.9", limits=limits)
        kinds.append(caught.value.kind)
    db.close()
    assert [ok for _, ok in _attempts(db_path)].count(0) == 20  # the 20th guess was checked, no more
    assert kinds == ["locked_address"] * 10


def test_a_users_own_typos_do_not_lock_out_the_address(site):
    """A name that logs in afterwards takes its earlier failures off the address's count."""
    from core.db import connect
    from review import sessions

    db_path = site[0]
    db = connect(db_path)
    limits = Limits(user_failures=5, address_failures=4)
    for name in ("rev1", "rev2"):
        for _ in range(3):
            with pytest.raises(sessions.LoginRefused) as caught:
                sessions.login(db, name, "typo-typo-typo", address="198.51.100.7", limits=limits)
            assert caught.value.kind == "bad_password"
        sessions.login(db, name, PASSWORDS[name], address="198.51.100.7", limits=limits)
    db.close()


# --- claims: one per reviewer (issue 14, finding 12) ----------------------------------------------------------------


def test_decisions_from_direct_links_leave_no_extra_claims(site):
    """A reviewer who holds an ad and decides others opened by their address ends with one claim, not one more per
    decision (one client ended with 72)."""
    db_path, ids = site
    app = make_app(db_path)
    client, token = logged_in(app, "rev1")
    first = client.post("/claim", data={"csrf_token": token}).headers["Location"]
    others = [ids[k] for k in ("promo1", "promo2", "promo3", "promo4")]
    held_first = int(first.rsplit("/", 1)[1])
    for ad_id in [a for a in others if a != held_first][:3]:
        answer = client.post(f"/ad/{ad_id}/reject", data={"csrf_token": token, "reason": "防非宣传"})
        assert answer.status_code == 302
        assert answer.headers["Location"] == first  # back to the ad already held, not a new claim
    assert rows(db_path, "SELECT ad_id FROM queue WHERE state = 'claimed' AND claimed_by = 'rev1'") == [(held_first,)]


def test_claiming_a_given_ad_releases_the_one_held(site):
    db_path, ids = site
    app = make_app(db_path)
    client, token = logged_in(app, "rev1")
    first = int(client.post("/claim", data={"csrf_token": token}).headers["Location"].rsplit("/", 1)[1])
    other = next(ids[k] for k in ("promo0", "promo1", "promo2") if ids[k] != first)
    assert client.post(f"/ad/{other}/claim", data={"csrf_token": token}).status_code == 302
    assert rows(db_path, "SELECT ad_id FROM queue WHERE state = 'claimed'") == [(other,)]
    assert rows(db_path, "SELECT action, target FROM audit_log WHERE action IN ('claim', 'release') ORDER BY id") == [
        ("claim", f"ad:{first}"),
        ("claim", f"ad:{other}"),
        ("release", f"ad:{first}"),
    ]


def test_serve_passes_its_claim_limit_to_the_app(site, monkeypatch):
    from adclear.cli import Config, web_cmds
    from review.web import serve

    built = {}
    monkeypatch.setattr(serve, "serve", lambda app, host, port, threads: built.setdefault("app", app))
    web_cmds.serve_app(Config(db_path=site[0], seeds_path=Path("seeds.yml")), "127.0.0.1", 0, max_claims=3)
    assert built["app"].config["MAX_CLAIMS"] == 3


def test_the_audit_log_has_the_browser_address_and_readable_details(site):
    """Claims and releases made in the browser once showed 'cli'; details showed \\u62c9 escapes."""
    db_path, ids = site
    app = make_app(db_path)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"  # a documentation address: a string in WSGI, no packet
    assert login(client, "rev1").status_code == 302
    token = token_of(client.get("/queue").text)
    ad = ids["promo0"]
    assert client.post(f"/ad/{ad}/claim", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/ad/{ad}/release", data={"csrf_token": token}).status_code == 302
    client.post(f"/ad/{ad}/claim", data={"csrf_token": token})
    answer = client.post(
        f"/ad/{ad}/reject",
        data={"csrf_token": token, "reason": "其他", "note": "拉人头的说法不成立"},
    )
    assert answer.status_code == 302
    made = rows(db_path, "SELECT action, address FROM audit_log WHERE actor = 'rev1' ORDER BY id")
    assert [a for a, _ in made][:5] == ["login", "claim", "release", "claim", "reject"], made  # then the next ad
    assert {address for _, address in made} == {"203.0.113.9"}
    boss, _ = logged_in(app, "boss")
    page = boss.get("/audit?action=reject").text
    assert "<b>理由</b> 其他" in page and "<b>台账序号</b>" in page
    assert "\\u5176" not in page  # 其 as JSON would escape it


def test_the_ledger_page_says_in_chinese_what_a_checkpoint_shows(site):
    """Ledger checks spoke English inside the Chinese page, and called a mistyped checkpoint a rewrite."""
    from core.db import connect
    from review import ledger
    from review.decisions import confirm

    db_path, ids = site
    confirm(connect(db_path), ids["promo0"], reviewer="rev1", category="投资理财/P2P网贷", reason="保本保息")
    head = ledger.head(connect(db_path))
    client, _ = logged_in(make_app(db_path), "rev1")
    holds = client.get(f"/ledger?checkpoint={head}").text
    assert "检查点一致" in holds
    wrong_number = client.get(f"/ledger?checkpoint={head.seq - 1}:{head.hash}").text
    assert f"检查点的哈希属于第 {head.seq} 条，而非第 {head.seq - 1} 条：序号写错了" in wrong_number
    assert "哈希链本身完整" in wrong_number and "哈希链校验失败" not in wrong_number
    copied_wrong = client.get(f"/ledger?checkpoint={head.seq}:{'0' * 64}").text
    assert "可能是检查点抄写有误" in copied_wrong
    malformed = client.get(f"/ledger?checkpoint={head.seq}:{'x' * 64}").text
    assert "所填检查点格式有误，未作核对" in malformed
    for page in (wrong_number, copied_wrong):
        status = re.search(r'id="ledger-status">(.*?)</p>', page, re.S).group(1)
        assert not re.search(r"[A-Za-z]{3,}", status), status  # no English words in the Chinese page


def test_a_model_that_was_not_used_says_why_in_chinese(site):
    """A verdict records why the learned scorer was not used in English (core/models.py, classifier/model.py); the
    ad page says it in Chinese (core.reasons), the recorded words in the title."""
    db_path, ids = site
    why = "data/models/m1.npz: the promoted model file is missing (ledger entry 7)"
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE verdicts SET model = json_object('version', NULL, 'error', ?)", [why])
    client, _ = logged_in(make_app(db_path), "rev1")
    page = client.get(f"/ad/{ids['promo0']}").text
    assert f'<p class="muted" id="model" title="{why}">' in page
    assert "模型未使用（data/models/m1.npz：启用的模型文件不存在（台账记录 7）），仅按规则判断。" in page


def test_the_ad_page_names_the_kind_of_text_the_model_found_the_ad_nearest_to(site):
    """The learned scorer compares an ad with each kind of look-alike (classifier.multinomial); the page says which
    kind its weights are shown against, in the reader's language, and a reviewer's rejection with its reason."""
    db_path, ids = site
    client, _ = logged_in(make_app(db_path), "rev1")
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE verdicts SET model = json_set(model, '$.explain.versus', 'news_or_court') WHERE ad_id = ?",
            [ids["promo0"]],
        )
        conn.execute(
            "UPDATE verdicts SET model = json_set(model, '$.explain.versus', 'decision:rejected:防非宣传') "
            "WHERE ad_id = ?",
            [ids["promo1"]],
        )
    page = client.get(f"/ad/{ids['promo0']}").text
    assert '<p class="small" id="model-versus">模型认为此文最接近：新闻或司法报道（以下权重即与之相比）</p>' in page
    assert "模型认为此文最接近：审核员驳回的广告（防非宣传）" in client.get(f"/ad/{ids['promo1']}").text
    client.get("/lang/en")
    assert "nearest to: news and court reports" in client.get(f"/ad/{ids['promo0']}").text
    assert "nearest to: ads reviewers rejected (防非宣传)" in client.get(f"/ad/{ids['promo1']}").text


def test_an_english_page_punctuates_as_english_and_a_chinese_one_as_chinese(site):
    """A label and its value, a list, an aside: full-width in Chinese, ASCII in English (``i18n.PUNCTUATION``),
    and no template writes the Chinese forms itself."""
    from review.web.i18n import PUNCTUATION

    full_width = {c for mark in PUNCTUATION["zh"].values() for c in mark if not c.isascii()}
    templates = Path(__file__).resolve().parents[1] / "review" / "web" / "templates"
    tag = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
    for template in sorted(templates.glob("*.html")):
        text = tag.sub("", template.read_text(encoding="utf-8"))
        assert not [c for c in text if c in full_width], f"{template.name}: write {{{{ P.colon }}}} and the like"

    db_path, ids = site
    client, _ = logged_in(make_app(db_path), "rev1")
    chinese = client.get(f"/ad/{ids['promo0']}").text
    assert re.search(r"<dd>[^<（]+（[^<）]+）</dd>", chinese)  # 平台（站点）
    assert "；规则结论：" in chinese
    client.get("/lang/en")
    english = client.get(f"/ad/{ids['promo0']}").text
    assert re.search(r"<dd>[^<(（]+ \([^<）]+\)</dd>", english), english  # platform (site)
    assert "; the rules say: " in english and "；the rules say" not in english


def test_an_english_count_agrees_with_its_noun():
    """'1 try', '2 tries': an English string writes a count and its noun as {n|try|tries} (i18n.t); Chinese has no
    plural."""
    from flask import Flask, g

    from review.web.i18n import t

    with Flask(__name__).test_request_context():
        g.lang = "en"
        assert t("al.tries", n=1) == "1 try" and t("al.tries", n=3) == "3 tries"
        assert t("ledger.ok", n=1, head="1:ab") == "Hash chain verified: 1 entry, head 1:ab."
        assert t("e.summary", n=1, sites=2, first="a", last="b", confirmed=0, rejected=0).startswith("1 ad on 2 sites,")
        assert t("al.times", n="2", last="x") == "2 times, last x"
        g.lang = "zh"
        assert t("al.tries", n=1) == "1 次"


def test_the_ad_page_says_what_the_model_made_of_the_rules_findings(site):
    """The learned scorer weighs the rules' findings too (features.RULE_FEATURES); the page names each as the
    hits table does, in the reader's language, never as the feature's key."""
    db_path, ids = site
    rules = {"cue.ordinary": -1.33, "rules.exculpatory": -0.42, "cue.guarantee": 0.8}
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE verdicts SET model = json_set(model, '$.explain.rules', json(?)) WHERE ad_id = ?",
            [json.dumps(rules), ids["promo0"]],
        )
    client, _ = logged_in(make_app(db_path), "rev1")
    chinese = client.get(f"/ad/{ids['promo0']}").text
    assert '<p class="small" id="model-rules">模型对规则结果的权重：' in chinese
    assert '<span class="gram gram-against">普通商业或生活内容 -1.33</span>' in chinese
    assert '<span class="gram gram-against">排除线索合计 -0.42</span>' in chinese
    assert '<span class="gram gram-for">保本保收益承诺 +0.80</span>' in chinese
    client.get("/lang/en")
    english = client.get(f"/ad/{ids['promo0']}").text
    assert "exculpatory cue: 普通商业或生活内容 -1.33" in english and "exculpatory cues, total -0.42" in english
    assert "signal: 保本保收益承诺 +0.80" in english and "cue." not in english


def test_an_entity_page_asked_without_a_contact_kind_says_what_it_needs(site):
    """/entity?contact=… (a guessed URL) is a 400 that says what the page takes, not that 'kind' must be a whole
    number."""
    db_path, _ = site
    client, _ = logged_in(make_app(db_path), "rev1")
    answer = client.get("/entity?contact=13800005821")
    assert answer.status_code == 400
    assert "请指明联系方式（kind 为 mobile、" in answer.text and "整数" not in answer.text
    client.get("/lang/en")
    answer = client.get("/entity?kind=phone&value=1")
    assert answer.status_code == 400 and "Name a contact (kind, one of mobile, " in answer.text
    assert "whole number" not in answer.text
    answer = client.get("/ad/x")  # a bad id still says what an id must be
    assert answer.status_code == 400 and "is not valid: it must be a whole number" in answer.text


def test_the_dashboards_periods_and_rows_read_in_the_readers_language(site):
    """The statistics' own labels are the Chinese of the reports (2026-W49（11-30 至 12-06）); the dashboard
    says them in the reader's language."""
    db_path, _ = site
    client, _ = logged_in(make_app(db_path), "boss")
    page = client.get("/dashboard?from=2026-11-30&to=2026-12-06").text
    assert re.search(r"<h1>[^<]* · 2026-11-30 至 2026-12-06</h1>", page)
    assert '<th scope="row">2026-W49（11-30 至 12-06）</th>' in page
    client.get("/lang/en")
    page = client.get("/dashboard?from=2026-11-30&to=2026-12-06").text
    assert re.search(r"<h1>Dashboard · 2026-11-30 to 2026-12-06</h1>", page)
    assert '<p class="muted" id="dash-period">2026-11-30 to 2026-12-06' in page
    assert '<th scope="row">2026-W49 (11-30 to 12-06)</th>' in page and "至" not in page


# Audit actions the code records through a variable (the AST below reads only the literal ones): their values.
_AUDIT_ACTIONS_BY_VALUE = {
    "review/decisions.py": {"confirm", "reject"},  # _finish(…, action, …)
    "review/delivery.py": {"dispatch_notice_issued", "dispatch_handed_over"},  # f"dispatch_{action}"
    "review/queue.py": {"claim", "release"},  # _audit(…, action, …)
    "review/sessions.py": {"login_locked", "login_failed", "password_change_failed"},
    "review/users.py": {"user_password", "user_password_reset"},
}


def test_every_audit_action_the_code_records_has_words_on_the_audit_page():
    """The audit page names each action in the reader's language (strings ``audit.<action>``); an action
    without one showed its key (dispatch_create, tip_reveal, model_promoted …) on a Chinese page."""
    import ast

    from review.web.strings import STRINGS

    root = Path(__file__).resolve().parents[1]
    recorded: set[str] = set()
    for path in sorted([*root.glob("review/**/*.py"), *root.glob("core/*.py"), *root.glob("adclear/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "audit"):
                continue
            if node.func.attr != "record":
                continue
            action = next((kw.value for kw in node.keywords if kw.arg == "action"), None)
            if isinstance(action, ast.Constant):
                recorded.add(action.value)
            else:
                relative = path.relative_to(root).as_posix()
                assert relative in _AUDIT_ACTIONS_BY_VALUE, f"{relative}: an audit action by value; list its values"
                recorded |= _AUDIT_ACTIONS_BY_VALUE[relative]
    assert {"confirm", "dispatch_create", "tip_reveal", "login"} <= recorded, sorted(recorded)
    missing = sorted(a for a in recorded if f"audit.{a}" not in STRINGS)
    assert not missing, f"add to review/web/strings.py: {missing}"
    assert all(STRINGS[f"audit.{a}"][0] and STRINGS[f"audit.{a}"][1] for a in recorded)


def test_the_audit_page_names_actions_and_their_details_in_the_readers_language(site):
    from core.db import connect
    from review import audit

    db_path, _ = site
    db = connect(db_path)
    detail = {"name": "守住钱袋子", "from": "2026-06-01", "to": "2026-06-30"}
    audit.record(db, actor="boss", action="campaign_create", target="campaign:1", detail=detail)
    detail = {"number": "〔2026〕SFX交字第0001号", "receiver_name": "示范同城网运营有限公司", "ads": [1, 2]}
    audit.record(db, actor="rev1", action="dispatch_create", target="batch:1", detail=detail)
    db.close()
    client, _ = logged_in(make_app(db_path), "boss")
    page = client.get("/audit").text
    assert "<td>创建专项行动</td>" in page and "<td>生成交办单</td>" in page
    assert "<b>止</b> 2026-06-30" in page and "<b>起</b> 2026-06-01" in page  # a campaign's "to" is no recipient
    assert "<b>接收单位名称</b> 示范同城网运营有限公司" in page and "<b>广告</b> 1、2" in page
    client.get("/lang/en")
    page = client.get("/audit").text
    assert "<td>make dispatch batch</td>" in page and "<b>ads</b> 1, 2" in page


def test_every_state_and_kind_the_pages_show_has_words():
    """The pages show a dispatch batch's, a takedown's and a tip's state and an alert's kind and severity through
    strings (``batchstate.`` …): one without showed its key (a batch being sent read 'sending' on a Chinese page)."""
    from review import dispatch, takedowns, tips
    from review.alertconfig import KINDS, SEVERITIES
    from review.web.strings import STRINGS

    wanted = [
        *(f"batchstate.{s}" for s in dispatch.BATCH_STATES),
        *(f"tdstate.{s}" for s in takedowns.STATES),
        *(f"tipstate.{s}" for s in tips.STATES),
        *(f"alkind.{k}" for k in KINDS),
        *(f"sev.{s}" for s in SEVERITIES),
    ]
    assert [key for key in wanted if key not in STRINGS] == []
