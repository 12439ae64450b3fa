"""Alerts: what the office must hear about, recorded first, delivered after (``review.alertsend``).

``raise_alert(db, kind, subject, detail, group_key=…, severity=…)`` records one alert. An alert whose
``group_key`` was raised already within the grouping window (alerts.yml ``group_hours``) is not recorded
again: the earlier one counts it (``count``, ``last_at``), so that a site broken for a week alerts once a day,
not once a run. The raisers below build each kind's alert, one per occasion, never one per ad:

- ``run_alert``: a failed or unhealthy crawl run, with the checks that failed (``core.runhealth``);
- ``flags_alert``: the new flags of a run at or above alerts.yml's ``flag_score``, in one message;
- ``overdue_alert``: the takedowns past their deadline (``review.takedowns``), at most once a China day;
- ``reappeared_alert``: ads found again after their takedown;
- ``tip_alert``: a tip (举报线索) received; the tipster is never named in it (条例 Art. 16);
- ``config_alert``: a seeds.yml that cannot be loaded (the scheduler keeps the old one and calls this).

Crawled text (an ad's title) enters an alert only through ``plain``, which cuts it short and replaces what
Markdown or a robot would act on (links, mentions, emphasis) with look-alike characters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlite_utils

from core.db import immediate
from core.runhealth import CHECK_NAMES_ZH
from core.timeutil import now_utc
from review import takedowns
from review.alertconfig import KINDS, SEVERITIES

__all__ = [
    "Alert",
    "Delivery",
    "config_alert",
    "deliveries",
    "flags_alert",
    "get",
    "listing",
    "overdue_alert",
    "plain",
    "raise_alert",
    "reappeared_alert",
    "run_alert",
    "tip_alert",
]

MAX_LINES = 20  # ads or takedowns listed in one alert; the rest are counted
_ACTIVE = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "(": "（", ")": "）", "*": "＊", "_": "＿",
                         "`": "｀", "#": "＃", "@": "＠", "!": "！", "|": "｜", "\\": "＼", "~": "～"})  # fmt: skip


@dataclass(frozen=True)
class Alert:
    id: int
    raised_at: str
    kind: str
    severity: str
    subject: str
    detail: str
    group_key: str | None
    count: int
    last_at: str
    run_id: int | None
    routed_at: str | None


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: int
    channel: str
    state: str  # pending, retrying, sent, failed (given up)
    attempts: int
    next_at: str
    last_at: str | None
    sent_at: str | None
    message: str | None
    error: str


def plain(text: str, limit: int = 60) -> str:
    """Crawled text made inert for a message: one line, at most ``limit`` characters, no Markdown or mention."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return line.translate(_ACTIVE)


def _stamp(now: datetime | None) -> str:
    """``now`` (an injected clock) as stored, else the current time."""
    return now.astimezone(UTC).isoformat(timespec="microseconds") if now is not None else now_utc()


def raise_alert(
    db: sqlite_utils.Database,
    kind: str,
    subject: str,
    detail: str = "",
    *,
    group_key: str | None = None,
    severity: str = "warning",
    run_id: int | None = None,
    group_hours: float = 24.0,
    now: datetime | None = None,
) -> int:
    """Record an alert; its id. Within ``group_hours`` of an alert with the same ``group_key``, that alert is
    counted again instead (its id is returned)."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}: one of {', '.join(KINDS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}: one of {', '.join(SEVERITIES)}")
    at = _stamp(now)
    since = (datetime.fromisoformat(at) - timedelta(hours=group_hours)).isoformat(timespec="microseconds")
    with immediate(db):
        if group_key is not None:
            row = db.execute(
                "SELECT id FROM alerts WHERE group_key = ? AND raised_at >= ? ORDER BY id DESC LIMIT 1",
                [group_key, since],
            ).fetchone()
            if row is not None:
                db.execute("UPDATE alerts SET count = count + 1, last_at = ? WHERE id = ?", [at, row[0]])
                return int(row[0])
        cursor = db.execute(
            "INSERT INTO alerts (raised_at, kind, severity, subject, detail, group_key, last_at, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [at, kind, severity, subject, detail, group_key, at, run_id],
        )
        return int(cursor.lastrowid or 0)


def run_alert(
    db: sqlite_utils.Database,
    run_id: int,
    problems: list[Any],
    *,
    group_hours: float = 24.0,
    now: datetime | None = None,
) -> int | None:
    """One alert for a run whose checks failed (``core.runhealth.Check``s); None when there is none."""
    if not problems:
        return None
    row = db.execute("SELECT site, status, started_at FROM crawl_runs WHERE id = ?", [run_id]).fetchone()
    site, status = (row[0], row[1]) if row else ("?", "?")
    names = sorted(p.name for p in problems)
    severity = "critical" if any(p.severity == "critical" for p in problems) or status == "failed" else "warning"
    word = "失败" if status == "failed" else "异常"
    checks = "、".join(CHECK_NAMES_ZH.get(n, n) for n in names)
    subject = f"抓取{word}：站点 {site}（运行 {run_id}）：{checks}"
    detail = "\n".join(f"- {CHECK_NAMES_ZH.get(p.name, p.name)}：{p.zh or p.message}" for p in problems)
    key = f"run:{site}:{','.join(names)}"
    return raise_alert(db, "run", subject, detail, group_key=key, severity=severity, run_id=run_id,
                       group_hours=group_hours, now=now)  # fmt: skip


def flags_alert(db: sqlite_utils.Database, run_id: int, min_score: float, *, now: datetime | None = None) -> int | None:
    """One alert listing the ads this run found new (or changed) and flagged at ``min_score`` or above."""
    rows = db.execute(
        """SELECT a.id, a.site, a.title, a.url, v.score FROM sightings s
           JOIN ads a ON a.id = s.ad_id JOIN queue q ON q.ad_id = a.id JOIN verdicts v ON v.id = q.verdict_id
           WHERE s.run_id = ? AND s.change IN ('new', 'changed') AND v.label = 'flag' AND v.score >= ?
           ORDER BY v.score DESC, a.id""",
        [run_id, min_score],
    ).fetchall()
    if not rows:
        return None
    site = rows[0][1]
    lines = [f"- 广告 {ad_id}（{score:.1f} 分）{plain(title)}" for ad_id, _, title, _, score in rows[:MAX_LINES]]
    if len(rows) > MAX_LINES:
        lines.append(f"- 另有 {len(rows) - MAX_LINES} 条")
    subject = f"新发现 {len(rows)} 条高分疑似违法集资广告：站点 {site}（运行 {run_id}，{min_score:g} 分以上）"
    severity = "critical" if len(rows) >= 5 else "warning"
    return raise_alert(db, "flags", subject, "\n".join(lines), group_key=f"flags:run:{run_id}", severity=severity,
                       run_id=run_id, now=now)  # fmt: skip


def overdue_alert(db: sqlite_utils.Database, *, today: date | None = None, now: datetime | None = None) -> int | None:
    """One alert listing the takedowns past their deadline; at most one per China day (its group key)."""
    day = today or takedowns.today_in_china(now)
    late = takedowns.listing(db, state="open", overdue=True, today=day)
    if not late:
        return None
    lines = [
        f"- 处置 {t.id}（广告 {t.ad_id}）{t.receiver or '未定接收单位'}，期限 {t.deadline}" for t in late[:MAX_LINES]
    ]
    if len(late) > MAX_LINES:
        lines.append(f"- 另有 {len(late) - MAX_LINES} 条")
    subject = f"{len(late)} 条处置已逾期（{day.isoformat()}）"
    return raise_alert(db, "overdue", subject, "\n".join(lines), group_key=f"overdue:{day.isoformat()}",
                       severity="warning", now=now)  # fmt: skip


def reappeared_alert(
    db: sqlite_utils.Database, found: list[tuple[int, int, int]], *, now: datetime | None = None
) -> int | None:
    """One alert for ads found again after a takedown: (takedown id, original ad id, new ad id) each."""
    if not found:
        return None
    lines = [f"- 处置 {t}：广告 {new} 与已处置的广告 {old} 近似重复，已排在队首" for t, old, new in found[:MAX_LINES]]
    if len(found) > MAX_LINES:
        lines.append(f"- 另有 {len(found) - MAX_LINES} 条")
    key = "reappeared:" + ",".join(str(new) for _, _, new in sorted(found))
    return raise_alert(db, "reappeared", f"{len(found)} 条已处置的广告再现", "\n".join(lines), group_key=key,
                       severity="warning", now=now)  # fmt: skip


def tip_alert(
    db: sqlite_utils.Database, tip_id: int, *, number: str, channel: str, summary: str, now: datetime | None = None
) -> int:
    """A tip (举报线索) received: its number, channel and summary; never who gave it."""
    detail = f"- 线索 {plain(number, 40)}，来源 {plain(channel, 20)}：{plain(summary, 120)}"
    return raise_alert(db, "tip", f"收到举报线索 {plain(number, 40)}", detail, group_key=f"tip:{tip_id}",
                       severity="info", now=now)  # fmt: skip


def config_alert(
    db: sqlite_utils.Database, path: str, message: str, *, group_hours: float = 24.0, now: datetime | None = None
) -> int:
    """A configuration file (seeds.yml) that cannot be loaded; the same message is alerted once per window."""
    digest = hashlib.sha256(f"{path}\n{message}".encode()).hexdigest()[:16]
    return raise_alert(db, "config", f"配置文件有误：{path}（仍按上一版运行）", message, group_key=f"config:{digest}",
                       severity="critical", group_hours=group_hours, now=now)  # fmt: skip


# ---- reading ---------------------------------------------------------------------------------------------------
_ALERT_COLUMNS = "id, raised_at, kind, severity, subject, detail, group_key, count, last_at, run_id, routed_at"
_DELIVERY_COLUMNS = "id, alert_id, channel, state, attempts, next_at, last_at, sent_at, message, error"


def get(db: sqlite_utils.Database, alert_id: int) -> Alert | None:
    row = db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", [alert_id]).fetchone()
    return Alert(*row) if row else None


def listing(db: sqlite_utils.Database, *, limit: int = 100, failed_only: bool = False) -> list[Alert]:
    """The newest alerts first; ``failed_only``: those with a delivery given up."""
    where = "WHERE id IN (SELECT alert_id FROM alert_deliveries WHERE state = 'failed')" if failed_only else ""
    rows = db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts {where} ORDER BY id DESC LIMIT ?", [limit]).fetchall()
    return [Alert(*r) for r in rows]


def deliveries(db: sqlite_utils.Database, alert_ids: list[int]) -> dict[int, list[Delivery]]:
    """The deliveries of each alert, by alert id."""
    out: dict[int, list[Delivery]] = {i: [] for i in alert_ids}
    if not alert_ids:
        return out
    marks = ",".join("?" * len(alert_ids))
    rows = db.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries WHERE alert_id IN ({marks}) ORDER BY channel", alert_ids
    ).fetchall()
    for r in rows:
        out[r[1]].append(Delivery(*r))
    return out
