"""Search over every ad (decided, clear, waiting): words, contacts, site, dates, label, decision.

A query is read the way an ad is (``classifier.normalize``, ``classifier.contacts``): contacts in it (a phone
written ``138 0013 8000``, with full-width digits or Chinese numerals, ``微信 abc123``, ``QQ 12345``, a URL)
become contact filters on the ``contacts`` table, with the value normalised as the crawl stores it; what is left
is split at spaces into words (a run of single Chinese characters, 保 本 保 息, is one word spelt out), each
normalised alone, every one of which must be in the ad. A word of 3 or more
characters is a trigram query on ``ad_search``; a 2-character word (保本) a token of ``ad_search_pairs``
(core.search_index); a 1-character word is matched with LIKE on the ads the other conditions found (alone, it
reads every ad's text: slow on a large database). Results are newest first, walked in the order of the table
that finds them, so that a page of a common word over a million ads stops at its page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlite_utils

from classifier.contacts import extract_contacts
from classifier.normalize import normalize
from core.db import immediate
from core.errors import AdclearError
from core.search_index import index_pending
from core.timeutil import local
from review.queue import day_in_bounds, first_seen_between

__all__ = ["DECISIONS", "LABELS", "NotAContact", "Parsed", "Query", "ad_rows", "contact_values", "parse", "search"]

LABELS = ("flag", "watch", "clear")
DECISIONS = ("confirmed", "rejected", "undecided")
# a bare number (no 微信/QQ/电话 before it) may be any of these
_NUMBER_KINDS = ("mobile", "qq", "qq_group", "wechat")
_LEFT_OF_CONTACT = re.compile(r"\+?86|微信号?|电话|手机号?|qq群?号?|联系方式|[^\w]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WECHAT_ID = re.compile(r"[a-z][-_a-z0-9]{5,19}")
_LATEST_LABEL = "(SELECT v.label FROM verdicts v WHERE v.ad_id = a.id ORDER BY v.id DESC LIMIT 1)"
AD_FIELDS = ("id", "title", "body", "site", "platform", "author", "first_seen", "posted_at", "status")


class NotAContact(AdclearError):
    """Text given as a contact that reads as none."""


@dataclass(frozen=True, slots=True)
class Query:
    text: str = ""  # words and contacts, as typed
    contact: str = ""  # one contact, as typed
    site: str = ""
    date_from: str = ""  # YYYY-MM-DD, China time, on the ad's first sighting
    date_to: str = ""
    label: str = ""  # the current verdict's: flag, watch, clear
    decision: str = ""  # confirmed, rejected, undecided

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Query:
        """From a query string; values that are not valid are dropped."""

        def text(key: str, size: int = 100) -> str:
            return str(args.get(key, "") or "").strip()[:size]

        return cls(
            text=text("q", 200),
            contact=text("contact"),
            site=text("site"),
            date_from=text("from") if day_in_bounds(text("from")) else "",
            date_to=text("to") if day_in_bounds(text("to")) else "",
            label=text("label") if text("label") in LABELS else "",
            decision=text("decision") if text("decision") in DECISIONS else "",
        )

    def query(self) -> dict[str, str]:
        """As query-string arguments (only the set ones)."""
        names = {"text": "q", "date_from": "from", "date_to": "to"}
        return {names.get(k, k): v for k, v in asdict(self).items() if v}

    @property
    def active(self) -> bool:
        return bool(self.query())


@dataclass(frozen=True, slots=True)
class Parsed:
    """A query as the database is asked: contacts as (kinds, value), words by how they are matched."""

    contacts: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    trigrams: list[str] = field(default_factory=list)  # 3+ characters: ad_search
    pairs: list[str] = field(default_factory=list)  # 2 letters or digits: ad_search_pairs
    scanned: list[str] = field(default_factory=list)  # anything else: LIKE on the candidates

    @property
    def empty(self) -> bool:
        return not (self.contacts or self.trigrams or self.pairs or self.scanned)


def contact_values(text: str) -> list[tuple[tuple[str, ...], str]]:
    """What ``text`` names as contacts: (kinds, normalised value). A bare number may be a mobile, QQ or
    WeChat; a bare ID a WeChat ID. Raises ``NotAContact`` when it reads as none."""
    found = extract_contacts(text)
    if found:
        return [((c.kind,), c.value) for c in found]
    bare = re.sub(r"[\s\-.·]", "", normalize(text).text)
    if bare.isdigit() and 5 <= len(bare) <= 12:
        return [(_NUMBER_KINDS, bare)]
    if _WECHAT_ID.fullmatch(bare):
        return [(("wechat",), bare)]
    raise NotAContact(
        f"{text[:60]!r} reads as no phone, WeChat ID, QQ number or URL: write it as the ad did, "
        "e.g. 138 0013 8000, 微信 abc123, QQ 12345678, http://example.com",
        zh=f"“{text[:60]}”不是电话、微信号、QQ 号或网址：请按广告原样填写，如 138 0013 8000、微信 abc123、QQ 12345678、http://example.com",
    )


def parse(q: Query) -> Parsed:
    """The query's contacts (from its text and its contact field) and its words, sorted by how they match."""
    parsed = Parsed(contacts=contact_values(q.contact) if q.contact else [])
    rest, cut = q.text, 0
    for c in extract_contacts(q.text):
        parsed.contacts.append(((c.kind,), c.value))
        rest = rest[: c.start - cut] + " " + rest[c.end - cut :]
        cut += c.end - c.start - 1
    for word in dict.fromkeys(normalize(w).text for w in _words(rest)):
        if parsed.contacts and _LEFT_OF_CONTACT.fullmatch(word):
            continue  # what the contacts left: a country code, a label, a colon, a dash
        if len(word) >= 3:
            parsed.trigrams.append(word)
        elif len(word) == 2 and word.isalnum():
            parsed.pairs.append(word)
        else:
            parsed.scanned.append(word)
    return parsed


def _words(text: str) -> list[str]:
    """The words of a query: split at spaces, except that a run of single Chinese characters is one word
    spelt out (保 本 保 息 is 保本保息, as normalisation reads it in an ad); each word is normalised alone, so
    that two words are never glued into one."""
    out: list[str] = []
    run = ""
    for token in text.split():
        if len(token) == 1 and _CJK.match(token):
            run += token
            continue
        if run:
            out.append(run)
            run = ""
        out.append(token)
    return [*out, run] if run else out


def _phrases(words: list[str]) -> str:
    """An FTS5 query: every word as a quoted string, all required."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def _like(word: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"


def _contact_in(kinds: tuple[str, ...]) -> str:
    return f"kind IN ({', '.join('?' * len(kinds))}) AND value = ?"


def _filters(q: Query) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if q.site:
        clauses.append("a.site = ?")
        args.append(q.site)
    days, day_args = first_seen_between(q.date_from, q.date_to)
    clauses += days
    args += day_args
    if q.label:
        clauses.append(f"{_LATEST_LABEL} = ?")
        args.append(q.label)
    if q.decision == "undecided":
        clauses.append("a.status NOT IN ('confirmed', 'rejected')")
    elif q.decision:
        clauses.append("a.status = ?")
        args.append(q.decision)
    return clauses, args


def _driver(p: Parsed) -> tuple[str, str, list[str], list[Any], list[tuple[tuple[str, ...], str]]]:
    """The table that finds the candidates (FROM, its id column, its conditions and their arguments), and the
    contacts left to check on them."""
    if p.trigrams:
        return "ad_search s", "s.rowid", ["s.ad_search MATCH ?"], [_phrases(p.trigrams)], p.contacts
    if p.pairs:
        return "ad_search_pairs s", "s.rowid", ["s.ad_search_pairs MATCH ?"], [_phrases(p.pairs)], p.contacts
    if p.contacts:
        (kinds, value), rest = p.contacts[0], p.contacts[1:]
        clause = "c." + _contact_in(kinds).replace("AND value", "AND c.value")
        return "contacts c", "c.ad_id", [clause], [*kinds, value], rest
    return "ads s", "s.id", [], [], []


def search(db: sqlite_utils.Database, q: Query, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """The ads that match ``q``, newest first: ``limit`` of them from ``offset``, each with its contacts.

    Ads stored since the index was last brought up to date (``search_pending``) are indexed first."""
    if db.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone():
        with immediate(db):
            index_pending(db)
    p = parse(q)
    source, ad_id, clauses, args, contacts_left = _driver(p)
    for kinds, value in contacts_left:
        clauses.append(f"a.id IN (SELECT ad_id FROM contacts WHERE {_contact_in(kinds)})")
        args += [*kinds, value]
    for word in (p.pairs if p.trigrams else []) + p.scanned:
        clauses.append("EXISTS (SELECT 1 FROM ad_search x WHERE x.rowid = a.id AND x.text LIKE ? ESCAPE '\\')")
        args.append(_like(word))
    more, more_args = _filters(q)
    where = " AND ".join(clauses + more) or "1"
    sql = (
        f"SELECT DISTINCT {', '.join('a.' + f for f in AD_FIELDS)}, {_LATEST_LABEL} "
        f"FROM {source} JOIN ads a ON a.id = {ad_id} WHERE {where} ORDER BY {ad_id} DESC LIMIT ? OFFSET ?"
    )
    return ad_rows(db, db.execute(sql, [*args, *more_args, limit, offset]).fetchall())


def ad_rows(db: sqlite_utils.Database, rows: list[Any]) -> list[dict[str, Any]]:
    """Rows of ``AD_FIELDS`` and the current label, as the search and entity pages list ads: with their
    contacts, their latest decision and times in China time."""
    out = []
    for row in rows:
        ad = dict(zip((*AD_FIELDS, "label"), row, strict=True))
        ad["first_seen_local"] = local(ad["first_seen"])
        ad["posted_local"] = local(ad["posted_at"])
        ad["excerpt"] = " ".join(ad.pop("body").split())[:80]
        ad["contacts"] = [
            {"kind": k, "value": v}
            for k, v in db.execute("SELECT kind, value FROM contacts WHERE ad_id = ? ORDER BY id", [ad["id"]])
        ]
        dec = db.execute(
            "SELECT decision, category, reviewer, decided_at FROM decisions WHERE ad_id = ? AND reversed_seq IS NULL "
            "ORDER BY id DESC LIMIT 1",
            [ad["id"]],
        ).fetchone()
        ad["decision"] = (
            {"decision": dec[0], "category": dec[1], "reviewer": dec[2], "at": local(dec[3])} if dec else None
        )
        out.append(ad)
    return out
