"""Everything a reviewer sees about one ad, gathered for the CLI and the web app.

``ad_detail``: the ad itself, its current verdict explained, its evidence, its decisions and who holds it.
The rest of its review page: contacts shared with other ads, versions, sightings, ledger and audit entries,
and the near-duplicates the classifier found (with what was decided about them).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from classifier.verdict import LABELS, Hit, model_lines
from core.errors import UnknownAd
from core.timeutil import local
from core.verdicts import current_verdict
from review import ledger
from review.queue import holder

__all__ = [
    "CONTACT_KINDS",
    "SHARED_LIMIT",
    "ad_detail",
    "audit_trail",
    "contacts",
    "explain_stored",
    "ledger_entries",
    "nearest",
    "sightings",
    "versions",
]

SHARED_LIMIT = 10  # other ads listed per contact
CONTACT_KINDS = {"mobile": "手机", "landline": "座机", "wechat": "微信", "qq": "QQ", "qq_group": "QQ群", "url": "网址"}

AD_COLUMNS = (
    "id",
    "url",
    "site",
    "platform",
    "title",
    "body",
    "contact",
    "author",
    "posted_at",
    "first_seen",
    "last_seen",
    "status",
    "content_hash",
    "pictures",  # the text read in its pictures (core.adimages)
)


def explain_stored(verdict: dict[str, Any]) -> list[str]:
    """Chinese one-liners for a stored verdict: the result, each hit, each near-duplicate."""
    lines = [f"结论：{verdict['label']}（{LABELS[verdict['label']]}），得分 {verdict['score']:g}"]
    if verdict["categories"]:
        lines.append("涉嫌类型：" + "、".join(verdict["categories"]))
    lines.extend(model_lines(verdict.get("model") or {}, verdict.get("rules_label", "")))
    lines.extend(Hit(**hit).explain() for hit in verdict["hits"])
    for n in verdict.get("nearest", []):
        kind = "已确认违法广告" if n["index"] == "confirmed" else "已驳回广告"
        lines.append(f"与{kind} #{n['ad_id']} 近似（{n['method']}，距离 {n['distance']}，相似度 {n['similarity']}）")
    return lines


def ad_detail(db: sqlite_utils.Database, ad_id: int) -> dict[str, Any]:
    row = db.execute(f"SELECT {', '.join(AD_COLUMNS)} FROM ads WHERE id = ?", [ad_id]).fetchone()
    if row is None:
        raise UnknownAd(
            f"no ad {ad_id}: `adclear queue` lists the ads waiting for review", zh=f"没有编号为 {ad_id} 的广告"
        )
    ad = dict(zip(AD_COLUMNS, row, strict=True))
    verdict = current_verdict(db, ad_id)
    evidence = [
        dict(zip(("kind", "url", "fetched_at", "http_status", "sha256", "warc_file", "warc_offset"), r, strict=True))
        for r in db.execute(
            "SELECT kind, url, fetched_at, http_status, sha256, warc_file, warc_offset FROM evidence "
            "WHERE ad_id = ? ORDER BY id",
            [ad_id],
        )
    ]
    for ev in evidence:
        ev["fetched_at_local"] = local(ev["fetched_at"], "%Y-%m-%d %H:%M:%S")
    decisions = [
        dict(
            zip(
                (
                    "id",
                    "reviewer",
                    "decision",
                    "category",
                    "reason",
                    "legal_basis",
                    "note",
                    "decided_at",
                    "ledger_seq",
                    "reversed_seq",
                ),
                r,
                strict=True,
            )
        )
        for r in db.execute(
            "SELECT id, reviewer, decision, category, reason, legal_basis, note, decided_at, ledger_seq, reversed_seq "
            "FROM decisions WHERE ad_id = ? ORDER BY id",
            [ad_id],
        )
    ]
    for dec in decisions:
        dec["decided_at_local"] = local(dec["decided_at"], "%Y-%m-%d %H:%M:%S")
    held = holder(db, ad_id)
    return {
        "ad": ad,
        "posted_at": local(ad["posted_at"]),
        "first_seen": local(ad["first_seen"]),
        "last_seen": local(ad["last_seen"]),
        "sightings": db.execute("SELECT count(*) FROM sightings WHERE ad_id = ?", [ad_id]).fetchone()[0],
        "verdict": verdict,
        "explain": explain_stored(verdict) if verdict else [],
        "evidence": evidence,
        "decisions": decisions,
        "claimed_by": held[0] if held else None,
    }


def contacts(db: sqlite_utils.Database, ad_id: int) -> list[dict[str, Any]]:
    """The ad's contacts, each with how many other ads show it and the latest few of them."""
    out = []
    for kind, value, matched in db.execute(
        "SELECT kind, value, matched FROM contacts WHERE ad_id = ? ORDER BY kind, value", [ad_id]
    ).fetchall():
        (others,) = db.execute(
            "SELECT count(*) FROM contacts WHERE kind = ? AND value = ? AND ad_id != ?", [kind, value, ad_id]
        ).fetchone()
        shared = [
            {"id": r[0], "title": r[1], "platform": r[2], "status": r[3]}
            for r in db.execute(
                """SELECT a.id, a.title, a.platform, a.status FROM contacts c JOIN ads a ON a.id = c.ad_id
                   WHERE c.kind = ? AND c.value = ? AND c.ad_id != ? ORDER BY a.id DESC LIMIT ?""",
                [kind, value, ad_id, SHARED_LIMIT],
            )
        ]
        out.append(
            {
                "kind": kind,
                "kind_label": CONTACT_KINDS.get(kind, kind),
                "value": value,
                "matched": matched,
                "others": others,
                "shared": shared,
            }
        )
    return out


def versions(db: sqlite_utils.Database, ad_id: int) -> list[dict[str, Any]]:
    return [
        {"content_hash": r[0], "title": r[1], "body": r[2], "first_seen": local(r[3])}
        for r in db.execute(
            "SELECT content_hash, title, body, first_seen FROM ad_versions WHERE ad_id = ? ORDER BY id", [ad_id]
        )
    ]


def sightings(db: sqlite_utils.Database, ad_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest sightings (crawl run, time, what changed)."""
    return [
        {"run_id": r[0], "seen_at": local(r[1]), "change": r[2]}
        for r in db.execute(
            "SELECT run_id, seen_at, change FROM sightings WHERE ad_id = ? ORDER BY seen_at DESC LIMIT ?",
            [ad_id, limit],
        )
    ]


def ledger_entries(db: sqlite_utils.Database, ad_id: int) -> list[dict[str, Any]]:
    return [
        {
            "seq": e.seq,
            "at": local(e.at, "%Y-%m-%d %H:%M:%S"),
            "actor": e.actor,
            "action": e.action,
            "label": ledger.ACTIONS.get(e.action, e.action),
            "payload": e.payload,
            "hash": e.hash,
        }
        for e in ledger.entries(db, ad_id=ad_id)
    ]


def audit_trail(db: sqlite_utils.Database, ad_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """Claims, releases, escalations and decisions on the ad, newest first."""
    return [
        {
            "at": local(r[0], "%Y-%m-%d %H:%M:%S"),
            "actor": r[1],
            "action": r[2],
            "detail": json.loads(r[3]),
            "address": r[4],
        }
        for r in db.execute(
            "SELECT at, actor, action, detail, address FROM audit_log WHERE target = ? ORDER BY id DESC LIMIT ?",
            [f"ad:{ad_id}", limit],
        )
    ]


def nearest(db: sqlite_utils.Database, verdict: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The verdict's near-duplicates, with each one's title, status and latest decision."""
    out = []
    for n in (verdict or {}).get("nearest", []) or []:
        row = db.execute("SELECT title, platform, status FROM ads WHERE id = ?", [n.get("ad_id")]).fetchone()
        dec = db.execute(
            "SELECT decision, category, reason, reviewer FROM decisions WHERE ad_id = ? AND reversed_seq IS NULL "
            "ORDER BY id DESC LIMIT 1",
            [n.get("ad_id")],
        ).fetchone()
        out.append(
            {
                **n,
                "title": row[0] if row else "",
                "platform": row[1] if row else "",
                "status": row[2] if row else "",
                "decision": dict(zip(("decision", "category", "reason", "reviewer"), dec, strict=True))
                if dec
                else None,
            }
        )
    return out
