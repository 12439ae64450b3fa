"""End to end: the demo classifieds site changes its layout, `adclear crawl` finds pages but no ad, the run is
marked unhealthy and its alert reaches a local webhook in each format (generic JSON, 企业微信, 钉钉 signed) and a
local SMTP server; a receiver that is down leaves a delivery to retry, which `adclear alerts list` shows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
import urllib.request

import pytest

from tests.conftest import NO_READING, run_adclear, seeds_for
from tests.smtpinbox import free_port, smtp_server
from tests.webhookinbox import webhook_server

pytestmark = pytest.mark.slow
SECRET = "SEC0123456789abcdef"


def relayout(base_url: str, version: int) -> None:
    request = urllib.request.Request(f"{base_url}/_demo/layout?site=classifieds&v={version}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def alerts_yml(path, hook, down_port: int) -> None:
    path.write_text(
        f"""# the test's receivers, all on loopback
flag_score: 9.5        # the first crawl's strongest flags: one message for the run, not one per ad
retry: {{attempts: 3, backoff: 3600}}
channels:
  - name: generic
    type: webhook
    url: {hook.url("/generic")}
  - name: wecom
    type: wecom
    url: {hook.url("/wecom?key=k")}
  - name: ding
    type: dingtalk
    url: {hook.url("/ding?access_token=t")}
    secret: {SECRET}
  - name: mail
    type: email
    to: [ops@example.org]
  - name: down
    type: webhook
    url: http://127.0.0.1:{down_port}/nobody
""",
        encoding="utf-8",
    )


def test_a_changed_layout_is_alerted_in_every_format(own_demo_server, tmp_path, monkeypatch):
    base = own_demo_server.base_url
    seeds = seeds_for(base, tmp_path / "seeds.yml")
    db = tmp_path / "data" / "adclear.db"
    with webhook_server() as hook, smtp_server() as (inbox, port):
        alerts = tmp_path / "alerts.yml"
        alerts_yml(alerts, hook, free_port())
        monkeypatch.setenv("ADCLEAR_ALERTS", str(alerts))
        monkeypatch.setenv("ADCLEAR_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ADCLEAR_SMTP_PORT", str(port))
        monkeypatch.setenv("ADCLEAR_SMTP_FROM", "adclear@example.org")
        first = run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=seeds, check=True)
        assert "unhealthy" not in first.stdout
        assert [p.path for p in hook.posts] == ["/generic", "/wecom", "/ding"]  # the flags, once per channel
        (flags,) = hook.posts[0].body["alerts"]
        assert flags["kind"] == "flags" and flags["detail"].count("- 广告") >= 2
        hook.posts.clear()
        inbox.messages.clear()
        relayout(base, 2)
        try:
            second = run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=seeds, check=True)
        finally:
            relayout(base, 1)
        listed = run_adclear("alerts", "list", db=db, check=True)
    assert "demo-classifieds: run 2 is unhealthy (layout)" in second.stdout
    assert "alerts: 4 sent, 1 to retry, 0 given up" in second.stdout
    with sqlite3.connect(db) as conn:
        health = conn.execute("SELECT id, status, health FROM crawl_runs ORDER BY id").fetchall()
    assert health == [(1, "ok", "ok"), (2, "ok", "unhealthy")]

    (generic,) = hook.at("/generic")
    (alert,) = generic.body["alerts"]
    assert alert["kind"] == "run" and alert["run_id"] == 2 and alert["severity"] == "critical"
    assert "网站版面可能已改变" in alert["detail"]  # the office's group chat reads Chinese
    (wecom,) = hook.at("/wecom")
    assert wecom.body["msgtype"] == "markdown" and "demo-classifieds" in wecom.body["markdown"]["content"]
    (ding,) = hook.at("/ding")
    signed = hmac.new(SECRET.encode(), f"{ding.query['timestamp']}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert base64.b64decode(ding.query["sign"]) == signed
    assert "版面" in ding.body["markdown"]["text"]
    (mail,) = inbox.messages
    assert "demo-classifieds" in mail["Subject"] and "网站版面可能已改变" in mail.get_content()
    assert "down: retrying" in listed.stdout and "cannot reach http://127.0.0.1" in listed.stdout
