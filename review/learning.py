"""The reviewers' decisions as training rows for the learned scorer, read from the ledger.

The ledger is the record: an ad's label is its latest ``confirmed`` (1) or ``rejected`` (0) entry that no
later ``reversed`` entry took back. An ad whose decisions were all reversed gives no row. Rows of one site
form one group, so cross-validation never trains and tests on the same site.
"""

from __future__ import annotations

import json

import sqlite_utils

from classifier.training import Row
from core.ads import ad_text

__all__ = ["decision_rows"]


def decision_rows(db: sqlite_utils.Database) -> tuple[list[Row], int | None]:
    """One row per decided ad (reversals applied), and the ledger's head when it was read."""
    reversed_seqs: set[int] = set()
    latest: dict[int, tuple[int, str, dict[str, object]]] = {}
    last_seq = db.execute("SELECT max(seq) FROM ledger").fetchone()[0]
    for seq, action, ad_id, payload in db.execute(
        "SELECT seq, action, ad_id, payload FROM ledger WHERE action IN ('confirmed', 'rejected', 'reversed') "
        "AND seq <= ? ORDER BY seq",
        [last_seq or 0],
    ):
        data = json.loads(payload)
        if action == "reversed":
            target = data.get("decided_seq")
            if isinstance(target, int):
                reversed_seqs.add(target)
        elif ad_id is not None:
            latest.setdefault(ad_id, (seq, action, data))
            if seq > latest[ad_id][0]:
                latest[ad_id] = (seq, action, data)
    chosen = _unreversed(db, latest, reversed_seqs)
    if not chosen:
        return [], last_seq
    ads = {
        r[0]: r[1:]
        for r in db.execute(
            f"SELECT id, title, body, contact, site FROM ads WHERE id IN ({','.join('?' * len(chosen))})",
            list(chosen),
        )
    }
    rows = []
    for ad_id, (action, data) in sorted(chosen.items()):
        if ad_id not in ads:
            continue
        title, body, contact, site = ads[ad_id]
        t, text = ad_text(title or "", body or "", contact or "")
        reason = str(data.get("reason_code") or data.get("reason") or "")
        kind = "decision:confirmed" if action == "confirmed" else f"decision:rejected:{reason}".rstrip(":")
        rows.append(
            Row(
                text=text,
                title=t,
                label=1 if action == "confirmed" else 0,
                kind=kind,
                group=f"site:{site}",
                id=f"ad:{ad_id}",
                origin="decisions",
            )
        )
    return rows, last_seq


def _unreversed(
    db: sqlite_utils.Database,
    latest: dict[int, tuple[int, str, dict[str, object]]],
    reversed_seqs: set[int],
) -> dict[int, tuple[str, dict[str, object]]]:
    """Per ad, its latest decision that was not reversed (an earlier one counts if the latest was reversed)."""
    out: dict[int, tuple[str, dict[str, object]]] = {}
    for ad_id, (seq, action, data) in latest.items():
        if seq not in reversed_seqs:
            out[ad_id] = (action, data)
            continue
        for s, a, p in db.execute(
            "SELECT seq, action, payload FROM ledger WHERE ad_id = ? AND action IN ('confirmed', 'rejected') "
            "ORDER BY seq DESC",
            [ad_id],
        ):
            if s not in reversed_seqs:
                out[ad_id] = (a, json.loads(p))
                break
    return out
