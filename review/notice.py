"""The 交办通知书 / 删除通知 of a dispatch batch: HTML from a template, printed to an A4 PDF by Chromium.

``render_html`` fills ``review/templates/notice.html`` (Jinja2 with autoescaping: every crawled string, the
title and URL of an ad above all, is text, never markup). ``render_pdf`` prints it with Debian's Chromium through
Playwright, the browser the crawler already uses (``/usr/bin/chromium``, never one Playwright downloads), in a
page that may load nothing: the HTML forbids every fetch in its Content-Security-Policy and the page aborts every
request it would make, so a notice can neither leak that it is being printed nor pull in what it did not say.
Fonts are the system's Noto CJK (fonts-noto-cjk, in the Makefile's apt line); the footer numbers the pages
(第 N 页 / 共 M 页); the notice ends with the ledger head at the time it was made, so that a printed copy names
the chain it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM
from core.errors import AdclearError

__all__ = [
    "DEFAULT_CHROMIUM",
    "Notice",
    "NoticeFailed",
    "NoticeItem",
    "render_html",
    "render_pdf",
]

FOOTER = (
    "<div style=\"width:100%;font-size:8pt;text-align:center;font-family:'Noto Sans CJK SC',sans-serif\">"
    '第 <span class="pageNumber"></span> 页 / 共 <span class="totalPages"></span> 页</div>'
)
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)


class NoticeFailed(AdclearError):
    """The notice could not be printed to PDF (no browser, a browser that failed)."""


@dataclass(frozen=True)
class NoticeItem:
    """One ad on the notice."""

    ad_id: int
    url: str
    title: str
    platform: str
    category: str
    legal_basis: str
    evidence_sha256: str
    first_seen: str  # China time, as printed


@dataclass(frozen=True)
class Notice:
    """What a notice says; ``kind`` is 交办通知书 for a department, 删除通知 for a platform."""

    number: str  # 交办单号
    office_name: str
    receiver_name: str
    receiver_kind: str  # platform | department
    deadline: date | None  # None: counted from delivery, printed as "N 个工作日内"
    deadline_days: int
    issued: date
    ledger_seq: int
    ledger_hash: str
    items: tuple[NoticeItem, ...]
    contact: str = ""
    reply_to: str = ""
    legal_bases: tuple[str, ...] = field(default=())

    @property
    def title(self) -> str:
        return "删除通知" if self.receiver_kind == "platform" else "交办通知书"

    @property
    def deadline_text(self) -> str:
        return _chinese_date(self.deadline) if self.deadline else f"收到本通知后{self.deadline_days}个工作日"

    @property
    def issued_text(self) -> str:
        return _chinese_date(self.issued)

    @property
    def basis_summary(self) -> str:
        """The laws the ads break, each named once (a legal basis may list several, separated by ；)."""
        given = self.legal_bases or tuple(i.legal_basis for i in self.items)
        parts = dict.fromkeys(p.strip() for basis in given for p in basis.replace(";", "；").split("；") if p.strip())
        return "、".join(list(parts)[:3]) or "《中华人民共和国广告法》《防范和处置非法集资条例》"


def _chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def render_html(notice: Notice) -> str:
    """The notice as a standalone HTML page (no outside resources), every value escaped."""
    return _ENV.get_template("notice.html").render(n=notice)


def render_pdf(html: str, *, chromium: str = DEFAULT_CHROMIUM, timeout_s: float = 60) -> bytes:
    """``html`` printed to A4 by Chromium, pages numbered in the footer; nothing is fetched while printing."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not Path(chromium).is_file():
        raise NoticeFailed(
            f"cannot print the notice: no Chromium at {chromium}; install Debian's chromium (make system-deps)",
            zh=f"无法打印通知书：{chromium} 处没有 Chromium，请管理员安装",
        )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=list(BASE_ARGS), timeout=timeout_s * 1000)
            try:
                context = browser.new_context(java_script_enabled=False, offline=True, service_workers="block")
                page = context.new_page()
                page.route("**/*", lambda route: route.abort())
                page.set_content(html, wait_until="load", timeout=timeout_s * 1000)
                return page.pdf(
                    format="A4",
                    print_background=True,
                    prefer_css_page_size=True,
                    display_header_footer=True,
                    header_template="<div></div>",
                    footer_template=FOOTER,
                    margin={"top": "22mm", "bottom": "20mm", "left": "18mm", "right": "18mm"},
                )
            finally:
                browser.close()
    except PlaywrightError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NoticeFailed(
            f"cannot print the notice with {chromium}: {first}", zh=f"无法用 {chromium} 打印通知书：{first}"
        ) from None
