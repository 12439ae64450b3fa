"""What a takedown export holds, whatever its format: the columns, the filters, the office and the metadata.

``review.export`` reads the rows; ``review.export_text`` (CSV, JSON) and ``review.export_xlsx`` write them.
Times inside a row are UTC ISO 8601 as stored (``None`` when unknown); each writer turns them into China time
its own way (an Excel datetime, ``+08:00`` ISO text).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from classifier.taxonomy import CATEGORIES
from core.errors import AdclearError
from core.timeutil import SHANGHAI
from review import ledger, takedowns

__all__ = [
    "COLUMNS",
    "CONTACT_KINDS",
    "PRINTED",
    "CHECK_RESULTS",
    "Column",
    "ExportError",
    "ExportMeta",
    "Filters",
    "Office",
    "TakedownList",
    "china_time",
]

STATE_LABELS = takedowns.STATES  # requested 待交办 … cancelled 已撤销
# ``--state`` beyond one state: 'open' (any but closed and cancelled), 'all' (cancelled too)
STATE_WORDS = ("open", "all")
OPEN_STATES = takedowns.OPEN_STATES
CHECK_RESULTS = {"removed": "已删除", "online": "仍在线", "unknown": "未果"}
CONTACT_KINDS = {"mobile": "手机", "landline": "固话", "wechat": "微信", "qq": "QQ", "qq_group": "QQ群", "url": "网址"}


class ExportError(AdclearError):
    """An export that cannot be made as asked (a filter that names nothing valid)."""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str  # the Chinese header
    kind: str = "text"  # text, long (wrapped), url, datetime, date, int, hash, flag


PRINTED = 15  # the first columns, those the XLSX prints
COLUMNS: tuple[Column, ...] = (
    # what a regulator acts on first (the XLSX prints these, one A4 page wide) …
    Column("takedown_id", "处置编号", "int"),
    Column("number", "交办单号"),
    Column("receiver", "接收单位"),
    Column("state_label", "处置状态"),
    Column("overdue", "是否逾期", "flag"),
    Column("deadline", "办理期限", "date"),
    Column("platform", "发布平台"),
    Column("title", "广告标题", "long"),
    Column("url", "链接", "url"),
    Column("advertiser", "发布者"),
    Column("contacts_text", "联系方式", "long"),
    Column("category", "涉嫌类型"),
    Column("confirmed_at", "确认时间", "datetime"),
    Column("sightings", "监测条次", "int"),
    Column("check_label", "复核结果"),
    # … then the record behind it
    Column("region", "地区"),
    Column("excerpt", "内容摘要", "long"),
    Column("legal_basis", "法律依据", "long"),
    Column("decision", "审核结论"),
    Column("reason", "审核理由", "long"),
    Column("reviewer", "审核人"),
    Column("takedown_action", "处置方式"),
    Column("first_seen", "首次发现", "datetime"),
    Column("captured_at", "取证时间", "datetime"),
    Column("evidence_sha256", "网页证据SHA-256", "hash"),
    Column("screenshot_sha256", "截图SHA-256", "hash"),
    Column("warc", "证据位置(WARC文件:偏移)", "hash"),
    Column("dispatched_at", "交办时间", "datetime"),
    Column("feedback_result", "反馈结果", "long"),
    Column("feedback_at", "反馈时间", "datetime"),
    Column("checked_at", "复核时间", "datetime"),
    Column("removed_at", "删除时间", "datetime"),
    Column("reappeared_at", "再现时间", "datetime"),
    Column("reappeared_ad_id", "再现广告编号", "int"),
    Column("ad_id", "广告编号", "int"),
    Column("requested_seq", "台账序号", "int"),
    Column("office", "发文单位"),
    Column("exported_at", "导出时间", "datetime"),
)


@dataclass(frozen=True, slots=True)
class Office:
    """The issuing office (seeds.yml ``operator``): its name, short code and area."""

    name: str = ""
    code: str = ""
    region: str = ""


_WHAT_ZH = {"--from": "起始日期", "--to": "截止日期"}  # the filters as a refusal names them


def _day(value: str | date | None, what: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ExportError(
            f"{what} must be a date YYYY-MM-DD, not {value!r}",
            zh=f"{_WHAT_ZH.get(what, what)}应为日期（YYYY-MM-DD），不是“{value}”",
        ) from None


@dataclass(frozen=True, slots=True)
class Filters:
    """Which takedowns an export holds. Days are China days of the confirmation, both ends included; no state
    means every state but cancelled ('all' includes cancelled, 'open' means not closed nor cancelled)."""

    since: date | None = None
    until: date | None = None
    receiver: str | None = None
    platform: str | None = None
    states: tuple[str, ...] = ()
    category: str | None = None

    @classmethod
    def of(
        cls,
        *,
        since: str | date | None = None,
        until: str | date | None = None,
        receiver: str | None = None,
        platform: str | None = None,
        states: Iterable[str] | str | None = None,
        category: str | None = None,
    ) -> Filters:
        """Filters from what a user typed (the command line, a web form): checked, or an ``ExportError``."""
        start, end = _day(since, "--from"), _day(until, "--to")
        if start and end and start > end:
            raise ExportError(
                f"--from {start} is after --to {end}: nothing could match",
                zh=f"起始日期 {start} 晚于截止日期 {end}：请改正日期",
            )
        wanted = tuple(s.strip() for s in ([states] if isinstance(states, str) else states or ()) if s.strip())
        for s in wanted:
            if s not in STATE_LABELS and s not in STATE_WORDS:
                raise ExportError(
                    f"unknown state '{s}'; one of: {', '.join((*STATE_WORDS, *STATE_LABELS))}",
                    zh=f"未知的状态“{s}”，可选：{'、'.join(STATE_LABELS)}",
                )
        category = (category or "").strip() or None
        if category is not None and category not in CATEGORIES:
            raise ExportError(
                f"unknown category '{category}'; one of: {'、'.join(CATEGORIES)}",
                zh=f"未知的类别“{category}”，可选：{'、'.join(CATEGORIES)}",
            )
        return cls(
            since=start,
            until=end,
            receiver=(receiver or "").strip() or None,
            platform=(platform or "").strip() or None,
            states=wanted,
            category=category,
        )

    def state_set(self) -> tuple[str, ...]:
        """The states the rows may be in."""
        if not self.states:
            return tuple(s for s in STATE_LABELS if s != "cancelled")
        if "all" in self.states:
            return tuple(STATE_LABELS)
        chosen: list[str] = []
        for s in self.states:
            for state in OPEN_STATES if s == "open" else (s,):
                if state not in chosen:
                    chosen.append(state)
        return tuple(chosen)

    def utc_bounds(self) -> tuple[str | None, str | None]:
        """The confirmation times the days cover, as stored (UTC ISO): [start, end)."""
        start = _utc_midnight(self.since) if self.since else None
        end = _utc_midnight(date.fromordinal(self.until.toordinal() + 1)) if self.until else None
        return start, end

    def as_dict(self) -> dict[str, Any]:
        """For the metadata: every filter, null where none was given."""
        return {
            "from": self.since.isoformat() if self.since else None,
            "to": self.until.isoformat() if self.until else None,
            "receiver": self.receiver,
            "platform": self.platform,
            "states": list(self.state_set()),
            "category": self.category,
        }

    def describe(self) -> str:
        """One line for people: 确认日期 2027-01-01 至 2027-01-31；接收单位 …"""
        parts = []
        if self.since or self.until:
            parts.append(f"确认日期 {self.since or '…'} 至 {self.until or '…'}")
        if self.receiver:
            parts.append(f"接收单位 {self.receiver}")
        if self.platform:
            parts.append(f"发布平台 {self.platform}")
        parts.append("处置状态 " + "、".join(STATE_LABELS[s] for s in self.state_set()))
        if self.category:
            parts.append(f"涉嫌类型 {self.category}")
        return "；".join(parts)


def _utc_midnight(day: date) -> str:
    return datetime.combine(day, time(), SHANGHAI).astimezone(UTC).isoformat(timespec="microseconds")


def china_time(stamp: str | None) -> datetime | None:
    """A stored UTC time as an aware datetime in Asia/Shanghai (None stays None)."""
    if not stamp:
        return None
    dt = datetime.fromisoformat(stamp)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(SHANGHAI)


@dataclass(frozen=True, slots=True)
class ExportMeta:
    """Who exported what, when, for which office; and the ledger head the rows were read at."""

    office: Office
    exported_at: str  # UTC ISO, as stored
    exported_by: str
    filters: Filters
    head: ledger.Head | None
    rows: int
    today: date  # the China day overdue was counted on

    @property
    def checkpoint(self) -> str:
        """SEQ:HASH for ``adclear ledger verify --checkpoint``."""
        return f"{self.head.seq}:{self.head.hash}" if self.head else f"0:{ledger.GENESIS}"

    def as_dict(self) -> dict[str, Any]:
        when = china_time(self.exported_at)
        return {
            "office": {"name": self.office.name, "code": self.office.code, "region": self.office.region},
            "exported_at": when.isoformat(timespec="seconds") if when else None,
            "exported_by": self.exported_by,
            "filters": self.filters.as_dict(),
            "overdue_as_of": self.today.isoformat(),
            "rows": self.rows,
            "ledger_head": {"seq": self.head.seq if self.head else 0, "hash": self.head.hash if self.head else ""},
            "checkpoint": self.checkpoint,
            "verify": f"adclear ledger verify --checkpoint {self.checkpoint}",
        }


@dataclass(frozen=True)
class TakedownList:
    rows: list[dict[str, Any]]
    meta: ExportMeta

    @property
    def head(self) -> ledger.Head | None:
        return self.meta.head

    def by_platform(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row["platform"]] = counts.get(row["platform"], 0) + 1
        return counts

    def by_receiver(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row["receiver"] or "—"] = counts.get(row["receiver"] or "—", 0) + 1
        return counts
