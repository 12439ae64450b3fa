"""alerts.yml: where alerts go (webhooks, 企业微信 and 钉钉 group robots, e-mail), how often, and what counts.

Like seeds.yml and receivers.yml the file is read with ``classifier.yamlsource``, so that every problem names the
line and the fix (``alerts.yml line 7: channels[1]: unknown key 'secert'; did you mean 'secret'?``). A missing
file is no error: alerts are still recorded and shown in the web app, and nothing is sent (``AlertsConfig()``).
The file holds robot keys and signing secrets: keep it readable by the service's account only. The reference is
docs/alerts.md.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from classifier.yamlsource import Located
from core.errors import AdclearError, one_line
from core.yamlfiles import read_located

__all__ = ["KINDS", "SEVERITIES", "AlertsConfig", "AlertsInvalid", "Channel", "Retry", "load_alerts_config"]

# what an alert can be about (review.alerts raises each)
KINDS = ("run", "flags", "overdue", "reappeared", "tip", "config", "test")
SEVERITIES = ("info", "warning", "critical")


class AlertsInvalid(AdclearError):
    """alerts.yml does not describe valid channels and limits."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Channel(_Model):
    """One place alerts are sent to."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    type: Literal["webhook", "wecom", "dingtalk", "email"]
    url: str = ""  # webhook, wecom, dingtalk: where to POST
    secret: str = ""  # dingtalk: the robot's signing secret (加签, SEC…)
    format: Literal["markdown", "text"] = "markdown"  # wecom, dingtalk: the robot's msgtype
    to: list[str] = []  # email: the addresses
    kinds: list[Literal["run", "flags", "overdue", "reappeared", "tip", "config", "test"]] = []  # [] = every kind
    min_severity: Literal["info", "warning", "critical"] = "info"
    timeout: float = Field(default=10.0, gt=0, le=120)  # seconds a receiver may take to answer

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"'{v}' is not an http(s) URL")
        return v

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for address in v:
            if address.count("@") != 1 or not address.isascii() or any(c.isspace() or c in "<>,;\"'" for c in address):
                raise ValueError(f"'{address}' is not an e-mail address such as ops@example.gov.cn")
        return v

    @model_validator(mode="after")
    def _needs(self) -> Channel:
        if self.type == "email":
            if not self.to:
                raise ValueError("an email channel needs 'to': the addresses alerts are sent to")
        elif not self.url:
            raise ValueError(f"a {self.type} channel needs 'url': the address messages are posted to")
        if self.secret and self.type != "dingtalk":
            raise ValueError("'secret' signs 钉钉 messages only: remove it or make the channel type dingtalk")
        return self

    def wants(self, kind: str, severity: str) -> bool:
        """Whether an alert of ``kind`` and ``severity`` goes to this channel."""
        if self.kinds and kind not in self.kinds:
            return False
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)


class Retry(_Model):
    attempts: int = Field(default=5, ge=1, le=50)  # tries of one delivery before it is given up (failed)
    backoff: float = Field(default=60.0, ge=0, le=86_400)  # seconds before the first retry; doubled after each failure
    max_backoff: float = Field(default=3600.0, ge=0, le=7 * 86_400)

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed try."""
        return min(self.backoff * 2 ** max(attempts - 1, 0), self.max_backoff)


class AlertsConfig(_Model):
    """The whole of alerts.yml (the defaults when there is none)."""

    version: Literal[1] = 1
    flag_score: float = Field(default=8.0, ge=0)  # new flags at or above this score are alerted, one message per run
    group_hours: float = Field(default=24.0, ge=0, le=24 * 90)  # the same problem again within this: counted, not sent
    rate_limit: int = Field(default=20, ge=1, le=10_000)  # messages per channel and hour; beyond it they wait and group
    per_message: int = Field(default=10, ge=1, le=100)  # alerts due together on a channel go out in one message
    web_url: str = ""  # the web app's address, linked from messages (e.g. https://adclear.example.gov.cn/)
    retry: Retry = Retry()
    channels: list[Channel] = []

    @model_validator(mode="after")
    def _unique(self) -> AlertsConfig:
        names = [c.name for c in self.channels]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two channels are named '{name}': give each its own name")
        return self

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)


def load_alerts_config(path: str | Path, *, missing_ok: bool = True) -> AlertsConfig:
    """Load and validate alerts.yml; ``AlertsInvalid`` naming the file, the line and the fix. A missing file:
    the defaults without channels (``missing_ok``), else ``AlertsInvalid``."""
    path = Path(path)
    if not path.exists():
        if missing_ok:
            return AlertsConfig()
        raise AlertsInvalid(f"{path}: no such file; create it (see docs/alerts.md) or pass --alerts PATH")
    located = read_located(path, AlertsInvalid)
    if located.data is None:
        return AlertsConfig()
    if not isinstance(located.data, dict):
        raise AlertsInvalid(f"{path} line 1: expected a mapping with 'channels:' at the top")
    try:
        return AlertsConfig.model_validate(located.data)
    except ValidationError as e:
        raise AlertsInvalid(one_line(_describe(path, located, e))) from None


_MODELS: dict[str, type[BaseModel]] = {"channels": Channel, "retry": Retry}


def _describe(path: Path, located: Located, error: ValidationError) -> str:
    """The first problem as one line: the file, the line, where, what to do."""
    errors = sorted(error.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = tuple(err["loc"])
    where = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in loc[:-1]).lstrip(".") or "top level"
    prefix = f"{path} line {located.line_of(loc)}"
    if err["type"] == "extra_forbidden":
        model: Any = _MODELS.get(str(loc[0]), AlertsConfig) if len(loc) > 1 else AlertsConfig
        known = list(model.model_fields)
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(known)}"
        return f"{prefix}: {where}: unknown key '{loc[-1]}'; {fix}"
    if err["type"] == "missing":
        return f"{prefix}: {where}: '{loc[-1]}' is missing; add it (see docs/alerts.md)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch":
        msg = "a channel name is lower-case letters, digits, '-' and '_' (e.g. ops-wecom)"
    full = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in loc).lstrip(".") or "top level"
    return f"{prefix}: {full}: {msg}"
