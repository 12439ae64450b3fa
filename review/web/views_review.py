"""The reviewer's pages: the queue, an ad with its evidence, claims, and the decisions on it."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from classifier.taxonomy import CATEGORIES, REJECT_REASONS, SIGNALS
from core.adimages import picture_hits, pictures_of
from core.ads import ad_text
from core.errors import AlreadyDecided, Contradiction, EvidenceMissing, HeldByOther, ReviewError, UnknownAd
from core.images import ImageRead, check_image
from review import adview, consistency, decisions, escalations, evidence, queue
from review.settings import ReviewSettings
from review.users import has_role
from review.web import explain, params
from review.web.highlight import numbered_hits, segments
from review.web.i18n import error_text, punct, t
from review.web.security import client_address, requires

__all__ = ["MAX_TEXT", "bp", "clashes_for", "confirm_choice", "form_text", "refuse_message", "reject_choice"]

bp = Blueprint("review", __name__)
PAGE_SIZE = 50
MAX_TEXT = 2000  # characters kept of a reason, legal basis or note typed into a form
# What the archived page may do inside its frame: show itself with its own inline styles and data: images.
EVIDENCE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"


def _me() -> str:
    return g.web_session.user.name


def _claim_limits() -> dict[str, Any]:
    return {"lease_seconds": current_app.config["LEASE_SECONDS"], "max_claims": current_app.config["MAX_CLAIMS"]}


def _supervisor() -> bool:
    return has_role(g.web_session.user.role, "supervisor")


def settings() -> ReviewSettings:
    """The review settings the command line gave the app (rule packs, anchor webhook)."""
    found: ReviewSettings = current_app.config["REVIEW"]
    return found


def form_text(form: MultiDict[str, str], key: str) -> str:
    """A text field of a form, stripped and cut at ``MAX_TEXT`` characters."""
    return form.get(key, "").strip()[:MAX_TEXT]


@bp.route("/queue", endpoint="queue")
@requires("reviewer")
def queue_page() -> Any:
    for name in ("from", "to"):
        params.day(request.args.get(name, "").strip(), name)
    f = queue.Filter.from_args(request.args)
    page = min(params.number("page", default=1) or 1, 1000)
    bands = current_app.config["SCORE_BANDS"]
    rows = queue.items(g.db, f, reviewer=_me(), limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, bands=bands)
    return render_template(
        "queue.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        f=f,
        counts=queue.counts(g.db, reviewer=_me(), totals_=current_app.extensions["adclear_totals"].get()),
        options=queue.filter_options(g.db),
        categories=CATEGORIES,
        bands=list(queue.BAND_NAMES),
    )


@bp.route("/claim", methods=["POST"])
@requires("reviewer")
def claim_next() -> Any:
    ad_id = queue.claim(g.db, _me(), address=client_address(), **_claim_limits())
    if ad_id is None:
        flash(t("queue.empty_claim"), "warn")
        return redirect(url_for("review.queue"))
    return redirect(url_for("review.ad", ad_id=ad_id))


@bp.route("/ad/<id:ad_id>")
@requires("reviewer")
def ad(ad_id: int) -> Any:
    try:
        detail = adview.ad_detail(g.db, ad_id)
    except UnknownAd:
        abort(404)
    item = detail["ad"]
    verdict = detail["verdict"] or {"hits": [], "categories": [], "nearest": [], "score": 0, "label": "clear"}
    hits = numbered_hits(verdict["hits"])
    title, text = ad_text(item["title"], item["body"], item["contact"], item["pictures"])
    groups = explain.explain(hits)
    title_segments, stale_title = segments(title, hits, "title")
    text_segments, stale_text = segments(text, hits, "text")
    title_segments, text_segments = explain.renumber(title_segments, groups), explain.renumber(text_segments, groups)
    held = queue.holder(g.db, ad_id)
    open_escalation = escalations.open_for(g.db, ad_id)
    prev_id, next_id = queue.neighbours(g.db, ad_id)
    candidates = consistency.candidates([{"hits": hits, "categories": verdict["categories"]}])
    decided = item["status"] in ("confirmed", "rejected")
    return render_template(
        "ad.html",
        d=detail,
        ad=item,
        verdict=verdict,
        groups=groups,
        score_terms=explain.score_terms(groups, float(verdict["score"])),
        cue_label=explain.cue_label,
        title_segments=title_segments,
        text_segments=text_segments,
        stale=explain.lines_for(groups, stale_title + stale_text),
        held=held,
        mine=held is not None and held[0] == _me(),
        escalation=open_escalation,
        escalation_history=escalations.for_ad(g.db, ad_id),
        decided=decided,
        prev_id=prev_id,
        next_id=next_id,
        contacts=adview.contacts(g.db, ad_id),
        versions=adview.versions(g.db, ad_id),
        sightings=adview.sightings(g.db, ad_id),
        ledger_entries=adview.ledger_entries(g.db, ad_id),
        audit_trail=adview.audit_trail(g.db, ad_id),
        nearest=adview.nearest(g.db, verdict),
        page_evidence=next((e for e in detail["evidence"] if e["kind"] == "page"), None),
        screenshot=next((e for e in detail["evidence"] if e["kind"] == "screenshot"), None),
        pictures=_pictures(ad_id, verdict["hits"]),
        categories=CATEGORIES,
        candidates=candidates,
        candidate_names=[c.category for c in candidates],
        chosen_category=consistency.agreed_category(candidates),
        clashes={} if decided else clashes_for([ad_id]),
        cluster=consistency.cluster_of(g.db, ad_id),
        basis={c: decisions.suggested_legal_basis(verdict["hits"], c) for c in CATEGORIES},
        suggested_reason=_suggested_reason(verdict["hits"]),
        actions=decisions.TAKEDOWN_ACTIONS,
        reasons=REJECT_REASONS,
        supervisor=_supervisor(),
    )


def clashes_for(ad_ids: list[int]) -> dict[str, list[consistency.Clash]]:
    """For each decision, the near-duplicates it would contradict (the form then asks why)."""
    return {d: consistency.contradictions(g.db, ad_ids, d) for d in ("confirmed", "rejected")}


def _suggested_reason(hits: list[dict[str, Any]]) -> str:
    """A first draft of the confirmation's reason: what the ad promises, in its own words."""
    parts: list[str] = []
    seen: set[str] = set()
    for hit in hits:
        if hit.get("kind") not in ("signal", "category") or hit["matched"] in seen:
            continue
        seen.add(hit["matched"])
        label = SIGNALS[hit["name"]][0] if hit.get("kind") == "signal" and hit["name"] in SIGNALS else hit["name"]
        parts.append(f"{label}“{hit['matched']}”")
        if len(parts) == 6:
            break
    return ("广告含" + "、".join(parts) + "，面向公众招揽资金") if parts else ""


def _after_decision(ad_id: int) -> Any:
    """Straight on to the next ad: claim it and show it; the queue page when none is left."""
    if request.form.get("then") == "escalations":
        return redirect(url_for("supervise.escalation_list"))
    next_id = queue.claim(g.db, _me(), address=client_address(), **_claim_limits())
    if next_id is None:
        flash(t("queue.done"), "ok")
        return redirect(url_for("review.queue"))
    return redirect(url_for("review.ad", ad_id=next_id))


def refuse_message(error: Exception, ad_id: int | None = None) -> None:
    """Flash why a decision was refused."""
    if isinstance(error, HeldByOther):
        held = queue.holder(g.db, ad_id) if ad_id is not None else None
        flash(t("err.held", who=held[0]) if held else t("err.refused", detail=error_text(error)), "error")
    elif isinstance(error, AlreadyDecided):
        flash(t("err.decided"), "error")
    elif isinstance(error, Contradiction):
        p = punct()
        listed = p["list"].join(
            f"#{c.other} {t('status.' + c.decision)}{p['open']}{c.detail}{p['close']}" for c in error.clashes
        )
        flash(t("err.contradiction", ads=listed), "error")
    else:
        flash(t("err.refused", detail=error_text(error)), "error")


def _refuse(ad_id: int, error: Exception) -> Any:
    refuse_message(error, ad_id)
    return redirect(url_for("review.ad", ad_id=ad_id))


@bp.route("/ad/<id:ad_id>/claim", methods=["POST"])
@requires("reviewer")
def claim(ad_id: int) -> Any:
    got = queue.claim(g.db, _me(), ad_id=ad_id, address=client_address(), **_claim_limits())
    if got is None:
        held = queue.holder(g.db, ad_id)
        flash(t("err.held", who=held[0]) if held else t("err.not_claimable"), "error")
    return redirect(url_for("review.ad", ad_id=ad_id))


@bp.route("/ad/<id:ad_id>/release", methods=["POST"])
@requires("reviewer")
def release(ad_id: int) -> Any:
    if queue.release(g.db, ad_id, _me(), address=client_address()):
        flash(t("ad.released", id=ad_id), "ok")
    return redirect(url_for("review.queue"))


def _not_escalated(ad_id: int) -> None:
    if escalations.open_for(g.db, ad_id) is not None:
        flash(t("err.escalated"), "error")
        abort(redirect(url_for("review.ad", ad_id=ad_id)))


def confirm_choice(form: MultiDict[str, str]) -> dict[str, Any]:
    """The confirmation form's fields, checked against the lists the form offers."""
    category = form.get("category", "")
    action = form.get("action", "")
    reason = form_text(form, "reason")
    if not category:  # several candidates: none was pre-selected, and the reviewer chose none
        raise ReviewError(t("err.category_needed"))
    if category not in CATEGORIES or action not in decisions.TAKEDOWN_ACTIONS:
        raise ReviewError(t("err.bad_choice"))
    if not reason:
        raise ReviewError(t("err.reason_needed"))
    return {
        "category": category,
        "action": action,
        "reason": reason,
        "legal_basis": form_text(form, "legal_basis") or None,
        "note": form_text(form, "note"),
        "despite": form_text(form, "despite"),
    }


def reject_choice(form: MultiDict[str, str]) -> dict[str, Any]:
    reason = form.get("reason", "")
    note = form_text(form, "note")
    if reason not in REJECT_REASONS:
        raise ReviewError(t("err.bad_choice"))
    if reason == "其他" and not note:
        raise ReviewError(t("err.note_needed"))
    return {"reason": reason, "note": note, "despite": form_text(form, "despite")}


@bp.route("/ad/<id:ad_id>/confirm", methods=["POST"])
@requires("reviewer")
def confirm(ad_id: int) -> Any:
    _not_escalated(ad_id)
    try:
        choice = confirm_choice(request.form)
        made = decisions.confirm(g.db, ad_id, reviewer=_me(), address=client_address(), settings=settings(), **choice)
    except ReviewError as e:
        return _refuse(ad_id, e)
    flash(t("ad.confirmed", id=ad_id, seqs=punct()["list"].join(map(str, made.ledger_seqs))), "ok")
    return _after_decision(ad_id)


@bp.route("/ad/<id:ad_id>/reject", methods=["POST"])
@requires("reviewer")
def reject(ad_id: int) -> Any:
    _not_escalated(ad_id)
    try:
        choice = reject_choice(request.form)
        made = decisions.reject(g.db, ad_id, reviewer=_me(), address=client_address(), settings=settings(), **choice)
    except ReviewError as e:
        return _refuse(ad_id, e)
    flash(t("ad.rejected", id=ad_id, seqs=punct()["list"].join(map(str, made.ledger_seqs))), "ok")
    return _after_decision(ad_id)


@bp.route("/ad/<id:ad_id>/reverse", methods=["POST"])
@requires("supervisor")
def reverse(ad_id: int) -> Any:
    """更正: a supervisor reverses the ad's decision with a reason; the ad goes back to review, its takedown is
    cancelled (``review.decisions.reverse``)."""
    reason = form_text(request.form, "reason")
    if not reason:
        flash(t("err.reason_needed"), "error")
        return redirect(url_for("review.ad", ad_id=ad_id))
    try:
        seq = decisions.reverse(
            g.db, ad_id, reviewer=_me(), reason=reason, address=client_address(), settings=settings()
        )
    except ReviewError as e:
        return _refuse(ad_id, e)
    flash(t("ad.reversed", id=ad_id, seq=seq), "ok")
    return redirect(url_for("review.ad", ad_id=ad_id))


@bp.route("/ad/<id:ad_id>/escalate", methods=["POST"])
@requires("reviewer")
def escalate(ad_id: int) -> Any:
    note = form_text(request.form, "note")
    if not note:
        flash(t("err.note_needed"), "error")
        return redirect(url_for("review.ad", ad_id=ad_id))
    try:
        escalations.escalate(g.db, ad_id, reviewer=_me(), note=note, address=client_address())
    except ReviewError as e:
        return _refuse(ad_id, e)
    flash(t("ad.escalated", id=ad_id), "ok")
    return _after_decision(ad_id)


@bp.route("/ad/<id:ad_id>/evidence/page")
@requires("reviewer")
def evidence_page(ad_id: int) -> Any:
    """The archived page, for a sandboxed frame: no script, no request to anywhere, not even this app."""
    try:
        found = evidence.read(g.db, current_app.config["DATA_DIR"], ad_id, "page")
    except EvidenceMissing:
        abort(404)
    kind = found.content_type.split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml", ""):
        mimetype = "text/html"
    else:
        mimetype = "text/plain"
    response = current_app.response_class(found.payload, mimetype=mimetype)
    if found.charset:
        response.headers["Content-Type"] = f"{mimetype}; charset={found.charset}"
    response.headers["Content-Security-Policy"] = EVIDENCE_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _pictures(ad_id: int, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ad's pictures for its page: each with its lines read and the boxes of the hits found in it."""
    marked = picture_hits(g.db, ad_id, hits)
    out = []
    for pic in pictures_of(g.db, ad_id):
        read = pic.read
        boxes = [" ".join(f"{x},{y}" for x, y in m.line.box) for m in marked if m.sha256 == pic.sha256]
        out.append(
            {
                "sha256": pic.sha256,
                "kind": pic.kind,
                "url": pic.url,
                "status": read.status if read else "",
                "error": read.error if read else "",
                "width": read.width if read else 0,
                "height": read.height if read else 0,
                "lines": read.lines if read else (),
                "codes": read.codes if read else (),
                "hit_boxes": list(dict.fromkeys(boxes)),
            }
        )
    return out


@bp.route("/ad/<id:ad_id>/picture/<sha256>")
@requires("reviewer")
def ad_picture(ad_id: int, sha256: str) -> Any:
    """One of the ad's pictures as archived (only a picture of this ad; sniffing and scripts refused)."""
    row = g.db.execute(
        "SELECT warc_file, warc_offset FROM ad_images WHERE ad_id = ? AND sha256 = ?", [ad_id, sha256]
    ).fetchone()
    if row is None:
        abort(404)
    try:
        data = evidence.payload(current_app.config["DATA_DIR"], row[0], row[1], "a picture")
    except EvidenceMissing:
        abort(404)
    if hashlib.sha256(data).hexdigest() != sha256:
        abort(404)
    response = current_app.response_class(data, mimetype="application/octet-stream")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if isinstance(check_image(data), ImageRead):  # not a picture we read (an SVG, a bomb): a download, never shown
        response.headers["Content-Disposition"] = "attachment"
        return response
    magic = {b"\x89PNG": "image/png", b"\xff\xd8": "image/jpeg", b"GIF8": "image/gif", b"RIFF": "image/webp"}
    response.mimetype = next((m for head, m in magic.items() if data.startswith(head)), "image/bmp")
    return response


@bp.route("/ad/<id:ad_id>/evidence/screenshot")
@requires("reviewer")
def evidence_screenshot(ad_id: int) -> Any:
    try:
        found = evidence.read(g.db, current_app.config["DATA_DIR"], ad_id, "screenshot")
    except EvidenceMissing:
        abort(404)
    response = current_app.response_class(found.payload, mimetype="image/png")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
