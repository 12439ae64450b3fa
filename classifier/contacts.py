"""Contacts in ad text: mainland phone numbers, WeChat IDs, QQ numbers and groups, URLs, normalised.

Promoters repost one scheme under many titles but keep their phone number or WeChat ID, so grouping ads by
contact finds what text matching misses. Extraction runs on the normalised text (full-width digits, spaced
digits, 薇信/V信/vx → 微信, Chinese numerals in numbers), and every contact keeps the span of the original text
it came from.

Values are canonical: a mobile number is its 11 digits; a landline ``0AREA-NUMBER``; a WeChat ID lower case; a
QQ number its digits; a URL lower-cased scheme and host, without a trailing slash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifier.normalize import normalize

__all__ = ["Contact", "extract_contacts", "qr_contacts"]

_CN_DIGITS = str.maketrans("零〇一二三四五六七八九幺", "001234567891")
# digits of a phone number may be separated by spaces, dashes or dots ("138 0000 1234", "138-0000-1234")
_SEP = r"[ \-.·]?"
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ \-]?)?(1[3-9](?:" + _SEP + r"[0-9]){9})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(0[1-9][0-9]{1,2})[ \-]?([2-9][0-9]{6,7})(?![0-9])")
_CN_PHONE = re.compile(r"[一幺][三四五六七八九](?:[零〇一二三四五六七八九幺 ]){9,12}")
_WECHAT = re.compile(r"(?:微信|weixin|wechat)(?:号|id)?[ :：是为]*([a-z][-_a-z0-9]{5,19})(?![-_a-z0-9])")
_WECHAT_PHONE = re.compile(r"(?:微信|weixin|wechat)(?:号|id)?(?:同号|同电话|同手机)")
_QQ_GROUP = re.compile(r"qq群(?:号)?[ :：]*([1-9][0-9]{4,11})(?![0-9])")
_QQ = re.compile(r"qq(?!群)(?:号)?[ :：]*([1-9][0-9]{4,11})(?![0-9])")
_URL = re.compile(r"(?:https?://|www\.)[a-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


@dataclass(frozen=True, slots=True)
class Contact:
    kind: str  # mobile, landline, wechat, qq, qq_group, url
    value: str  # canonical
    matched: str  # as written in the original text
    start: int
    end: int


def _digits(text: str) -> str:
    return "".join(ch for ch in text.translate(_CN_DIGITS) if ch.isdigit())


def _canonical_url(url: str) -> str:
    import unicodedata
    from urllib.parse import urlsplit, urlunsplit

    url = unicodedata.normalize("NFKC", url)
    if not url.lower().startswith(("http://", "https://")):
        url = "http://" + url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, "")).rstrip("/")


def extract_contacts(*parts: str) -> list[Contact]:
    """Every contact in the text ``"\n".join(parts)``, in order of appearance, each (kind, value) once.

    Each part is normalised on its own (an ad's title, and its body with its contact line, as the classifier
    reads them: ``normalize`` keeps the last results, so the crawl does not normalise the same text twice);
    a contact does not run from one part into the next. Spans index the joined text.
    """
    found: list[tuple[int, int, str, str, str]] = []  # span in the joined text, kind, value, as written
    offset = 0
    for part in parts:
        found.extend((a + offset, b + offset, kind, value, matched) for a, b, kind, value, matched in _extract(part))
        offset += len(part) + 1
    mobiles = {v for _, _, k, v, _ in found if k == "mobile"}
    out: list[Contact] = []
    seen: set[tuple[str, str]] = set()
    for start, end, kind, value, matched in sorted(found, key=lambda f: (f[0], -(f[1] - f[0]))):
        if kind == "qq" and value in mobiles:  # a QQ number that is also the mobile is not a second contact
            continue
        if (kind, value) in seen:
            continue
        seen.add((kind, value))
        out.append(Contact(kind, value, matched, start, end))
    # "微信同号": the WeChat ID is the mobile number
    if any(_WECHAT_PHONE.search(normalize(part).text) for part in parts):
        for mobile in sorted(mobiles):
            if ("wechat", mobile) not in seen:
                seen.add(("wechat", mobile))
                first = next(c for c in out if c.kind == "mobile" and c.value == mobile)
                out.append(Contact("wechat", mobile, first.matched, first.start, first.end))
    return out


_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]{1,20}://", re.IGNORECASE)


def qr_contacts(payloads: list[str] | tuple[str, ...]) -> list[Contact]:
    """The contacts in the payloads of an ad's QR codes, each (kind, value) once.

    A payload with a scheme (``https://u.wechat.com/…`` a WeChat card, ``https://weixin.qq.com/g/…`` a WeChat
    group, ``https://qm.qq.com/…`` a QQ group, ``weixin://…``) is a ``url`` contact, canonical as in text; any
    other payload is read as text (a phone number, "微信 abc123"). ``matched`` is the payload; the span is
    empty (a QR code is not in the text).
    """
    out: list[Contact] = []
    seen: set[tuple[str, str]] = set()
    for payload in payloads:
        payload = payload.strip()
        if _SCHEME.match(payload):
            found = [("url", _canonical_url(payload) if payload.lower().startswith("http") else _other_url(payload))]
        else:
            found = [(c.kind, c.value) for c in extract_contacts(payload)]
        for kind, value in found:
            if (kind, value) not in seen:
                seen.add((kind, value))
                out.append(Contact(kind, value, payload[:500], 0, 0))
    return out


def _other_url(url: str) -> str:
    """A URL of another scheme (``weixin://``): scheme lower-cased, the rest as written."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.lower()}://{rest}".rstrip("/")


def _extract(text: str) -> list[tuple[int, int, str, str, str]]:
    """The contacts of one part: (start, end) in ``text``, kind, value, as written."""
    norm = normalize(text)
    t = norm.text
    found: list[tuple[int, int, str, str]] = []  # normalised span, kind, value

    for m in _MOBILE.finditer(t):
        found.append((m.start(1), m.end(1), "mobile", _digits(m.group(1))))
    for m in _CN_PHONE.finditer(t):
        digits = _digits(m.group(0))
        if len(digits) == 11 and digits[1] in "3456789":
            found.append((m.start(), m.end(), "mobile", digits))
    for m in _LANDLINE.finditer(t):
        found.append((m.start(), m.end(), "landline", f"{m.group(1)}-{m.group(2)}"))
    for m in _WECHAT.finditer(t):
        found.append((m.start(1), m.end(1), "wechat", m.group(1)))
    for m in _QQ_GROUP.finditer(t):
        found.append((m.start(1), m.end(1), "qq_group", m.group(1)))
    for m in _QQ.finditer(t):
        found.append((m.start(1), m.end(1), "qq", m.group(1)))
    for m in _URL.finditer(t):
        url = m.group(0).rstrip(".,;:!?)'\"")
        value = url if url.startswith("http") else "http://" + url
        found.append((m.start(), m.start() + len(url), "url", value.rstrip("/")))

    out: list[tuple[int, int, str, str, str]] = []
    taken: list[tuple[int, int]] = []
    for a, b, kind, value in sorted(found, key=lambda f: (f[0], -(f[1] - f[0]))):
        if kind == "landline" and any(x <= a < y for x, y in taken):
            continue  # a landline match inside a mobile number
        taken.append((a, b))
        start, end = norm.span(a, b)
        if kind == "url":  # normalisation lower-cases; a path keeps its case
            value = _canonical_url(text[start:end])
        out.append((start, end, kind, value, text[start:end]))
    return out
