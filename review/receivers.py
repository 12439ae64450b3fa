"""receivers.yml: who receives a takedown (接收单位) and by when, chosen by rules per site, platform or region.

A receiver is a platform's operator or a department (市场监管局, 网信办, 处非办 …) with an e-mail address for
notices and a deadline in working days (default 7: Art. 53 of the Advertising Law). Routes pick the receiver of
an ad: a route for its site wins over one for its platform, which wins over one for its region; ``default``
takes the rest. Like seeds.yml, the file is read with ``classifier.yamlsource`` so that every problem names
the line and the fix (``receivers.yml line 9: routes[1]: unknown key 'platfrom'; did you mean 'platform'?``),
and a route naming a receiver that is not defined is refused when the file loads, not when an ad is dispatched.
The reference is docs/receivers.md.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from classifier.yamlsource import Located
from core.errors import AdclearError, one_line
from core.yamlfiles import read_located
from review.workdays import NO_EXTRA_YEARS, WorkCalendar, YearDays

__all__ = [
    "DEFAULT_DEADLINE_DAYS",
    "Receiver",
    "Receivers",
    "ReceiversInvalid",
    "Route",
    "UnknownReceiver",
    "load_receivers",
]

DEFAULT_DEADLINE_DAYS = 7  # 《广告法》第五十三条: a complaint is handled within 7 working days


class ReceiversInvalid(AdclearError):
    """receivers.yml does not describe valid receivers and routes."""


class UnknownReceiver(AdclearError):
    """A receiver key that receivers.yml does not define, or an ad that no route covers."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Receiver(_Model):
    """One 接收单位: a platform's operator or a department."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")  # what routes and `--receiver` name
    name: str = Field(min_length=1, max_length=200)  # 接收单位, as printed on the notice
    kind: Literal["platform", "department"]
    email: str = ""  # where notices are e-mailed; '' = handed over by hand
    deadline_days: int = Field(DEFAULT_DEADLINE_DAYS, ge=1, le=60)  # working days after delivery
    contact: str = ""  # a person or telephone number printed on the notice

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if v and (v.count("@") != 1 or not v.isascii() or any(c.isspace() or c in "<>,;\"'" for c in v)):
            raise ValueError(f"'{v}' is not an e-mail address such as takedown@example.com")
        return v


class Route(_Model):
    """Ads of one site, one platform or one region go to ``receiver``."""

    site: str | None = None
    platform: str | None = None
    region: str | None = None
    receiver: str

    @model_validator(mode="after")
    def _one_match(self) -> Route:
        given = [k for k in ("site", "platform", "region") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a route matches exactly one of site, platform or region (write one route per match)")
        return self


@dataclass(frozen=True)
class Receivers:
    """The loaded file: receivers by key, routes, the default receiver; ``path`` for messages."""

    receivers: dict[str, Receiver]
    routes: tuple[Route, ...]
    default: str | None
    path: Path
    calendar: WorkCalendar = dataclasses.field(default=NO_EXTRA_YEARS)  # years of holidays the office wrote down itself

    def get(self, key: str) -> Receiver:
        """The receiver ``key``; ``UnknownReceiver`` naming the known ones otherwise."""
        found = self.receivers.get(key)
        if found is None:
            hint = difflib.get_close_matches(key, list(self.receivers), n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else f"known: {', '.join(sorted(self.receivers))}"
            raise UnknownReceiver(
                f"no receiver '{key}' in {self.path}; {fix}",
                zh=f"{self.path} 中没有接收单位“{key}”："
                + (f"是否为“{hint[0]}”？" if hint else f"现有：{'、'.join(sorted(self.receivers))}"),
            )
        return found

    def route(self, *, site: str, platform: str, region: str) -> Receiver:
        """The receiver of an ad on ``site`` (of ``platform``, in ``region``): site, then platform, then region
        routes, then ``default``; ``UnknownReceiver`` when none applies."""
        for field in ("site", "platform", "region"):
            value = {"site": site, "platform": platform, "region": region}[field]
            for route in self.routes:
                if value and getattr(route, field) == value:
                    return self.receivers[route.receiver]
        if self.default:
            return self.receivers[self.default]
        raise UnknownReceiver(
            f"no route in {self.path} for site '{site}' (platform {platform or '-'}, region {region or '-'}): "
            "add a route for it or a default receiver (docs/receivers.md)",
            zh=f"{self.path} 中没有适用于网站“{site}”的路由：请管理员添加路由或默认接收单位",
        )


def _days(items: list[date | str], year: int, what: str) -> frozenset[date]:
    """``2027-02-06`` or a range ``2027-02-06..2027-02-13``, every day within ``year``."""
    out: set[date] = set()
    for given in items:
        item = given.isoformat() if isinstance(given, date) else given
        first, sep, last = item.partition("..")
        try:
            a = date.fromisoformat(first.strip())
            b = date.fromisoformat(last.strip()) if sep else a
        except ValueError:
            raise ValueError(f"{what}: '{item}' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD") from None
        if a.year != year or b.year != year or b < a:
            raise ValueError(f"{what}: '{item}' is not within {year}, first day first")
        out.update(a + timedelta(days=i) for i in range((b - a).days + 1))
    return frozenset(out)


class _Year(_Model):
    holidays: list[date | str] = []  # days off: 法定节假日 and the days joined to them, as the notice lists them
    workdays: list[date | str] = []  # weekend days worked (调休上班)


class _File(_Model):
    version: Literal[1] = 1
    receivers: list[Receiver] = Field(min_length=1)
    routes: list[Route] = []
    default: str | None = None
    calendar: dict[int, _Year] = {}  # a year's State Council holiday notice, before chinesecalendar has it

    def work_calendar(self) -> WorkCalendar:
        years = {}
        for year, spec in self.calendar.items():
            days = YearDays(_days(spec.holidays, year, "holidays"), _days(spec.workdays, year, "workdays"))
            if days.holidays & days.workdays:
                raise ValueError(f"{min(days.holidays & days.workdays)} is both a holiday and a working day")
            years[year] = days
        return WorkCalendar(years)

    @model_validator(mode="after")
    def _keys(self) -> _File:
        keys = [r.key for r in self.receivers]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"two receivers have the key '{key}': give each its own")
        return self


def load_receivers(path: str | Path) -> Receivers:
    """Load and validate receivers.yml; ``ReceiversInvalid`` naming the file, the line and the fix."""
    path = Path(path)
    if not path.exists():
        raise ReceiversInvalid(
            f"{path}: no such file; create it (see docs/receivers.md) or pass --receivers PATH",
            zh=f"找不到 {path}：请管理员创建接收单位配置文件",
        )
    located = read_located(path, ReceiversInvalid)
    if not isinstance(located.data, dict):
        raise ReceiversInvalid(
            f"{path} line 1: expected a mapping with 'receivers:' at the top",
            zh=f"{path} 第 1 行有误：文件开头应为“receivers:”",
        )
    try:
        parsed = _File.model_validate(located.data)
    except ValidationError as e:
        raise _invalid(_describe(path, located, e)) from None
    known = {r.key: r for r in parsed.receivers}
    for i, route in enumerate(parsed.routes):
        if route.receiver not in known:
            raise _invalid(_unknown(path, located, ("routes", i, "receiver"), route.receiver, known))
    if parsed.default is not None and parsed.default not in known:
        raise _invalid(_unknown(path, located, ("default",), parsed.default, known))
    try:
        calendar = parsed.work_calendar()
    except ValueError as e:
        raise _invalid(f"{path} line {located.line_of(('calendar',))}: calendar: {e}") from None
    return Receivers(known, tuple(parsed.routes), parsed.default, path, calendar)


def _invalid(problem: str) -> ReceiversInvalid:
    """receivers.yml refused: the problem as written for the file's editor, in both languages' frame."""
    text = one_line(problem)
    return ReceiversInvalid(text, zh=f"接收单位配置文件有误，请管理员按 docs/receivers.md 修改：{text}")


def _unknown(path: Path, located: Located, loc: tuple[Any, ...], key: str, known: dict[str, Receiver]) -> str:
    hint = difflib.get_close_matches(key, list(known), n=1)
    fix = f"did you mean '{hint[0]}'?" if hint else f"defined: {', '.join(known)}"
    return f"{path} line {located.line_of(loc)}: {_where(loc)}: no receiver '{key}' is defined; {fix}"


_MODELS: dict[str, type[BaseModel]] = {"receivers": Receiver, "routes": Route}


def _describe(path: Path, located: Located, error: ValidationError) -> str:
    errors = error.errors(include_url=False)
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")  # a typo'd key explains a "missing" one
    err = errors[0]
    loc = tuple(err["loc"])
    line = located.line_of(loc)
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        model = _MODELS.get(str(loc[0])) if len(loc) > 2 else _File
        known = list(model.model_fields) if model else []
        hint = difflib.get_close_matches(key, known, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(known)}"
        return f"{path} line {line}: {_where(loc[:-1])}: unknown key '{key}'; {fix}"
    if err["type"] == "missing":
        return f"{path} line {line}: {_where(loc[:-1])}: '{loc[-1]}' is missing; add it (see docs/receivers.md)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch":
        msg = "a receiver key is lower-case letters, digits, '-' and '_' (e.g. demo-platform)"
    return f"{path} line {line}: {_where(loc)}: {msg}"


def _where(loc: tuple[Any, ...]) -> str:
    """``routes[1].receiver`` for a location inside the file."""
    text = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in loc).lstrip(".")
    return text or "top level"
