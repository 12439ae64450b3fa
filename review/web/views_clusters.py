"""A cluster of near-duplicates on one page: its ads, and one decision for all or some of them.

The decision goes the command line's way (``review.decisions.confirm_cluster`` / ``reject_cluster``, the ads
ticked as ``ads``): one decision and its ledger entries per ad, in one transaction. The category is the
reviewer's choice among those the ads' hits point at (pre-filled only when they agree), and a decision against a
near-duplicate decided the other way needs a reason (``review.consistency``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from classifier.taxonomy import CATEGORIES, REJECT_REASONS
from core.errors import ReviewError
from core.verdicts import current_verdict
from review import consistency, decisions
from review.web.i18n import punct, t
from review.web.security import client_address, requires
from review.web.views_review import clashes_for, confirm_choice, refuse_message, reject_choice, settings

__all__ = ["bp"]

bp = Blueprint("clusters", __name__)


def _me() -> str:
    return g.web_session.user.name


@bp.route("/cluster/<id:cluster_id>")
@requires("reviewer")
def cluster(cluster_id: int) -> Any:
    members = consistency.cluster_members(g.db, cluster_id)
    if not members:
        abort(404)
    open_ids = [m["ad_id"] for m in members if not m["decided"] and not m["escalated"]]
    verdicts = [current_verdict(g.db, i) for i in open_ids]
    candidates = consistency.candidates(verdicts)
    hits = [h for v in verdicts if v for h in v["hits"]]
    return render_template(
        "cluster.html",
        cluster_id=cluster_id,
        members=members,
        open_count=len(open_ids),
        candidates=candidates,
        candidate_names=[c.category for c in candidates],
        chosen_category=consistency.agreed_category(candidates),
        categories=CATEGORIES,
        basis={c: decisions.suggested_legal_basis(hits, c) for c in CATEGORIES},
        clashes=clashes_for(open_ids) if open_ids else {},
        actions=decisions.TAKEDOWN_ACTIONS,
        reasons=REJECT_REASONS,
    )


def _ticked() -> list[int]:
    ids = []
    for value in request.form.getlist("ad"):
        if not value.isdigit() or len(value) > 18:
            abort(400)
        ids.append(int(value))
    return ids


@bp.route("/cluster/<id:cluster_id>/decide", methods=["POST"])
@requires("reviewer")
def decide(cluster_id: int) -> Any:
    decision = request.form.get("decision", "")
    if decision not in ("confirm", "reject"):
        abort(400)
    who: dict[str, Any] = {"reviewer": _me(), "address": client_address(), "settings": settings(), "ads": _ticked()}
    try:
        if decision == "confirm":
            made = decisions.confirm_cluster(g.db, cluster_id, **who, **confirm_choice(request.form))
        else:
            fields = MultiDict({k: request.form.get(k, "") for k in ("note", "despite")})
            fields["reason"] = request.form.get("reject_reason", "")  # the form's "reason" is the confirmation's
            made = decisions.reject_cluster(g.db, cluster_id, **who, **reject_choice(fields))
    except ReviewError as e:
        refuse_message(e)
        return redirect(url_for("clusters.cluster", cluster_id=cluster_id))
    seqs = [s for d in made for s in d.ledger_seqs]
    key = "cluster.confirmed" if decision == "confirm" else "cluster.rejected"
    flash(
        t(key, n=len(made), ids=punct()["list"].join(f"#{d.ad_id}" for d in made), seqs=f"{seqs[0]}–{seqs[-1]}"), "ok"
    )
    return redirect(url_for("clusters.cluster", cluster_id=cluster_id))
