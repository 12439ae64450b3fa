"""The 告警 page: supervisors only, failed deliveries first with their error, a retry, each run's health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.db import connect
from core.runhealth import check_run
from review import alerts
from review.alertconfig import AlertsConfig
from review.alertsend import deliver_pending
from tests.smtpinbox import free_port
from tests.test_web import logged_in, make_app, rows
from tests.webdata import build

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


@pytest.fixture
def site(tmp_path):
    db_path = tmp_path / "data" / "adclear.db"
    build(db_path)
    db = connect(db_path)
    db.execute(
        "INSERT INTO crawl_runs (site, spider, started_at, finished_at, status, reason, pages, ads_new) "
        "SELECT name, 'c', ?, ?, 'ok', 'finished', 30, 0 FROM sites LIMIT 1",
        [T0.isoformat(), T0.isoformat()],
    )
    db.conn.commit()
    run_id = db.execute("SELECT max(id) FROM crawl_runs").fetchone()[0]
    problems = check_run(db, run_id)
    db.execute(
        "UPDATE run_health SET ok = 0, message = 'no ad <b>read</b>', message_zh = '未读到<b>广告</b>' "
        "WHERE run_id = ?",
        [run_id],
    )
    db.conn.commit()
    alert_id = alerts.raise_alert(db, "run", "抓取异常：站点 test-site", "- layout: <script>x</script>", run_id=run_id,
                                  severity="critical", now=T0)  # fmt: skip
    down = f"http://127.0.0.1:{free_port()}/hook"
    cfg = AlertsConfig.model_validate({"retry": {"attempts": 1}, "channels": [{"name": "ops", "type": "webhook",
                                                                                "url": down}]})  # fmt: skip
    deliver_pending(db, cfg, now=T0 + timedelta(seconds=1))
    db.close()
    return db_path, alert_id, run_id, problems


def test_only_supervisors_see_alerts(site):
    app = make_app(site[0])
    reviewer, _ = logged_in(app, "rev1")
    assert reviewer.get("/alerts").status_code == 403
    assert 'href="/alerts"' not in reviewer.get("/queue").text


def test_a_failed_delivery_is_shown_first_and_can_be_retried(site):
    db_path, alert_id, run_id, _ = site
    app = make_app(db_path)
    boss, token = logged_in(app, "boss")
    page = boss.get("/alerts").text
    failed = page.index('id="failed-alerts"')
    assert failed < page.index('id="alert-table"')
    assert "发送失败的告警" in page and 'title="cannot reach http://127.0.0.1' in page
    assert '">无法连接 http://127.0.0.1:' in page  # the reason in Chinese (core.reasons), the English in its title
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert f'id="run-{run_id}"' in page and "异常" in page
    assert "未读到&lt;b&gt;广告&lt;/b&gt;" in page and "no ad" not in page  # the check in Chinese, escaped
    answer = boss.post(f"/alerts/{alert_id}/retry", data={"csrf_token": token})
    assert answer.status_code == 302
    assert rows(db_path, "SELECT state, attempts FROM alert_deliveries") == [("pending", 0)]
    assert rows(db_path, "SELECT actor, action, target FROM audit_log WHERE action = 'alert_retry'") == [
        ("boss", "alert_retry", f"alert:{alert_id}")
    ]
    assert 'id="failed-alerts"' not in boss.get("/alerts").text
    assert boss.post(f"/alerts/{alert_id}/retry").status_code in (400, 403)  # no CSRF token


def test_the_page_reads_in_english(site):
    app = make_app(site[0])
    boss, _ = logged_in(app, "boss")
    boss.get("/lang/en")
    page = boss.get("/alerts").text
    assert "Alerts that could not be delivered" in page and "Recent crawl runs and their health" in page
    assert "layout: no ad &lt;b&gt;read&lt;/b&gt;" in page  # the check as the command line says it
