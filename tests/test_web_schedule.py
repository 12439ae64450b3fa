"""The 监测计划 page: the scheduler's jobs, their next run and last runs with figures, and "run now" (supervisors,
CSRF, audited) leaving a request the scheduler takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core import scheduling
from core.db import connect, immediate
from tests import test_web
from tests.test_web import logged_in, make_app, rows
from tests.webdata import ensure_site

site, template = test_web.site, test_web.template  # fixtures: a private copy of the web tests' database

HOSTILE_REASON = '<script>alert("reason")</script> no page fetched'


def schedule_data(db_path) -> None:
    """What a scheduler that ran for a while leaves: three jobs, some runs, one running, one broken seeds.yml."""
    db = connect(db_path)
    now = datetime.now(UTC)
    with immediate(db):
        for name in ("demo-classifieds", "demo-social"):
            ensure_site(db, name)
        runs = [
            ("demo-classifieds", "classifieds", 30, "ok", "finished", 105, 80, 0, "ok"),
            ("demo-classifieds", "classifieds", 6 * 60 + 30, "ok", "finished", 104, 2, 1, None),
            ("demo-social", "social", 45, "failed", HOSTILE_REASON, 0, 0, 3, "unhealthy"),
            ("demo-social", "recheck", 20, "ok", "finished", 4, 0, 0, None),
        ]
        for site_name, spider, minutes_ago, status, reason, pages, new, errors, health in runs:
            at = (now - timedelta(minutes=minutes_ago)).isoformat()
            db.execute(
                """INSERT INTO crawl_runs (site, spider, started_at, finished_at, owner, status, reason, pages,
                       ads_new, errors, health) VALUES (?, ?, ?, ?, 'vm:1', ?, ?, ?, ?, ?, ?)""",
                [site_name, spider, at, at, status, reason, pages, new, errors, health],
            )
    due = (now + timedelta(hours=2)).isoformat()
    scheduling.save_job(db, "demo-classifieds", kind="crawl", schedule="0 */6 * * *", next_due=due, last_exit=0)
    scheduling.save_job(db, "demo-social", kind="crawl", schedule="every 4h", next_due=due, running_pid=4242)
    scheduling.save_job(db, "recheck", kind="recheck", schedule="30 8 * * *", next_due=due, missed=2)
    scheduling.scheduler_started(db, "vm:777", "seeds.yml")
    scheduling.config_error(
        db, "vm:777", "seeds.yml line 15: sites[0] (demo-classifieds).schedule: '0 */6 * *' has 4 fields"
    )
    db.close()


def test_supervisors_see_each_job_its_next_run_and_last_runs(site):
    db_path, _ = site
    schedule_data(db_path)
    app = make_app(db_path)
    reviewer, _ = logged_in(app, "rev1")
    assert reviewer.get("/schedule").status_code == 403
    boss, _ = logged_in(app, "boss")
    page = boss.get("/schedule").text
    assert "监测计划" in page and "调度器运行中：vm:777" in page
    assert "has 4 fields" in page and "调度器仍按原计划运行" in page  # the refused seeds.yml, said
    assert 'id="job-demo-classifieds"' in page and "<code>0 */6 * * *</code>" in page
    assert "运行中（进程 4242）" in page  # demo-social runs now
    assert "上次补跑合并了 2 次错过的运行" in page
    assert HOSTILE_REASON not in page and "&lt;script&gt;alert(" in page  # a crawled reason is escaped
    assert page.count('class="run-ok"') == 3 and page.count('class="run-failed"') == 1
    # each run's health, linked to its checks on the 告警 page; reasons that are words read in Chinese
    assert page.count('class="label health-ok" href="/alerts#run-') == 1
    assert page.count('class="label health-unhealthy"') == 1 and page.count('class="label health-unchecked"') == 2
    assert page.count("正常结束") == 3 and ">finished<" not in page
    assert "复查未办结处置" in page
    boss.get("/lang/en?next=/schedule")
    english = boss.get("/schedule").text
    assert "Schedule" in english and "Run now" in english and ">finished<" in english and "unhealthy" in english


def test_run_now_needs_the_csrf_token_leaves_one_request_and_is_audited(site):
    db_path, _ = site
    schedule_data(db_path)
    app = make_app(db_path)
    boss, token = logged_in(app, "boss")
    assert boss.post("/schedule/demo-classifieds/run", data={}).status_code == 400
    assert rows(db_path, "SELECT count(*) FROM schedule_requests") == [(0,)]
    answer = boss.post("/schedule/demo-classifieds/run", data={"csrf_token": token}, follow_redirects=True)
    assert "已请求立即运行 demo-classifieds" in answer.text
    assert "等待立即运行（boss 请求）" in answer.text
    again = boss.post("/schedule/demo-classifieds/run", data={"csrf_token": token}, follow_redirects=True)
    assert "demo-classifieds 已在等待立即运行" in again.text
    assert rows(db_path, "SELECT job, requested_by, taken_at FROM schedule_requests") == [
        ("demo-classifieds", "boss", None)
    ]
    assert rows(db_path, "SELECT actor, action, target FROM audit_log WHERE action = 'schedule_run_now'") == [
        ("boss", "schedule_run_now", "demo-classifieds")
    ]
    unknown = boss.post("/schedule/nosuchsite/run", data={"csrf_token": token}, follow_redirects=True)
    assert "没有名为 nosuchsite 的监测任务" in unknown.text
    assert boss.post("/schedule/..%2Fx/run", data={"csrf_token": token}).status_code == 404
    reviewer, rtoken = logged_in(app, "rev1")
    assert reviewer.post("/schedule/demo-social/run", data={"csrf_token": rtoken}).status_code == 403


def test_without_a_scheduler_the_page_says_how_to_start_one(site):
    db_path, _ = site
    app = make_app(db_path)
    boss, _ = logged_in(app, "boss")
    page = boss.get("/schedule").text
    assert "尚无调度器运行过" in page and 'id="no-jobs"' in page
    db = connect(db_path)
    scheduling.scheduler_started(db, "vm:1", "seeds.yml")
    with immediate(db):
        db.execute("UPDATE scheduler_status SET seen_at = ?", [(datetime.now(UTC) - timedelta(hours=1)).isoformat()])
    db.close()
    assert "调度器未在运行" in boss.get("/schedule").text


def test_a_runs_reason_reads_in_chinese_with_the_recorded_one_beside_it(site):
    """crawl_runs.reason is English (the command line prints it); the page says it in Chinese where core.reasons
    knows it, keeps the recorded text in the cell's title, and escapes the URL the reason quotes."""
    db_path, _ = site
    schedule_data(db_path)
    url = "http://shop.test/p?q=<script>alert(1)</script>"
    recorded = {
        "closespider_timeout": "达到时间上限",
        f"no page fetched (dns {url}: the host name does not resolve: shop.test)": (
            "未抓到任何页面（域名无法解析 http://shop.test/p?q=&lt;script&gt;alert(1)&lt;/script&gt;：域名无法解析：shop.test）"
        ),
        "7 of 9 requests failed (78%, above max_error_rate 50%: timeout 5, http_503 2)": (
            "9 个请求中 7 个失败（78%，超过 max_error_rate 50%：超时 5，HTTP 503 2）"
        ),
    }
    db = connect(db_path)
    with immediate(db):
        for reason in recorded:
            db.execute(
                "INSERT INTO crawl_runs (site, spider, started_at, finished_at, owner, status, reason) "
                "VALUES ('demo-social', 'social', ?, ?, 'vm:1', 'failed', ?)",
                [datetime.now(UTC).isoformat(), datetime.now(UTC).isoformat(), reason],
            )
    db.close()
    boss, _ = logged_in(make_app(db_path), "boss")
    page = boss.get("/schedule").text
    for chinese in recorded.values():
        assert f">{chinese}</td>" in page
    assert 'title="closespider_timeout"' in page
    assert 'title="no page fetched (dns http://shop.test/p?q=&lt;script&gt;alert(1)&lt;/script&gt;: the host' in page
    assert "<script>alert(1)" not in page
    boss.get("/lang/en?next=/schedule")
    english = boss.get("/schedule").text
    assert ">time limit reached</td>" in english and "7 of 9 requests failed" in english
