"""The web app's two languages: every string it shows, in Chinese (the default) and English.

The strings are data in ``review.web.strings``. Templates call ``_('key', **values)``; Python calls
``t('key', **values)``. A key missing in English falls back to Chinese; a key missing altogether shows
``default`` (or the key). A refusal from the library (an ``AdclearError``) is shown with ``error_text(e)``: its
Chinese (``zh=``, core/errors.py) on a Chinese page, its English message on an English one or when it has no
Chinese. Category and reject-reason names are data (they go into the ledger in Chinese):
English pages show them in Chinese with a gloss.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, g, session

from classifier.taxonomy import EXCULPATORY, SIGNALS, text_kind
from classifier.verdict import rule_feature_name
from core.reasons import (
    RUN_WORDS,
    delivery_error_zh,
    fetch_detail_zh,
    model_error_zh,
    recheck_detail_zh,
    run_reason_zh,
)
from core.timeutil import local
from review.users import has_role
from review.web.strings import CATEGORY_EN, SHORTCUTS, STRINGS

__all__ = ["LANGUAGES", "PUNCTUATION", "SHORTCUTS", "STRINGS", "error_text", "install", "punct", "t"]

LANGUAGES = {"zh": "中文", "en": "English"}

# Punctuation between the parts a template or a message puts together (a label and its value, a list, an aside),
# as each language writes it: full-width in Chinese, ASCII with its spaces in English. Templates read it as ``P``
# (``{{ _('ad.author') }}{{ P.colon }}…``); Python code through ``punct()``.
PUNCTUATION: dict[str, dict[str, str]] = {
    "zh": {
        "colon": "：",
        "comma": "，",
        "semi": "；",
        "list": "、",
        "open": "（",
        "close": "）",
        "lbr": "【",
        "rbr": "】",
        "to": " 至 ",
    },
    "en": {
        "colon": ": ",
        "comma": ", ",
        "semi": "; ",
        "list": ", ",
        "open": " (",
        "close": ")",
        "lbr": " [",
        "rbr": "]",
        "to": " to ",
    },
}


def _lang() -> str:
    lang = getattr(g, "lang", None)
    if lang is None:
        lang = session.get("lang", "zh") if session else "zh"
        g.lang = lang if lang in LANGUAGES else "zh"
    return g.lang


# A count and its noun in an English string: "{n|ad}" is "1 ad" or "2 ads", "{n|entry|entries}" names the plural.
_PLURAL = re.compile(r"\{(\w+)\|(\w+)(?:\|(\w+))?\}")


def t(key: str, default: str | None = None, **values: Any) -> str:
    pair = STRINGS.get(key)
    if pair is None:
        text = default if default is not None else key
    else:
        text = pair[1] if _lang() == "en" and pair[1] else pair[0]
    if "|" in text:
        text = _PLURAL.sub(lambda m: _counted(values[m[1]], m[2], m[3]), text)
    return text.format(**values) if values else text


def _counted(count: Any, one: str, many: str | None) -> str:
    noun = one if str(count) == "1" else many or one + "s"
    return f"{count} {noun}".replace("{", "{{").replace("}", "}}")  # formatted once more with the other values


def punct() -> dict[str, str]:
    """The punctuation of this reader's language (``PUNCTUATION``)."""
    return PUNCTUATION[_lang()]


def error_text(error: BaseException) -> str:
    """What a refusal says to this reader: its Chinese on a Chinese page, else (or without one) its message."""
    zh = getattr(error, "zh", None)
    return zh if zh and _lang() == "zh" else str(error)


def category(name: str) -> str:
    if _lang() == "en" and name in CATEGORY_EN:
        return f"{name} ({CATEGORY_EN[name]})"
    return name


def reason(name: str) -> str:
    pair = STRINGS.get(f"reason.{name}")
    if _lang() == "en" and pair:
        return f"{name} ({pair[1]})"
    return name


_RECORDED = {
    "run": run_reason_zh,
    "fetch": fetch_detail_zh,
    "recheck": recheck_detail_zh,
    "delivery": delivery_error_zh,
    "model": model_error_zh,
}


def recorded(text: str | None, kind: str) -> str:
    """A reason our code recorded in English (``kind``: a crawl run's, a tip's fetch, a re-check's, a failed
    delivery's, an unused model's) as this reader reads it: in Chinese on a Chinese page where ``core.reasons``
    knows its pattern, else as recorded (a run's reason that is a word, closespider_timeout, in plain English).
    The template keeps the recorded text in a title."""
    if not text:
        return ""
    if _lang() == "en":
        return (RUN_WORDS.get(text, ("", ""))[1] or text) if kind == "run" else text
    return _RECORDED[kind](text) or text


def hit_what(hit: dict[str, Any]) -> str:
    kind = hit.get("kind", "signal")
    if kind == "category":
        return t("h.category", name=category(hit["name"]))
    labels = SIGNALS if kind == "signal" else EXCULPATORY
    name = labels.get(hit["name"], (hit["name"],))[0]
    return t(f"h.{kind}", name=name)


def rule_feature(name: str) -> str:
    """A rule feature the learned scorer weighed (``features.RULE_FEATURES``) in this reader's language: a signal
    or cue as the hits table names it, a total of the rules in words."""
    if _lang() != "en":
        return rule_feature_name(name)
    cue = name.removeprefix("cue.")
    if cue != name:
        return t("h.signal" if cue in SIGNALS else "h.exculpatory", name=rule_feature_name(name))
    pair = STRINGS.get(f"rf.{name}")
    return pair[1] if pair else name


def detail_items(detail: Any, action: str = "") -> list[tuple[str, str]]:
    """An audit entry's details as (label, text) a reader can follow: keys named in the page's language (as the
    entry's ``action`` names them where a key means something else there: a campaign's "to" is its last day,
    an e-mail's its recipient), lists joined, nothing escaped to ``\\uXXXX`` (the template escapes for HTML)."""
    if not isinstance(detail, dict):
        return [("", _plain(detail))]
    return [(_detail_key(str(key), action), _plain(value)) for key, value in detail.items()]


def _detail_key(key: str, action: str) -> str:
    own = f"detail.{action}.{key}"
    return t(own) if action and own in STRINGS else t(f"detail.{key}", default=key)


def _plain(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return t("detail.yes") if value else t("detail.no")
    if isinstance(value, list | tuple):
        return punct()["list"].join(_plain(v) for v in value)
    if isinstance(value, dict):
        p = punct()
        return p["semi"].join(f"{t(f'detail.{k}', default=str(k))}{p['colon']}{_plain(v)}" for k, v in value.items())
    return str(value)


def age(seconds: int | None) -> str:
    """How long ago, briefly, in the reader's language: 35分钟, 5小时, 3天 / 35 min, 5 h, 3 d ('' without)."""
    if seconds is None:
        return ""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size or unit == "minute":
            return t(f"age.{unit}", n=seconds // size)
    return ""


def install(app: Flask) -> None:
    """The template globals (``_``, the language, who is logged in) and the ``localtime`` filter;
    ``csrf_token`` is ``review.web.security``'s."""

    @app.context_processor
    def _globals() -> dict[str, Any]:
        session_ = getattr(g, "web_session", None)
        me = session_.user if session_ else None
        return {
            "_": t,
            "cat": category,
            "text_kind": lambda kind: text_kind(str(kind), english=_lang() == "en"),
            "reason": reason,
            "recorded": recorded,
            "hit_what": hit_what,
            "rule_feature": rule_feature,
            "detail_items": detail_items,
            "lang": _lang(),
            "P": punct(),
            "languages": LANGUAGES,
            "me": me,
            "is_supervisor": bool(me and has_role(me.role, "supervisor")),
            "is_admin": bool(me and has_role(me.role, "admin")),
            "shortcuts": SHORTCUTS,
        }

    app.jinja_env.filters["localtime"] = lambda stamp, fmt="%Y-%m-%d %H:%M": local(stamp, fmt)
    app.jinja_env.filters["age"] = age
