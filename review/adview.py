"""Everything a reviewer needs to see about one ad, gathered for the CLI and the web app."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from adclear.errors import UnknownAd
from adclear.timeutil import local
from adclear.verdicts import current_verdict
from review.queue import holder

__all__ = ["ad_detail", "explain_stored"]

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
)


def explain_stored(verdict: dict[str, Any]) -> list[str]:
    """Chinese one-liners for a stored verdict: the result, each hit, each near-duplicate."""
    from classifier.verdict import LABELS, Hit, model_lines

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
        raise UnknownAd(f"no ad {ad_id}: `adclear queue` lists the ads waiting for review")
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
                ("id", "reviewer", "decision", "category", "reason", "legal_basis", "note", "decided_at", "ledger_seq"),
                r,
                strict=True,
            )
        )
        for r in db.execute(
            "SELECT id, reviewer, decision, category, reason, legal_basis, note, decided_at, ledger_seq "
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
