"""Who is behind the ads: a contact (phone, WeChat, QQ, URL) or an advertiser name, with every ad tied to it.

A promoter reposts one scheme on many sites under many titles but keeps a phone or a WeChat ID; when it
changes its phone, its name or its other contacts carry on. So a contact's page lists every ad that showed it
(any version; the ``contacts`` table), on which site, when, and what was decided, with the advertiser names and
the other contacts those ads showed; an advertiser's page (``ads.author``, exactly as the site showed it) its
ads and every contact they used, first and last seen, so a change of phone shows as one contact ending where
the next begins.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from core.timeutil import local
from review.search import AD_FIELDS, ad_rows, contact_values

__all__ = ["MAX_ADS", "advertiser", "contact", "resolve"]

MAX_ADS = 500  # ads listed on one entity's page, newest first
_DATE = "coalesce(a.posted_at, a.first_seen)"  # an ad's date: posted, else first found
_SELECT = f"SELECT {', '.join('a.' + f for f in AD_FIELDS)}, " + (
    "(SELECT v.label FROM verdicts v WHERE v.ad_id = a.id ORDER BY v.id DESC LIMIT 1)"
)


def _when(ad: dict[str, Any]) -> str:
    """An ad's date: when it says it was posted, else when it was first found."""
    return str(ad["posted_at"] or ad["first_seen"])


def _summary(ads: list[dict[str, Any]]) -> dict[str, Any]:
    sites: dict[str, int] = {}
    for ad in ads:
        sites[ad["site"]] = sites.get(ad["site"], 0) + 1
    decided = [ad for ad in ads if ad["status"] in ("confirmed", "rejected")]
    return {
        "count": len(ads),
        "sites": sites,
        "confirmed": sum(1 for ad in decided if ad["status"] == "confirmed"),
        "rejected": sum(1 for ad in decided if ad["status"] == "rejected"),
        "first_seen": local(min(_when(ad) for ad in ads)) if ads else "",
        "last_seen": local(max(_when(ad) for ad in ads)) if ads else "",
    }


def contact(db: sqlite_utils.Database, kind: str, value: str) -> dict[str, Any]:
    """Every ad that showed the contact (``kind``, normalised ``value``), the advertisers and other contacts."""
    ads = ad_rows(
        db,
        db.execute(
            f"{_SELECT} FROM contacts c JOIN ads a ON a.id = c.ad_id WHERE c.kind = ? AND c.value = ? "
            f"ORDER BY {_DATE} DESC, a.id DESC LIMIT ?",
            [kind, value, MAX_ADS],
        ).fetchall(),
    )
    ids = [ad["id"] for ad in ads]
    marks = ", ".join("?" * len(ids))
    others = [
        {"kind": r[0], "value": r[1], "ads": r[2]}
        for r in db.execute(
            f"SELECT kind, value, count(DISTINCT ad_id) FROM contacts WHERE ad_id IN ({marks}) "
            "AND NOT (kind = ? AND value = ?) GROUP BY kind, value ORDER BY 3 DESC, kind, value",
            [*ids, kind, value],
        )
    ]
    authors: dict[str, int] = {}
    for ad in ads:
        if ad["author"]:
            authors[ad["author"]] = authors.get(ad["author"], 0) + 1
    return {"kind": kind, "value": value, "ads": ads, "others": others, "authors": authors, **_summary(ads)}


def advertiser(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    """Every ad posted under the advertiser name ``name`` and every contact they used, oldest first."""
    ads = ad_rows(
        db,
        db.execute(
            f"{_SELECT} FROM ads a WHERE a.author = ? ORDER BY {_DATE} DESC, a.id DESC LIMIT ?", [name, MAX_ADS]
        ).fetchall(),
    )
    used = [
        {"kind": r[0], "value": r[1], "ads": r[2], "first": local(r[3]), "last": local(r[4])}
        for r in db.execute(
            f"""SELECT c.kind, c.value, count(DISTINCT a.id), min({_DATE}), max({_DATE})
               FROM ads a JOIN contacts c ON c.ad_id = a.id WHERE a.author = ?
               GROUP BY c.kind, c.value ORDER BY min({_DATE}), c.kind, c.value""",
            [name],
        )
    ]
    return {"name": name, "ads": ads, "contacts": used, **_summary(ads)}


def resolve(db: sqlite_utils.Database, text: str) -> tuple[str, str] | None:
    """What ``text`` names: ("author", name) if ads were posted under that exact name, else the first contact
    it reads as that some ad showed, as (kind, value); None if neither. Raises ``NotAContact`` (review.search)
    when it is no advertiser and reads as no contact."""
    name = text.strip()
    if name and db.execute("SELECT 1 FROM ads WHERE author = ? LIMIT 1", [name]).fetchone():
        return ("author", name)
    for kinds, value in contact_values(text):
        for kind in kinds:
            if db.execute("SELECT 1 FROM contacts WHERE kind = ? AND value = ? LIMIT 1", [kind, value]).fetchone():
                return (kind, value)
    return None
