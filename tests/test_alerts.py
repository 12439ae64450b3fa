"""Alerts: alerts.yml, grouping, the robot formats received by a local webhook and a local SMTP server, the
钉钉 signature, retries with backoff against a receiver that is down (an injected clock: no sleep)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

import pytest

from core.runhealth import Check
from review import alerts
from review.alertconfig import AlertsConfig, AlertsInvalid, load_alerts_config
from review.alertsend import deliver_pending, dingtalk_sign
from review.mail import SmtpSettings
from tests.smtpinbox import free_port, smtp_server
from tests.webhookinbox import webhook_server

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
SECRET = "SECbd2f1c0e5a7d4e3b9c8f6a1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2"


def config(**fields) -> AlertsConfig:
    return AlertsConfig.model_validate(fields)


def add_run(db, site: str = "demo-classifieds", status: str = "failed") -> int:
    db.execute(
        "INSERT OR IGNORE INTO sites (name, platform, kind, config, updated_at) "
        "VALUES (?, 'p', 'classifieds', '{}', ?)",
        [site, T0.isoformat()],
    )
    cur = db.execute(
        "INSERT INTO crawl_runs (site, spider, started_at, finished_at, status, reason) VALUES (?, 'c', ?, ?, ?, ?)",
        [site, T0.isoformat(), T0.isoformat(), status, "no page fetched (refused http://x/)"],
    )
    db.conn.commit()
    return cur.lastrowid


def a_run_alert(db, now=T0) -> int:
    run_id = add_run(db)
    problems = [Check("finished", False, "the run failed: no page fetched (refused http://x/)", severity="critical",
                      zh="运行失败：no page fetched (refused http://x/)")]  # fmt: skip
    return alerts.run_alert(db, run_id, problems, now=now)


def test_alerts_yml_problems_name_the_line_and_the_fix(tmp_path):
    path = tmp_path / "alerts.yml"
    path.write_text("channels:\n  - name: ops\n    type: dingtalk\n    url: http://x/\n    secert: SEC1\n")
    with pytest.raises(AlertsInvalid, match=r"alerts.yml line 5: channels\[0\]: unknown key 'secert'; did you mean"):
        load_alerts_config(path)
    path.write_text("channels:\n  - name: mail\n    type: email\n")
    with pytest.raises(AlertsInvalid, match=r"line 2: channels\[0\]: an email channel needs 'to'"):
        load_alerts_config(path)
    assert load_alerts_config(tmp_path / "none.yml") == AlertsConfig()


def test_the_same_problem_within_the_window_is_counted_not_raised_again(db):
    first = a_run_alert(db)
    again = a_run_alert(db, now=T0 + timedelta(hours=3))
    assert again == first
    assert alerts.get(db, first).count == 2
    later = a_run_alert(db, now=T0 + timedelta(hours=30))
    assert later != first


def test_each_robot_format_reaches_the_receiver(db):
    alert_id = a_run_alert(db)
    with webhook_server() as hook:
        cfg = config(
            web_url="https://adclear.example.gov.cn/",
            channels=[
                {"name": "generic", "type": "webhook", "url": hook.url("/generic")},
                {"name": "wecom-md", "type": "wecom", "url": hook.url("/wecom?key=k1")},
                {"name": "wecom-text", "type": "wecom", "url": hook.url("/wecom-text?key=k2"), "format": "text"},
                {"name": "ding", "type": "dingtalk", "url": hook.url("/ding?access_token=t1"), "secret": SECRET},
                {"name": "ding-text", "type": "dingtalk", "url": hook.url("/ding-text"), "format": "text"},
            ],
        )
        outcome = deliver_pending(db, cfg, now=T0)
    assert (outcome.routed, outcome.sent, outcome.failed) == (5, 5, 0)
    (generic,) = hook.at("/generic")
    assert generic.headers["Content-Type"].startswith("application/json")
    (item,) = generic.body["alerts"]
    assert item["id"] == alert_id and item["kind"] == "run" and item["severity"] == "critical"
    assert "demo-classifieds" in item["subject"] and "运行结束" in item["subject"]
    assert item["detail"] == "- 运行结束：运行失败：no page fetched (refused http://x/)"  # Chinese for the office
    (wecom,) = hook.at("/wecom")
    assert wecom.query == {"key": "k1"} and wecom.body["msgtype"] == "markdown"
    assert set(wecom.body) == {"msgtype", "markdown"} and set(wecom.body["markdown"]) == {"content"}
    assert wecom.body["markdown"]["content"].startswith("### 【严重】抓取失败")
    assert "https://adclear.example.gov.cn/alerts" in wecom.body["markdown"]["content"]
    (wecom_text,) = hook.at("/wecom-text")
    assert wecom_text.body["msgtype"] == "text" and "抓取失败" in wecom_text.body["text"]["content"]
    (ding,) = hook.at("/ding")
    assert ding.body["msgtype"] == "markdown" and set(ding.body["markdown"]) == {"title", "text"}
    assert ding.query["access_token"] == "t1"
    assert ding.query["timestamp"] == str(int(T0.timestamp() * 1000))  # the injected clock, in milliseconds
    expected = hmac.new(SECRET.encode(), f"{ding.query['timestamp']}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert base64.b64decode(ding.query["sign"]) == expected  # parse_qs decoded the URL encoding once
    (ding_text,) = hook.at("/ding-text")
    assert "sign" not in ding_text.query and ding_text.body["msgtype"] == "text"
    assert {d.state for d in alerts.deliveries(db, [alert_id])[alert_id]} == {"sent"}


def test_the_signature_is_url_encoded_base64():
    sign = dingtalk_sign("SEC123", 1_700_000_000_000)
    raw = hmac.new(b"SEC123", b"1700000000000\nSEC123", hashlib.sha256).digest()
    assert unquote_plus(sign) == base64.b64encode(raw).decode()
    assert "+" not in sign and "/" not in sign and "=" not in sign


def test_an_email_channel_goes_through_smtp(db):
    a_run_alert(db)
    with smtp_server() as (inbox, port):
        smtp = SmtpSettings(host="127.0.0.1", port=port, sender="adclear@example.org")
        cfg = config(channels=[{"name": "mail", "type": "email", "to": ["ops@example.org", "chief@example.org"]}])
        outcome = deliver_pending(db, cfg, now=T0, smtp=smtp)
    assert outcome.sent == 1
    (message,) = inbox.messages
    assert message["Subject"].startswith("[adclear] 【严重】抓取失败") and "demo-classifieds" in message["Subject"]
    assert "ops@example.org" in message["To"] and "chief@example.org" in message["To"]
    assert "no page fetched" in message.get_content()


def test_a_robot_that_refuses_is_a_failure_with_its_errcode(db):
    alert_id = a_run_alert(db)
    with webhook_server() as hook:
        hook.answer = {"errcode": 310000, "errmsg": "sign not match"}
        cfg = config(channels=[{"name": "ding", "type": "dingtalk", "url": hook.url("/ding"), "secret": "SECx"}])
        outcome = deliver_pending(db, cfg, now=T0)
    assert outcome.retrying == 1
    (d,) = alerts.deliveries(db, [alert_id])[alert_id]
    assert d.state == "retrying" and "errcode 310000 sign not match" in d.error


def test_a_receiver_that_is_down_is_retried_with_backoff_then_given_up(db):
    alert_id = a_run_alert(db)
    down = f"http://127.0.0.1:{free_port()}/hook?key=secret-key"  # nothing listens there
    cfg = config(retry={"attempts": 3, "backoff": 60}, channels=[{"name": "ops", "type": "wecom", "url": down}])

    def delivery():
        (d,) = alerts.deliveries(db, [alert_id])[alert_id]
        return d

    assert deliver_pending(db, cfg, now=T0).retrying == 1
    d = delivery()
    assert (d.state, d.attempts) == ("retrying", 1)
    assert datetime.fromisoformat(d.next_at) == T0 + timedelta(seconds=60)
    assert "cannot reach http://127.0.0.1" in d.error and "secret-key" not in d.error  # the key stays private
    deliver_pending(db, cfg, now=T0 + timedelta(seconds=30))  # not due yet: not tried
    assert delivery().attempts == 1
    deliver_pending(db, cfg, now=T0 + timedelta(seconds=60))
    d = delivery()
    assert (d.state, d.attempts) == ("retrying", 2)
    assert datetime.fromisoformat(d.next_at) == T0 + timedelta(seconds=60 + 120)  # doubled
    outcome = deliver_pending(db, cfg, now=T0 + timedelta(seconds=180))
    assert outcome.failed == 1
    d = delivery()
    assert (d.state, d.attempts) == ("failed", 3)
    assert [a.id for a in alerts.listing(db, failed_only=True)] == [alert_id]
    deliver_pending(db, cfg, now=T0 + timedelta(days=1))  # given up: never tried again, never dropped
    assert delivery().attempts == 3


def test_deliveries_wait_for_the_rate_limit_and_go_out_grouped(db):
    ids = [alerts.raise_alert(db, "tip", f"线索 {i}", group_key=f"tip:{i}", now=T0) for i in range(5)]
    with webhook_server() as hook:
        cfg = config(rate_limit=2, per_message=2, channels=[{"name": "ops", "type": "webhook", "url": hook.url()}])
        first = deliver_pending(db, cfg, now=T0)
        assert (first.sent, first.waiting) == (4, 1)
        assert [len(p.body["alerts"]) for p in hook.posts] == [2, 2]  # two messages, two alerts each
        assert deliver_pending(db, cfg, now=T0 + timedelta(minutes=30)).sent == 0  # the hour's budget is spent
        assert deliver_pending(db, cfg, now=T0 + timedelta(minutes=61)).sent == 1
    states = alerts.deliveries(db, ids)
    assert all(ds[0].state == "sent" for ds in states.values())


def test_an_alert_no_channel_takes_is_shown_undelivered(db):
    alert_id = alerts.raise_alert(db, "tip", "线索", severity="info", now=T0)
    cfg = config(channels=[{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/", "min_severity": "warning"}])
    deliver_pending(db, cfg, now=T0)
    assert alerts.get(db, alert_id).routed_at is not None
    assert alerts.deliveries(db, [alert_id])[alert_id] == []


def test_crawled_text_cannot_drive_a_robot():
    text = alerts.plain("高回报[点我](http://evil.example/) <@all> **加粗**\n第二行" + "x" * 100)
    for active in "[]()<>*@\n":
        assert active not in text
    assert len(text) == 60 and text.endswith("…")


def test_overdue_takedowns_are_one_alert_a_day(db):
    add_run(db)
    for n, deadline in enumerate(("2026-11-20", "2026-11-25", "2026-12-30")):
        db.execute(
            "INSERT INTO ads (ad_key, url, site, platform, content_hash, first_seen, last_seen, last_fetched) "
            "VALUES (?, ?, 'demo-classifieds', 'p', 'h', ?, ?, ?)",
            [f"k{n}", f"http://x/{n}", T0.isoformat(), T0.isoformat(), T0.isoformat()],
        )
        db.execute(
            "INSERT INTO takedowns (ad_id, requested_seq, state, receiver, deadline, updated_seq) "
            "VALUES (?, ?, 'dispatched', 'plat', ?, ?)",
            [n + 1, n + 1, deadline, n + 1],
        )
    db.conn.commit()
    first = alerts.overdue_alert(db, now=T0)
    alert = alerts.get(db, first)
    assert alert.subject == "2 条处置已逾期（2026-12-03）" and alert.detail.count("- 处置") == 2
    assert alerts.overdue_alert(db, now=T0 + timedelta(hours=2)) == first  # the same China day
    assert alerts.overdue_alert(db, now=T0 + timedelta(days=1)) != first


def test_a_tip_is_alerted_without_its_tipster(db):
    alert_id = alerts.tip_alert(db, 7, number="XS-2026-0007", channel="phone", summary="某群推广[年化20%](http://x)")
    alert = alerts.get(db, alert_id)
    assert alert.kind == "tip" and alert.severity == "info" and "XS-2026-0007" in alert.subject
    assert "(http://x)" not in alert.detail and "年化20%" in alert.detail


def test_a_broken_seeds_file_alerts_once_per_window(db):
    message = "seeds.yml line 14: sites[0] (demo-classifieds): unknown key 'start_url'; did you mean 'start_urls'?"
    first = alerts.config_alert(db, "seeds.yml", message, now=T0)
    assert alerts.config_alert(db, "seeds.yml", message, now=T0 + timedelta(minutes=5)) == first
    assert alerts.get(db, first).severity == "critical" and alerts.get(db, first).count == 2
    assert alerts.config_alert(db, "seeds.yml", message.replace("14", "15"), now=T0) != first


def test_reappeared_ads_are_one_alert(db):
    alert_id = alerts.reappeared_alert(db, [(3, 11, 90), (4, 12, 91)], now=T0)
    alert = alerts.get(db, alert_id)
    assert alert.kind == "reappeared" and alert.subject == "2 条已处置的广告再现" and "广告 91" in alert.detail
    assert alerts.reappeared_alert(db, [], now=T0) is None


def test_the_alerts_commands(tmp_path, monkeypatch):
    from tests.conftest import run_adclear

    db = tmp_path / "data" / "adclear.db"
    alerts_yml = tmp_path / "alerts.yml"
    monkeypatch.setenv("ADCLEAR_ALERTS", str(alerts_yml))
    assert run_adclear("alerts", "list", db=db, check=True).stdout == "no alerts\n"
    nothing = run_adclear("alerts", "deliver", db=db, check=True).stdout
    assert "no channel in" in nothing and "alerts are recorded and shown in the web app only" in nothing
    with webhook_server() as hook:
        down = f"http://127.0.0.1:{free_port()}/x"
        alerts_yml.write_text(
            f"retry: {{attempts: 1}}\nchannels:\n  - {{name: ops, type: webhook, url: '{hook.url()}'}}\n"
            f"  - {{name: gone, type: webhook, url: '{down}'}}\n",
            encoding="utf-8",
        )
        good = run_adclear("alerts", "test", "ops", db=db, check=True)
        assert good.stdout == "ops: sent\n" and hook.posts[0].body["alerts"][0]["kind"] == "test"
        bad = run_adclear("alerts", "test", db=db)
        assert bad.returncode == 1 and "gone: failed: cannot reach" in bad.stdout
        assert "the test did not reach gone" in bad.stderr
        unknown = run_adclear("alerts", "test", "nope", db=db)
        assert unknown.returncode == 1 and "no channel 'nope'" in unknown.stderr
    listed = run_adclear("alerts", "list", "--failed", db=db, check=True).stdout
    assert "test" in listed and "gone: failed" in listed and "ops: sent" in listed
    alerts_yml.write_text("channels:\n  - name: ops\n    typ: webhook\n", encoding="utf-8")
    broken = run_adclear("alerts", "deliver", db=db)
    assert broken.returncode == 1 and "line 3: channels[0]: unknown key 'typ'; did you mean 'type'?" in broken.stderr
