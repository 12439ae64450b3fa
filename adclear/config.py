"""One way to configure adclear: command-line options, else environment variables, else defaults.

This module (with click, for the options that name an environment variable) is the only place that reads the
environment; the library gets what it needs as arguments: the crawler as Scrapy settings
(``adclear.crawl.crawl_settings``), the review functions as a ``review.settings.ReviewSettings``, the web app in
``app.config``. ``ENVIRONMENT`` lists every variable; docs/operations.md describes them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from core.chromium import DEFAULT_CHROMIUM
from core.db import connect
from core.errors import AdclearError
from core.seeds import Seeds, load_seeds
from review.alertconfig import AlertsConfig, load_alerts_config
from review.mail import SmtpSettings
from review.receivers import Receivers, load_receivers
from review.settings import ReviewSettings

__all__ = ["ENVIRONMENT", "Config", "crawl_overrides", "environment_user", "review_settings", "smtp_settings"]

# Every environment variable adclear reads: what it sets.
ENVIRONMENT = {
    "ADCLEAR_DB": "the database (--db)",
    "ADCLEAR_SEEDS": "seeds.yml (--seeds)",
    "ADCLEAR_RECEIVERS": "receivers.yml, who receives takedowns (--receivers)",
    "ADCLEAR_ALERTS": "alerts.yml, where alerts are sent (--alerts)",
    "ADCLEAR_RULES": "the rule-pack directory (--rules; crawls, reclassification and decisions use it too)",
    "ADCLEAR_USER": "the account deciding or exporting, when --as is not given",
    "ADCLEAR_ANCHOR_URL": "a webhook that receives every ledger head (review.anchors)",
    # crawler settings (Scrapy's, same names), for `adclear crawl`; `scrapy crawl` takes -s NAME=VALUE
    "ADCLEAR_CHROMIUM": "the browser to launch for social sites",
    "ADCLEAR_CHROMIUM_ARGS": "more Chromium switches, space-separated",
    "ADCLEAR_BROWSER_CONTEXTS": "browser contexts at most",
    "ADCLEAR_BROWSER_PAGES": "pages rendered at once per context",
    "ADCLEAR_BROWSER_PAGE_USES": "requests rendered in one page before it is replaced",
    "ADCLEAR_BROWSER_MEMORY_MB": "crawler and browser memory at which a crawl stops",
    "ADCLEAR_RESOLVER": "an import path to a function host -> [addresses] that resolves names",
    "ADCLEAR_TIP_ALLOW_ADDRESSES": "addresses that are not public a tip's URL may reach, space-separated (tips)",
    # delivery of takedown notices by e-mail (`adclear dispatch send`, the web app's 处置 page)
    "ADCLEAR_SMTP_HOST": "the mail server notices are sent through (unset: notices are handed over by hand)",
    "ADCLEAR_SMTP_PORT": "its port (default 25; 587 with STARTTLS)",
    "ADCLEAR_SMTP_FROM": "the From address of notices",
    "ADCLEAR_SMTP_STARTTLS": "1 to upgrade the connection with STARTTLS before logging in",
    "ADCLEAR_SMTP_USER": "the login at the mail server, if it needs one",
    "ADCLEAR_SMTP_PASSWORD": "its password",
}
_CRAWL_TEXT = ("ADCLEAR_CHROMIUM", "ADCLEAR_RESOLVER")
_CRAWL_WORDS = ("ADCLEAR_CHROMIUM_ARGS",)
_CRAWL_NUMBERS = (
    "ADCLEAR_BROWSER_CONTEXTS",
    "ADCLEAR_BROWSER_PAGES",
    "ADCLEAR_BROWSER_PAGE_USES",
    "ADCLEAR_BROWSER_MEMORY_MB",
    # crawler nodes of a distributed crawl (crawler/frontier.py, crawler/node.py; docs/operations.md)
    "ADCLEAR_REDIS_HEARTBEAT",
    "ADCLEAR_REDIS_DEAD_AFTER",
    "ADCLEAR_REDIS_RETRY_SECONDS",
    "ADCLEAR_STREAM_MAX",
)


def crawl_overrides(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The crawler settings the environment sets (``ADCLEAR_CHROMIUM`` …), checked; {} when none is set."""
    out: dict[str, Any] = {}
    for name in _CRAWL_TEXT:
        if environ.get(name):
            out[name] = environ[name]
    for name in _CRAWL_WORDS:
        if environ.get(name):
            out[name] = environ[name].split()
    for name in _CRAWL_NUMBERS:
        value = environ.get(name, "").strip()
        if not value:
            continue
        if not value.isascii() or not value.isdigit():
            raise AdclearError(
                f"${name} must be a whole number, not {value!r}: fix or unset it",
                zh=f"环境变量 ${name} 应为整数，不是“{value}”：请管理员改正或删除",
            )
        out[name] = int(value)
    return out


def environment_user(environ: Mapping[str, str] = os.environ) -> str:
    """``$ADCLEAR_USER``: the account acting when ``--as`` is not given ('' when unset)."""
    return environ.get("ADCLEAR_USER", "")


def review_settings(environ: Mapping[str, str] = os.environ, rules_dir: Path | None = None) -> ReviewSettings:
    """What the review functions need from the environment (``rules_dir``: an option given, else
    ``$ADCLEAR_RULES``)."""
    rules = rules_dir or (Path(environ["ADCLEAR_RULES"]) if environ.get("ADCLEAR_RULES") else None)
    return ReviewSettings(rules_dir=rules, anchor_url=environ.get("ADCLEAR_ANCHOR_URL", "").strip())


def smtp_settings(environ: Mapping[str, str] = os.environ) -> SmtpSettings | None:
    """The mail server notices go through (``$ADCLEAR_SMTP_*``), checked; None when ``$ADCLEAR_SMTP_HOST`` is
    unset (notices are then handed over by hand)."""
    host = environ.get("ADCLEAR_SMTP_HOST", "").strip()
    if not host:
        return None
    sender = environ.get("ADCLEAR_SMTP_FROM", "").strip()
    if "@" not in sender:
        raise AdclearError(
            "$ADCLEAR_SMTP_FROM must be the From address of notices (e.g. chufei@example.gov.cn)",
            zh="环境变量 $ADCLEAR_SMTP_FROM 应为通知书的发件地址（如 chufei@example.gov.cn）：请管理员设置",
        )
    port = environ.get("ADCLEAR_SMTP_PORT", "25").strip() or "25"
    if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise AdclearError(
            f"$ADCLEAR_SMTP_PORT must be a port number, not {port!r}: fix or unset it",
            zh=f"环境变量 $ADCLEAR_SMTP_PORT 应为端口号，不是“{port}”：请管理员改正或删除",
        )
    starttls = environ.get("ADCLEAR_SMTP_STARTTLS", "").strip().lower()
    if starttls not in ("", "0", "1", "no", "yes", "false", "true"):
        raise AdclearError(
            f"$ADCLEAR_SMTP_STARTTLS must be 1 or 0, not {starttls!r}",
            zh=f"环境变量 $ADCLEAR_SMTP_STARTTLS 只能是 1 或 0，不是“{starttls}”：请管理员改正",
        )
    return SmtpSettings(
        host=host,
        sender=sender,
        port=int(port),
        starttls=starttls in ("1", "yes", "true"),
        username=environ.get("ADCLEAR_SMTP_USER", "").strip(),
        password=environ.get("ADCLEAR_SMTP_PASSWORD", ""),
    )


@dataclass
class Config:
    """What every command may use: the database, seeds.yml, and the settings the environment gives."""

    db_path: Path
    seeds_path: Path
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    receivers_path: Path = Path("receivers.yml")
    alerts_path: Path = Path("alerts.yml")

    def db(self) -> sqlite_utils.Database:
        return connect(self.db_path)

    def seeds(self) -> Seeds:
        return load_seeds(self.seeds_path)

    def receivers(self) -> Receivers:
        return load_receivers(self.receivers_path)

    def alerts(self) -> AlertsConfig:
        """alerts.yml, checked; the defaults without channels when there is none."""
        return load_alerts_config(self.alerts_path)

    def smtp(self) -> SmtpSettings | None:
        return smtp_settings(self.environ)

    @property
    def chromium(self) -> str:
        """The browser that prints notices: ``$ADCLEAR_CHROMIUM``, else Debian's."""
        return self.environ.get("ADCLEAR_CHROMIUM", "").strip() or DEFAULT_CHROMIUM

    @property
    def rules_dir(self) -> Path | None:
        """``$ADCLEAR_RULES`` (a command's ``--rules`` wins where it has one); None: the bundled rule packs."""
        value = self.environ.get("ADCLEAR_RULES", "")
        return Path(value) if value else None

    def review_settings(self, rules_dir: Path | None = None) -> ReviewSettings:
        return review_settings(self.environ, rules_dir)

    def crawl_overrides(self) -> dict[str, Any]:
        return crawl_overrides(self.environ)

    @property
    def tip_allowances(self) -> tuple[str, ...]:
        """``$ADCLEAR_TIP_ALLOW_ADDRESSES``: ranges (10.20.0.0/16) or servers a tip's URL may reach although not
        public; none by default."""
        return tuple(self.environ.get("ADCLEAR_TIP_ALLOW_ADDRESSES", "").split())
