"""Decisions: a reviewer confirms an ad as an illegal-fundraising ad, or rejects the flag.

One decision is one ``BEGIN IMMEDIATE`` transaction: the checks, the decision row, its ledger entries
(``confirmed`` + ``takedown_requested``, or ``rejected``), the queue item and the audit log land together or
not at all. Two reviewers clicking at once: the second one finds the ad decided and gets ``AlreadyDecided``.
After it commits, the ledger head is anchored outside the database and the decided ads' near-duplicates are
classified again (``core.reclassify.follow_decisions``), as the ``ReviewSettings`` passed in say. A decision
against a near-duplicate's needs a reason (``despite``; ``review.consistency``), recorded in the ledger.

Why so long: confirming, rejecting (one ad or a cluster's) and reversing share one transaction's private steps
(checks, ledger entries, the queue, the audit log); split, those steps would be public for no other caller.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from classifier import taxonomy
from core.classifiers import classifier_for
from core.db import immediate
from core.errors import AlreadyDecided, HeldByOther, InvalidChoice, UnknownAd
from core.reclassify import follow_decisions
from core.timeutil import local, now_utc
from core.verdicts import QUEUED_LABELS, STATUS_OF_LABEL, current_verdict
from review import audit, consistency, ledger, takedowns
from review.queue import holder
from review.settings import ReviewSettings

__all__ = [
    "TAKEDOWN_ACTIONS",
    "Decision",
    "confirm",
    "confirm_cluster",
    "reject",
    "reject_cluster",
    "reverse",
    "suggested_legal_basis",
]

# 处置方式 a confirmation asks for
TAKEDOWN_ACTIONS = ("通知删除", "屏蔽", "下架", "责令改正", "移送市场监管", "移送公安", "提请通信管理局关闭")
# The article every fundraising ad breaks, whatever its scheme.
AD_BAN = "《防范和处置非法集资条例》第十一条"


@dataclass(frozen=True, slots=True)
class Decision:
    id: int
    ad_id: int
    decision: str
    reviewer: str
    category: str | None
    reason: str
    legal_basis: str
    ledger_seqs: tuple[int, ...]


@contextlib.contextmanager
def _batch(db: sqlite_utils.Database, settings: ReviewSettings | None) -> Iterator[None]:
    """One decision batch: a write transaction on a ledger that passes its check, then its head anchored outside
    the database (``review.ledger.anchor``)."""
    with immediate(db):
        ledger.check_before_append(db)
        yield
    ledger.anchor(db, "decision", settings)


def suggested_legal_basis(hits: list[dict[str, Any]], category: str) -> str:
    """The articles the verdict's hits for ``category`` cite, else the category's own, plus the ad ban."""
    bases: list[str] = []
    for hit in hits:
        if hit.get("kind") == "category" and hit.get("name") == category and hit.get("legal_basis"):
            if hit["legal_basis"] not in bases:
                bases.append(hit["legal_basis"])
    if not bases:
        bases.append(taxonomy.CATEGORY_LEGAL_BASIS[category])
    if AD_BAN not in bases:
        bases.append(AD_BAN)
    return "；".join(bases)


def _load_ad(db: sqlite_utils.Database, ad_id: int) -> dict[str, Any]:
    row = db.execute(
        "SELECT id, url, title, body, site, platform, status, content_hash FROM ads WHERE id = ?", [ad_id]
    ).fetchone()
    if row is None:
        raise UnknownAd(
            f"no ad {ad_id}: `adclear queue` lists the ads waiting for review", zh=f"没有编号为 {ad_id} 的广告"
        )
    return dict(zip(("id", "url", "title", "body", "site", "platform", "status", "content_hash"), row, strict=True))


def _check_open(db: sqlite_utils.Database, ad: dict[str, Any], reviewer: str) -> None:
    if ad["status"] in ("confirmed", "rejected"):
        by = db.execute(
            "SELECT reviewer, decided_at, decision FROM decisions WHERE ad_id = ? ORDER BY id DESC LIMIT 1", [ad["id"]]
        ).fetchone()
        who = f" by {by[0]} at {local(by[1])}" if by else ""
        word = "confirmed" if ad["status"] == "confirmed" else "rejected"
        raise AlreadyDecided(
            f"ad {ad['id']} was already {word}{who}; a correction is a reversal, not a second decision",
            zh=f"广告 {ad['id']} 已处理过，如需改变，请由主管更正原决定",
        )
    held = holder(db, ad["id"])
    if held is not None and held[0] != reviewer:
        raise HeldByOther(
            f"ad {ad['id']} is claimed by {held[0]} until {local(held[1])}; pick another ad",
            zh=f"广告 {ad['id']} 已由 {held[0]} 认领（至 {local(held[1])}），请另选广告",
        )


def _verdict(db: sqlite_utils.Database, ad_id: int) -> tuple[int | None, dict[str, Any]]:
    """(id, stored verdict) of the ad's current verdict; (None, no hits) for an ad never classified."""
    verdict = current_verdict(db, ad_id)
    return (verdict["id"], verdict) if verdict is not None else (None, {"hits": []})


def _evidence(db: sqlite_utils.Database, ad_id: int) -> dict[str, Any]:
    row = db.execute(
        "SELECT sha256, fetched_at, warc_file, warc_offset FROM evidence WHERE ad_id = ? AND kind = 'page' "
        "ORDER BY id DESC LIMIT 1",
        [ad_id],
    ).fetchone()
    if row is None:
        return {}
    return {"evidence_sha256": row[0], "fetched_at": row[1], "warc_file": row[2], "warc_offset": row[3]}


def _finish(
    db: sqlite_utils.Database,
    ad_id: int,
    status: str,
    reviewer: str,
    action: str,
    decision_id: int,
    detail: dict[str, Any],
    address: str,
) -> None:
    now = now_utc()
    db.execute("UPDATE ads SET status = ? WHERE id = ?", [status, ad_id])
    db.execute(
        "UPDATE queue SET state = 'decided', claimed_by = NULL, lease_until = NULL, updated_at = ? WHERE ad_id = ?",
        [now, ad_id],
    )
    detail = {"decision_id": decision_id, **detail}
    audit.record(db, actor=reviewer, action=action, target=f"ad:{ad_id}", detail=detail, address=address)


def _excerpt(body: str, length: int = 120) -> str:
    text = " ".join(body.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _check_confirm(category: str, reason: str, action: str, reviewer: str) -> None:
    if category not in taxonomy.CATEGORIES:
        raise InvalidChoice(
            f"unknown category '{category}'; one of: {'、'.join(taxonomy.CATEGORIES)}",
            zh=f"未知的类别“{category}”，可选：{'、'.join(taxonomy.CATEGORIES)}",
        )
    if action not in TAKEDOWN_ACTIONS:
        raise InvalidChoice(
            f"unknown takedown action '{action}'; one of: {'、'.join(TAKEDOWN_ACTIONS)}",
            zh=f"未知的处置方式“{action}”，可选：{'、'.join(TAKEDOWN_ACTIONS)}",
        )
    if not reason.strip():
        raise InvalidChoice("a confirmation needs a reason (--reason)", zh="确认违法须填写理由")
    _check_reviewer(reviewer)


def _check_reject(reason: str, note: str, reviewer: str) -> None:
    reasons = taxonomy.REJECT_REASONS
    if reason not in reasons:
        raise InvalidChoice(
            f"unknown reason '{reason}'; one of: {'、'.join(reasons)}",
            zh=f"未知的驳回理由“{reason}”，可选：{'、'.join(reasons)}",
        )
    if reason == "其他" and not note.strip():
        raise InvalidChoice("reason 其他 needs a note (--note) saying why", zh="驳回理由为“其他”时须填写说明")
    _check_reviewer(reviewer)


def _verdict_summary(verdict: dict[str, Any]) -> dict[str, Any]:
    return {k: verdict.get(k) for k in ("score", "label")} | {"rules": sorted({h["rule_id"] for h in verdict["hits"]})}


@dataclass(frozen=True, slots=True)
class _Confirmation:
    """What a reviewer says when confirming (checked by ``_check_confirm``)."""

    reviewer: str
    category: str
    reason: str
    legal_basis: str | None
    action: str
    note: str
    address: str


def _confirm_one(db: sqlite_utils.Database, ad: dict[str, Any], c: _Confirmation, extra: dict[str, Any]) -> Decision:
    """Inside the caller's BEGIN IMMEDIATE: the decision, its two ledger entries, the queue, the audit log;
    ``extra``: what the ledger and the audit log also record (the cluster, a contradiction's reason)."""
    ad_id = ad["id"]
    verdict_id, verdict = _verdict(db, ad_id)
    given = (c.legal_basis or "").strip()
    basis = given or suggested_legal_basis(verdict["hits"], c.category)
    reason, note = c.reason.strip(), c.note.strip()
    common = {
        "url": ad["url"],
        "platform": ad["platform"],
        "site": ad["site"],
        "category": c.category,
        "legal_basis": basis,
        **_evidence(db, ad_id),
    }
    details = {"title": ad["title"], "excerpt": _excerpt(ad["body"]), "reason": reason, "note": note}
    record = {"content_hash": ad["content_hash"], "verdict": _verdict_summary(verdict), **extra}
    confirmed = ledger.append(
        db, actor=c.reviewer, action="confirmed", ad_id=ad_id, payload={**common, **details, **record}
    )
    takedown = ledger.append(
        db,
        actor=c.reviewer,
        action="takedown_requested",
        ad_id=ad_id,
        payload={**common, "takedown_action": c.action, "confirmed_seq": confirmed.seq},
    )
    takedowns.apply(db, takedown)
    seqs = (confirmed.seq, takedown.seq)
    decision_id = _insert(db, ad_id, c.reviewer, "confirmed", c.category, reason, basis, note, verdict_id, seqs[0])
    detail = {"category": c.category, "ledger": list(seqs), **extra}
    _finish(db, ad_id, "confirmed", c.reviewer, "confirm", decision_id, detail, c.address)
    return Decision(decision_id, ad_id, "confirmed", c.reviewer, c.category, reason, basis, seqs)


def _reject_one(
    db: sqlite_utils.Database,
    ad: dict[str, Any],
    *,
    reviewer: str,
    reason: str,
    note: str,
    address: str,
    extra: dict[str, Any],
) -> Decision:
    ad_id = ad["id"]
    verdict_id, verdict = _verdict(db, ad_id)
    payload = {
        **{k: ad[k] for k in ("url", "platform", "site", "title")},
        "reason": reason,
        "note": note.strip(),
        "content_hash": ad["content_hash"],
        "verdict": _verdict_summary(verdict),
        **_evidence(db, ad_id),
        **extra,
    }
    rejected = ledger.append(db, actor=reviewer, action="rejected", ad_id=ad_id, payload=payload)
    decision_id = _insert(db, ad_id, reviewer, "rejected", None, reason, "", note.strip(), verdict_id, rejected.seq)
    detail = {"reason": reason, "ledger": [rejected.seq], **extra}
    _finish(db, ad_id, "rejected", reviewer, "reject", decision_id, detail, address)
    return Decision(decision_id, ad_id, "rejected", reviewer, None, reason, "", (rejected.seq,))


def confirm(
    db: sqlite_utils.Database,
    ad_id: int,
    *,
    reviewer: str,
    category: str,
    reason: str,
    legal_basis: str | None = None,
    action: str = "通知删除",
    note: str = "",
    address: str = "cli",
    settings: ReviewSettings | None = None,
    despite: str = "",
) -> Decision:
    """Confirm the ad as illegal: a decision, a ``confirmed`` and a ``takedown_requested`` ledger entry.
    ``despite``: why, when a near-duplicate was rejected (else ``Contradiction``; ``review.consistency``)."""
    _check_confirm(category, reason, action, reviewer)
    choice = _Confirmation(reviewer, category, reason, legal_basis, action, note, address)
    with _batch(db, settings):
        ad = _load_ad(db, ad_id)
        _check_open(db, ad, reviewer)
        made = _confirm_one(db, ad, choice, consistency.check_despite(db, [ad_id], "confirmed", despite))
    _follow(db, [ad_id], settings)
    return made


def reject(
    db: sqlite_utils.Database,
    ad_id: int,
    *,
    reviewer: str,
    reason: str,
    note: str = "",
    address: str = "cli",
    settings: ReviewSettings | None = None,
    despite: str = "",
) -> Decision:
    """Reject the flag: a decision and a ``rejected`` ledger entry; the ad leaves the queue. ``despite``: why,
    when a near-duplicate was confirmed (else ``Contradiction``)."""
    _check_reject(reason, note, reviewer)
    with _batch(db, settings):
        ad = _load_ad(db, ad_id)
        _check_open(db, ad, reviewer)
        extra = consistency.check_despite(db, [ad_id], "rejected", despite)
        made = _reject_one(db, ad, reviewer=reviewer, reason=reason, note=note, address=address, extra=extra)
    _follow(db, [ad_id], settings)
    return made


def _cluster_open_ads(
    db: sqlite_utils.Database, cluster_id: int, decision: str, reviewer: str, only: Collection[int] | None
) -> list[dict[str, Any]]:
    """The cluster's ads still to decide (of ``only``, when given: ads of the cluster). Ads already decided
    either way are left as they are; one decided the other way makes the decision a contradiction
    (``consistency.check_despite``)."""
    ids = [r[0] for r in db.execute("SELECT id FROM ads WHERE cluster_id = ? ORDER BY id", [cluster_id])]
    if not ids:
        raise UnknownAd(
            f"no cluster {cluster_id}: `adclear queue` shows each ad's cluster",
            zh=f"没有编号为 {cluster_id} 的近似广告组",
        )
    if only is not None:
        stray = sorted(set(only) - set(ids))
        if stray:
            raise InvalidChoice(
                f"ads {', '.join(map(str, stray))} are not in cluster {cluster_id}",
                zh=f"广告 {'、'.join(map(str, stray))} 不属于近似广告组 {cluster_id}",
            )
        if not only:
            raise InvalidChoice(
                f"no ad of cluster {cluster_id} was chosen",
                zh=f"未选择近似广告组 {cluster_id} 中的任何广告：请勾选要处理的广告",
            )
        ids = [i for i in ids if i in set(only)]
    ads = [_load_ad(db, i) for i in ids]
    todo = [a for a in ads if a["status"] not in ("confirmed", "rejected")]
    if not todo:
        raise AlreadyDecided(
            f"every chosen ad of cluster {cluster_id} is already decided",
            zh=f"近似广告组 {cluster_id} 中所选广告均已处理",
        )
    for ad in todo:
        held = holder(db, ad["id"])
        if held is not None and held[0] != reviewer:
            raise HeldByOther(
                f"ad {ad['id']} of cluster {cluster_id} is claimed by {held[0]} until {local(held[1])}",
                zh=(
                    f"近似广告组 {cluster_id} 中的广告 {ad['id']} 已由 {held[0]} 认领（"
                    f"至 {local(held[1])}）：请不勾选该广告"
                ),
            )
        if db.execute("SELECT 1 FROM queue WHERE ad_id = ? AND state = 'escalated'", [ad["id"]]).fetchone():
            raise InvalidChoice(
                f"ad {ad['id']} of cluster {cluster_id} waits for a supervisor (escalated): leave it out, "
                "or resolve its escalation first",
                zh=f"近似广告组 {cluster_id} 中的广告 {ad['id']} 已上报主管：请不勾选该广告，或待主管处理后再定",
            )
    return todo


def confirm_cluster(
    db: sqlite_utils.Database,
    cluster_id: int,
    *,
    reviewer: str,
    category: str,
    reason: str,
    legal_basis: str | None = None,
    action: str = "通知删除",
    note: str = "",
    address: str = "cli",
    settings: ReviewSettings | None = None,
    ads: Collection[int] | None = None,
    despite: str = "",
) -> list[Decision]:
    """Confirm every undecided ad of a cluster of near-duplicates (or those of ``ads``) with one reason: one
    decision (and its ledger entries) per ad, all in one transaction."""
    _check_confirm(category, reason, action, reviewer)
    choice = _Confirmation(reviewer, category, reason, legal_basis, action, note, address)
    with _batch(db, settings):
        todo = _cluster_open_ads(db, cluster_id, "confirmed", reviewer, ads)
        extra = {"cluster_id": cluster_id, **_despite(db, todo, "confirmed", despite)}
        made = [_confirm_one(db, ad, choice, extra) for ad in todo]
    _follow(db, [d.ad_id for d in made], settings)
    return made


def _despite(db: sqlite_utils.Database, todo: list[dict[str, Any]], decision: str, despite: str) -> dict[str, Any]:
    return consistency.check_despite(db, [a["id"] for a in todo], decision, despite)


def reject_cluster(
    db: sqlite_utils.Database,
    cluster_id: int,
    *,
    reviewer: str,
    reason: str,
    note: str = "",
    address: str = "cli",
    settings: ReviewSettings | None = None,
    ads: Collection[int] | None = None,
    despite: str = "",
) -> list[Decision]:
    """Reject every undecided ad of a cluster (or those of ``ads``) with one reason: one decision and ledger
    entry per ad."""
    _check_reject(reason, note, reviewer)
    with _batch(db, settings):
        todo = _cluster_open_ads(db, cluster_id, "rejected", reviewer, ads)
        extra = {"cluster_id": cluster_id, **_despite(db, todo, "rejected", despite)}
        made = [
            _reject_one(db, ad, reviewer=reviewer, reason=reason, note=note, address=address, extra=extra)
            for ad in todo
        ]
    _follow(db, [d.ad_id for d in made], settings)
    return made


def reverse(
    db: sqlite_utils.Database,
    ad_id: int,
    *,
    reviewer: str,
    reason: str,
    address: str = "cli",
    settings: ReviewSettings | None = None,
) -> int:
    """Undo the ad's decision: a ``reversed`` ledger entry (the decision's entries stay), the ad back to review
    and out of the near-duplicate index it was in. Returns the ledger seq."""
    _check_reviewer(reviewer)
    if not reason.strip():
        raise InvalidChoice("a reversal needs a reason (--reason)", zh="更正须填写理由")
    with _batch(db, settings):
        ad = _load_ad(db, ad_id)
        row = db.execute(
            "SELECT id, decision, ledger_seq FROM decisions WHERE ad_id = ? AND reversed_seq IS NULL "
            "ORDER BY id DESC LIMIT 1",
            [ad_id],
        ).fetchone()
        if row is None or ad["status"] not in ("confirmed", "rejected"):
            raise InvalidChoice(f"ad {ad_id} has no decision to reverse", zh=f"广告 {ad_id} 尚无可更正的决定")
        decision_id, decision, decided_seq = row
        payload = {
            "url": ad["url"],
            "reversed": decision,
            "decision_id": decision_id,
            "decided_seq": decided_seq,
            "reason": reason.strip(),
        }
        entry = ledger.append(db, actor=reviewer, action="reversed", ad_id=ad_id, payload=payload)
        takedowns.apply(db, entry)
        db.execute("UPDATE decisions SET reversed_seq = ? WHERE id = ?", [entry.seq, decision_id])
        _reopen(db, ad_id)
        detail = {"decision_id": decision_id, "reversed": decision, "ledger": [entry.seq]}
        audit.record(db, actor=reviewer, action="reverse", target=f"ad:{ad_id}", detail=detail, address=address)
    _follow(db, [ad_id], settings)
    return entry.seq


def _reopen(db: sqlite_utils.Database, ad_id: int) -> None:
    """A reversed ad goes back to what its current verdict says: queued (flag, watch) or withdrawn (clear)."""
    verdict = current_verdict(db, ad_id)
    label = verdict["label"] if verdict else "clear"
    db.execute("UPDATE ads SET status = ? WHERE id = ?", [STATUS_OF_LABEL[label], ad_id])
    db.execute(
        "UPDATE queue SET state = ?, claimed_by = NULL, lease_until = NULL, updated_at = ? WHERE ad_id = ?",
        ["pending" if label in QUEUED_LABELS else "withdrawn", now_utc(), ad_id],
    )


def _follow(db: sqlite_utils.Database, ad_ids: list[int], settings: ReviewSettings | None) -> None:
    """Decided ads change their near-duplicates' verdicts; a failure here never undoes the decision."""
    try:
        follow_decisions(db, ad_ids, classifier_for(db, (settings or ReviewSettings()).rules_dir))
    except Exception:  # logged; `adclear reclassify` repairs verdicts
        logging.getLogger(__name__).exception("could not classify the near-duplicates of ads %s again", ad_ids)


def _insert(
    db: sqlite_utils.Database,
    ad_id: int,
    reviewer: str,
    decision: str,
    category: str | None,
    reason: str,
    basis: str,
    note: str,
    verdict_id: int | None,
    seq: int,
) -> int:
    cursor = db.execute(
        """INSERT INTO decisions (ad_id, reviewer, decision, category, reason, legal_basis, note, verdict_id,
               decided_at, ledger_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [ad_id, reviewer, decision, category, reason, basis, note, verdict_id, now_utc(), seq],
    )
    return int(cursor.lastrowid or 0)


def _check_reviewer(name: str) -> None:
    if not name.strip():
        raise InvalidChoice("say who decides (--as NAME)", zh="须指明由哪个账号作出决定")
