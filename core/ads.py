"""What an ad is to every part of adclear: its key, its content hash, and the text the classifier reads.

An ad is identified by its canonical URL; an ad with no URL of its own (a native ad slot in a list page) by the
page URL and the first 16 hex digits of the hash of its text. The content hash decides whether an ad changed:
its title, body and contact line with whitespace collapsed (the text read in its pictures is not part of it: it
is read beside the crawl or after it, docs/images.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["PICTURES_SEPARATOR", "AdText", "ad_key", "ad_text", "content_hash"]


def content_hash(title: str, body: str, contact: str) -> str:
    """What decides whether an ad changed: its text with whitespace collapsed."""
    text = "\x1f".join(" ".join(part.split()) for part in (title, body, contact))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ad_key(url: str, chash: str, *, in_slot: bool = False) -> str:
    """The key an ad is stored under: its URL, or for an ad slot the page URL and its content hash."""
    return f"{url}#{chash[:16]}" if in_slot else url


PICTURES_SEPARATOR = "\n\n"  # between an ad's own text and the text read in its pictures


def ad_text(title: str, body: str, contact: str, pictures: str = "") -> tuple[str, str]:
    """What the classifier reads of an ad: its title, and its body followed by its contact line and the text
    read in its pictures (``ads.pictures``: core.adimages), after ``PICTURES_SEPARATOR``."""
    text = body if not contact else f"{body}\n{contact}"
    if pictures:
        text = f"{text}{PICTURES_SEPARATOR}{pictures}"
    return title, text


@dataclass(frozen=True, slots=True)
class AdText:
    """An ad as the classifier reads it (``ad_text``); ``url`` goes into the verdict's record only."""

    title: str
    text: str
    url: str = ""

    @classmethod
    def of(cls, title: str, body: str, contact: str, url: str = "", pictures: str = "") -> AdText:
        return cls(*ad_text(title, body, contact, pictures), url)
