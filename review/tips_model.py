"""What a public tip (举报线索) is: its record, its labels, its number and how its tipster is masked.

``review.tips`` takes a tip through its steps and re-exports all of this; the record is kept apart so that the
steps stay a room of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import AdclearError
from review.dispatch import Office

__all__ = [
    "CHANNELS",
    "FETCH_OUTCOMES",
    "RESULTS",
    "STATES",
    "Setup",
    "Tip",
    "TipError",
    "mask_name",
    "mask_phone",
    "tip_number",
]

CHANNELS = {"phone": "电话", "letter": "信函", "email": "电子邮件", "web": "网络", "visit": "来访", "other": "其他"}
STATES = {"received": "已受理", "verifying": "核查中", "verified": "属实", "unfounded": "不属实"}
RESULTS = ("verified", "unfounded")  # what 核查 finds
FETCH_OUTCOMES = {"fetched": "已抓取", "refused": "已拒绝", "failed": "未抓到"}


class TipError(AdclearError):
    """A tip that cannot be entered or moved on as asked."""


@dataclass(frozen=True)
class Setup:
    """What the web app needs from the deployment for tips, passed down by the command line (``app.config``)."""

    office: Office
    precheck: Callable[[str], AdclearError | None] | None = None  # why a URL may not be fetched (None: it may)
    start_fetch: Callable[[str], None] | None = None  # fetch a tip's URL in the background, given its number


@dataclass(frozen=True, slots=True)
class Tip:
    id: int
    number: str
    office: str
    year: int | None  # None for a row written without them (its number is what counts)
    serial: int | None
    received_at: str
    channel: str
    summary: str
    url: str | None
    region: str
    tipster_name: str
    tipster_phone: str
    tipster_other: str
    entered_by: str
    state: str
    ad_id: int | None
    fetch_outcome: str | None
    fetch_detail: str
    verified_at: str | None
    verify_note: str
    feedback_at: str | None
    feedback_text: str | None
    closed_at: str | None
    updated_at: str

    @property
    def channel_label(self) -> str:
        return CHANNELS.get(self.channel, self.channel)

    @property
    def state_label(self) -> str:
        return STATES.get(self.state, self.state) + ("（已办结）" if self.closed_at else "")

    @property
    def fetch_label(self) -> str:
        return FETCH_OUTCOMES.get(self.fetch_outcome or "", "")

    def tipster(self, *, reveal: bool) -> dict[str, str]:
        """The tipster as one may see them: in full (supervisors, admins) or masked (reviewers)."""
        if reveal:
            return {"name": self.tipster_name, "phone": self.tipster_phone, "other": self.tipster_other}
        return {
            "name": mask_name(self.tipster_name),
            "phone": mask_phone(self.tipster_phone),
            "other": "***" if self.tipster_other else "",
        }


def tip_number(office: str, year: int, serial: int) -> str:
    """``〔2026〕SFX线字第0001号``."""
    return f"〔{year}〕{office}线字第{serial:04d}号"


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the surname only."""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678; a short number keeps its last two digits."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return "***" if phone.strip() else ""
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]  # +86: the country code
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(len(digits) - 2, 1) + digits[-2:]
