"""Canonical URLs: one ad, one URL, whatever tracking parameters a link carried."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

__all__ = ["TRACKING_PARAMS", "canonical_url", "is_crawlable"]

# Parameters that say where a click came from, not which page it is.
TRACKING_PARAMS = ("utm_*", "spm", "from", "ref", "share_from", "fr", "wfr")


def _is_tracking(name: str, drop: tuple[str, ...]) -> bool:
    name = name.lower()
    for pattern in drop:
        if pattern.endswith("*") and name.startswith(pattern[:-1]) or name == pattern:
            return True
    return False


def canonical_url(url: str, drop_params: tuple[str, ...] = ()) -> str:
    """Scheme and host lower-cased, query sorted, fragment and tracking parameters removed."""
    parts = urlsplit(url)
    drop = TRACKING_PARAMS + tuple(drop_params)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k, drop)]
    cleaned = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(cleaned, keep_fragments=False)


def is_crawlable(url: str) -> bool:
    """http(s) only: javascript:, mailto:, data: and friends are never requested."""
    return urlsplit(url).scheme in ("http", "https")
