"""Delivering alerts: ``deliver_pending(db, config, now=…)`` sends what is due, retries what failed, gives up late.

Each alert is routed once to the channels of alerts.yml that want its kind and severity: one
``alert_deliveries`` row per channel. Then, per channel, the due deliveries go out together, up to
``per_message`` alerts in one message and ``rate_limit`` messages an hour (the rest wait for the next call and
go out grouped). A message that fails (no answer, an HTTP error, a robot's ``errcode`` other than 0, a mail
server's refusal) leaves its deliveries ``retrying`` with the next try ``retry.backoff`` seconds later, doubled
after each failure; after ``retry.attempts`` tries they are ``failed`` with the last error, which the web app's
告警 page shows first. Nothing is lost silently: an alert that no channel takes shows as undelivered there too.

Formats (docs/alerts.md): ``webhook`` posts adclear's own JSON; ``wecom`` the 企业微信 group robot's
``{"msgtype": "markdown"|"text", …}``; ``dingtalk`` the 钉钉 group robot's, its URL signed when a ``secret`` is
set (``timestamp`` in ms and ``sign`` = Base64 of HMAC-SHA256 over ``timestamp + "\\n" + secret``, URL-encoded,
as DingTalk documents); ``email`` plain text through ``review.mail``. The clock is a parameter, so tests
need no sleep.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlsplit

import sqlite_utils

from core.db import immediate
from core.timeutil import local
from review import alerts
from review.alertconfig import AlertsConfig, Channel
from review.mail import DeliveryFailed, SmtpSettings, send

__all__ = ["Outcome", "deliver_pending", "dingtalk_sign", "render", "retry_failed", "route"]

SEVERITY_ZH = {"info": "提示", "warning": "警告", "critical": "严重"}
KIND_ZH = {"run": "抓取运行", "flags": "高分线索", "overdue": "处置逾期", "reappeared": "广告再现", "tip": "举报线索",
           "config": "配置错误", "test": "测试"}  # fmt: skip
# what the robots accept at most (UTF-8 bytes): 企业微信 markdown 4096, text 2048; 钉钉 about 20000
LIMITS = {("wecom", "markdown"): 4096, ("wecom", "text"): 2048, ("dingtalk", "markdown"): 18000,
          ("dingtalk", "text"): 18000}  # fmt: skip


@dataclass
class Outcome:
    routed: int = 0  # deliveries made for new alerts
    sent: int = 0  # deliveries sent now
    retrying: int = 0  # failed now, to be tried again
    failed: int = 0  # failed now for the last time
    waiting: int = 0  # due but held back by the rate limit, or by a receiver that just failed


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def route(db: sqlite_utils.Database, config: AlertsConfig, now: datetime, *, only: str | None = None) -> int:
    """Make the deliveries of every alert not routed yet; how many. A test alert goes to every channel whatever
    its filters, or to the channel ``only`` alone."""
    at = _iso(now)
    made = 0
    names = [c.name for c in config.channels]
    marks = ",".join("?" * len(names)) or "''"
    stale = f"state IN ('pending', 'retrying') AND channel NOT IN ({marks})"
    todo = db.execute(
        f"SELECT EXISTS (SELECT 1 FROM alerts WHERE routed_at IS NULL) "
        f"OR EXISTS (SELECT 1 FROM alert_deliveries WHERE {stale})",
        names,
    ).fetchone()[0]
    if not todo:  # nothing written when there is nothing to do (a full disk, a read-only copy)
        return 0
    with immediate(db):
        rows = db.execute("SELECT id, kind, severity FROM alerts WHERE routed_at IS NULL ORDER BY id").fetchall()
        for alert_id, kind, severity in rows:
            for channel in config.channels:
                if only and kind == "test":
                    wanted = channel.name == only
                else:
                    wanted = kind == "test" or channel.wants(kind, severity)
                if wanted:
                    db.execute(
                        "INSERT OR IGNORE INTO alert_deliveries (alert_id, channel, next_at) VALUES (?, ?, ?)",
                        [alert_id, channel.name, at],
                    )
                    made += 1
            db.execute("UPDATE alerts SET routed_at = ? WHERE id = ?", [at, alert_id])
        db.execute(  # a channel taken out of alerts.yml: its deliveries can never go out, and say so
            "UPDATE alert_deliveries SET state = 'failed', last_at = ?, error = 'the channel ' || channel || "
            f"' is no longer in alerts.yml' WHERE {stale}",
            [at, *names],
        )
    return made


def retry_failed(db: sqlite_utils.Database, alert_id: int, *, now: datetime | None = None) -> int:
    """Give the given-up deliveries of an alert a new round of tries (the receiver is fixed); how many."""
    at = _iso(now or datetime.now(UTC))
    with immediate(db):
        cursor = db.execute(
            "UPDATE alert_deliveries SET state = 'pending', attempts = 0, next_at = ? "
            "WHERE alert_id = ? AND state = 'failed'",
            [at, alert_id],
        )
    return cursor.rowcount


def deliver_pending(
    db: sqlite_utils.Database,
    config: AlertsConfig,
    *,
    now: datetime | None = None,
    smtp: SmtpSettings | None = None,
) -> Outcome:
    """Route new alerts and send every delivery that is due, channel by channel; what happened."""
    now = now or datetime.now(UTC)
    outcome = Outcome(routed=route(db, config, now))
    for channel in config.channels:
        _deliver_channel(db, config, channel, now, smtp, outcome)
    return outcome


def _deliver_channel(
    db: sqlite_utils.Database,
    config: AlertsConfig,
    channel: Channel,
    now: datetime,
    smtp: SmtpSettings | None,
    outcome: Outcome,
) -> None:
    at = _iso(now)
    hour_ago = _iso(now - timedelta(hours=1))
    (used,) = db.execute(
        "SELECT count(DISTINCT message) FROM alert_deliveries WHERE channel = ? AND last_at >= ?",
        [channel.name, hour_ago],
    ).fetchone()
    budget = config.rate_limit - used
    due_sql = (
        "SELECT id, alert_id, attempts FROM alert_deliveries WHERE channel = ? AND state IN ('pending', 'retrying') "
        "AND next_at <= ? ORDER BY id LIMIT ?"
    )
    while True:
        due = db.execute(due_sql, [channel.name, at, config.per_message]).fetchall()
        if not due:
            return
        if budget <= 0:
            break
        budget -= 1
        found = [alerts.get(db, alert_id) for _, alert_id, _ in due]
        message = f"{channel.name}:{due[0][0]}:{at}"
        try:
            send_message(channel, [a for a in found if a is not None], config, now=now, smtp=smtp)
        except DeliveryFailed as e:
            _failed(db, config, due, message, str(e), now, outcome)
            break  # a receiver that just failed is not tried again now
        with immediate(db):
            for delivery_id, _, _ in due:
                db.execute(
                    "UPDATE alert_deliveries SET state = 'sent', attempts = attempts + 1, last_at = ?, sent_at = ?, "
                    "message = ?, error = '' WHERE id = ?",
                    [at, at, message, delivery_id],
                )
        outcome.sent += len(due)
    (left,) = db.execute(
        "SELECT count(*) FROM alert_deliveries WHERE channel = ? AND state IN ('pending', 'retrying') AND next_at <= ?",
        [channel.name, at],
    ).fetchone()
    outcome.waiting += left


def _failed(
    db: sqlite_utils.Database,
    config: AlertsConfig,
    due: list[Any],
    message: str,
    error: str,
    now: datetime,
    outcome: Outcome,
) -> None:
    at = _iso(now)
    with immediate(db):
        for delivery_id, _, attempts in due:
            tries = attempts + 1
            if tries >= config.retry.attempts:
                state, next_at = "failed", at
                outcome.failed += 1
            else:
                state, next_at = "retrying", _iso(now + timedelta(seconds=config.retry.delay(tries)))
                outcome.retrying += 1
            db.execute(
                "UPDATE alert_deliveries SET state = ?, attempts = ?, next_at = ?, last_at = ?, message = ?, "
                "error = ? WHERE id = ?",
                [state, tries, next_at, at, message, error[:2000], delivery_id],
            )


# ---- messages ----------------------------------------------------------------------------------------------------
def _title(found: list[alerts.Alert]) -> str:
    if len(found) == 1:
        a = found[0]
        return f"【{SEVERITY_ZH[a.severity]}】{a.subject}"
    worst = max(found, key=lambda a: ("info", "warning", "critical").index(a.severity))
    return f"【{SEVERITY_ZH[worst.severity]}】adclear：{len(found)} 条告警"


def _when(a: alerts.Alert) -> str:
    when = f"{local(a.raised_at)}（北京时间）"
    if a.count > 1:
        when += f"，共 {a.count} 次，最近 {local(a.last_at)}"
    return when


def _text(found: list[alerts.Alert], config: AlertsConfig) -> str:
    parts = [_title(found)]
    for a in found:
        block = [f"{KIND_ZH.get(a.kind, a.kind)}｜{a.subject}" if len(found) > 1 else "", f"时间：{_when(a)}", a.detail]
        parts.append("\n".join(line for line in block if line))
    if config.web_url:
        parts.append(f"详情：{config.web_url.rstrip('/')}/alerts")
    return "\n\n".join(parts)


def _markdown(found: list[alerts.Alert], config: AlertsConfig) -> str:
    parts = [f"### {_title(found)}"]
    for a in found:
        head = f"**{KIND_ZH.get(a.kind, a.kind)}｜{a.subject}**\n" if len(found) > 1 else ""
        parts.append(f"{head}> 时间：{_when(a)}\n\n{a.detail}")
    if config.web_url:
        parts.append(f"[在告警页查看]({config.web_url.rstrip('/')}/alerts)")
    return "\n\n".join(parts)


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-8 bytes, cut at a character and marked."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 20].decode("utf-8", "ignore") + "\n…（已截断）"


def render(channel: Channel, found: list[alerts.Alert], config: AlertsConfig) -> dict[str, Any]:
    """The JSON body a webhook or robot channel posts for ``found``."""
    if channel.type == "webhook":
        return {
            "source": "adclear",
            "title": _title(found),
            "text": _text(found, config),
            "alerts": [
                {
                    "id": a.id,
                    "kind": a.kind,
                    "severity": a.severity,
                    "subject": a.subject,
                    "detail": a.detail,
                    "raised_at": a.raised_at,
                    "last_at": a.last_at,
                    "count": a.count,
                    "run_id": a.run_id,
                }
                for a in found
            ],  # fmt: skip
        }
    limit = LIMITS[(channel.type, channel.format)]
    if channel.format == "text":
        return {"msgtype": "text", "text": {"content": _cut(_text(found, config), limit)}}
    content = _cut(_markdown(found, config), limit)
    if channel.type == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": content}}
    return {"msgtype": "markdown", "markdown": {"title": _cut(_title(found), 200), "text": content}}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉's signature: Base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def send_message(
    channel: Channel, found: list[alerts.Alert], config: AlertsConfig, *, now: datetime, smtp: SmtpSettings | None
) -> None:
    """Send one message with ``found`` to ``channel``, or ``DeliveryFailed`` saying why."""
    if channel.type == "email":
        if smtp is None:
            raise DeliveryFailed("no mail server: set ADCLEAR_SMTP_HOST and ADCLEAR_SMTP_FROM (docs/operations.md)")
        send(smtp, to=", ".join(channel.to), subject=f"[adclear] {_title(found)}", body=_text(found, config))
        return
    url = channel.url
    if channel.type == "dingtalk" and channel.secret:
        stamp = int(now.timestamp() * 1000)
        url += ("&" if "?" in url else "?") + f"timestamp={stamp}&sign={dingtalk_sign(channel.secret, stamp)}"
    answer = _post(url, render(channel, found, config), channel.timeout)
    if channel.type in ("wecom", "dingtalk"):
        try:
            reply = json.loads(answer)
            code, why = reply.get("errcode"), reply.get("errmsg", "")
        except (ValueError, AttributeError):
            raise DeliveryFailed(f"{_where(channel.url)} answered something that is not a robot's JSON") from None
        if code != 0:
            raise DeliveryFailed(f"{_where(channel.url)} refused the message: errcode {code} {why}".strip())


def _where(url: str) -> str:
    """The receiver without its query (which holds the robot's key or token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _post(url: str, payload: dict[str, Any], timeout: float) -> bytes:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "adclear-alerts/0.1"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # the operator's own receiver
            return bytes(answer.read(65536))
    except urllib.error.HTTPError as e:
        raise DeliveryFailed(f"{_where(url)} answered HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        why = getattr(e, "reason", None) or e
        raise DeliveryFailed(f"cannot reach {_where(url)}: {why}") from None
