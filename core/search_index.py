"""The search index over every ad: its normalised text in SQLite FTS5, kept current as ads are stored.

Two FTS5 tables (m011_search), both keyed by the ad's id as rowid:

- ``ad_search(text)``, tokenizer ``trigram``: the ad's title, text, contact line, the text read in its pictures
  (``ads.pictures``: core/adimages.py) and its advertiser, each through
  ``classifier.normalize`` (full-width digits, spaced or decorated characters, 薇信 → 微信, traditional →
  simplified), so that a query written with the same evasions, normalised the same way, finds it. Trigrams need
  no word segmenter for Chinese and match any substring of 3 characters or more.
- ``ad_search_pairs(pairs)``, tokenizer ``unicode61``, contentless: the distinct pairs of adjacent letters or
  digits of that text, space-separated ("保本保息" → "保本 本保 保息"). A 2-character word (保本, 返利, 原始)
  cannot be a trigram query; here it is one token. 1-character words are matched with LIKE on the ads the other
  words found (review.search).

Keeping it current: triggers on ``ads`` note every new ad and every change of its title, body, contact line,
pictures' text or advertiser in ``search_pending`` (SQL cannot normalise; the pictures since
m017_pictures_search); ``index_ad`` indexes one ad and takes it off the list (``core.adimages.update_ad`` once
its pictures are read; a crawl storing ads one by one), ``index_texts`` a crawl's group of ads at once, before
it commits (``crawler.store``), ``index_pending``
indexes what others wrote (``adclear search`` and the web app's search page call it before they search),
``rebuild`` starts over.
"""

from __future__ import annotations

import json
from typing import Any

from classifier.normalize import normalize
from core.ads import ad_text

__all__ = ["index_ad", "index_pending", "index_texts", "pairs", "rebuild", "search_text", "search_text_of"]


def search_text(title: str, body: str, contact: str, author: str, pictures: str = "") -> str:
    """What the index holds of an ad: its title and its text as the classifier reads them (``core.ads.ad_text``,
    the text read in its pictures included: the crawl finds them normalised already, in ``normalize``'s cache),
    and its advertiser, one per line."""
    return "\n".join(normalize(part).text for part in (*ad_text(title, body, contact, pictures), author) if part)


def search_text_of(normalized: str, title: str, text: str, author: str) -> str:
    """``search_text`` of an ad without pictures from the text as the classifier normalised it (its title, a
    line break, its text: ``RulesOutcome.whole``, which a crawler node sends), normalising only the advertiser."""
    head = normalized[:-1] if title and not text else normalized  # the classifier keeps an empty text's line
    return f"{head}\n{normalize(author).text}" if author else head


def _pictures_column(db: Any) -> str:
    """``pictures``, or '' on a database older than m014_images (m011_search rebuilds the index before it)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(ads)").fetchall()}
    return "pictures" if "pictures" in columns else "''"


def pairs(text: str) -> str:
    """The distinct pairs of adjacent letters or digits of ``text``, space-separated, in order of appearance."""
    seen: dict[str, None] = {}
    for a, b in zip(text, text[1:], strict=False):
        if a.isalnum() and b.isalnum():
            seen.setdefault(a + b, None)
    return " ".join(seen)


def _unindex(db: Any, ad_id: int) -> None:
    row = db.execute("SELECT text FROM ad_search WHERE rowid = ?", [ad_id]).fetchone()
    if row is None:
        return
    db.execute("DELETE FROM ad_search WHERE rowid = ?", [ad_id])
    # a contentless table forgets a row only when told the very tokens it was given
    db.execute(
        "INSERT INTO ad_search_pairs (ad_search_pairs, rowid, pairs) VALUES ('delete', ?, ?)", [ad_id, pairs(row[0])]
    )


def _insert(db: Any, ad_id: int, text: str) -> None:
    db.execute("INSERT INTO ad_search (rowid, text) VALUES (?, ?)", [ad_id, text])
    db.execute("INSERT INTO ad_search_pairs (rowid, pairs) VALUES (?, ?)", [ad_id, pairs(text)])


def index_ad(db: Any, ad_id: int) -> None:
    """(Re)index one ad from its row in ``ads``, and take it off ``search_pending``."""
    row = db.execute("SELECT title, body, contact, author, pictures FROM ads WHERE id = ?", [ad_id]).fetchone()
    _unindex(db, ad_id)
    if row is not None:
        _insert(db, ad_id, search_text(*row))
    db.execute("DELETE FROM search_pending WHERE ad_id = ?", [ad_id])


def index_texts(db: Any, texts: dict[int, str]) -> int:
    """(Re)index ads whose search text the caller made as it stored them (``search_text`` of the row it wrote),
    those still in ``search_pending`` (one indexed since by ``index_ad`` is current already), and take them off
    it; how many. What a crawl stores in one transaction is indexed together, at its end: FTS5 writes what a
    savepoint added as a segment of its own when the savepoint ends."""
    listed = json.dumps(sorted(texts))
    pending = [
        int(row[0])
        for row in db.execute(
            "SELECT ad_id FROM search_pending WHERE ad_id IN (SELECT value FROM json_each(?)) ORDER BY ad_id", [listed]
        )
    ]
    for ad_id in pending:
        _unindex(db, ad_id)
        _insert(db, ad_id, texts[ad_id])
    db.execute("DELETE FROM search_pending WHERE ad_id IN (SELECT value FROM json_each(?))", [json.dumps(pending)])
    return len(pending)


def index_pending(db: Any) -> int:
    """Index every ad noted in ``search_pending``; how many. The caller holds the write transaction."""
    ids = [r[0] for r in db.execute("SELECT ad_id FROM search_pending ORDER BY ad_id").fetchall()]
    for ad_id in ids:
        index_ad(db, ad_id)
    return len(ids)


def rebuild(db: Any) -> int:
    """Empty both tables and index every ad again; how many ads. The caller holds the write transaction."""
    db.execute("DELETE FROM ad_search")
    db.execute("INSERT INTO ad_search_pairs (ad_search_pairs) VALUES ('delete-all')")
    count, last, pictures = 0, 0, _pictures_column(db)
    while True:  # in chunks of ids: a million ads' text need not be in memory at once
        rows = db.execute(
            f"SELECT id, title, body, contact, author, {pictures} FROM ads WHERE id > ? ORDER BY id LIMIT 5000", [last]
        ).fetchall()
        if not rows:
            break
        for ad_id, title, body, contact, author, seen in rows:
            text = search_text(title, body, contact, author, seen)
            _insert(db, ad_id, text)
        count, last = count + len(rows), rows[-1][0]
    db.execute("DELETE FROM search_pending")
    return count
