"""Supervisors' pages: escalations, the audit log, the ledger with its verification, and exports."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from core.errors import AdclearError, ReviewError
from review import anchors, audit, escalations, export, ledger
from review.web import params
from review.web.i18n import error_text, punct, t
from review.web.security import client_address, requires
from review.web.views_accounts import user_page
from review.web.views_review import confirm_choice, form_text, refuse_message, reject_choice, settings

__all__ = ["bp"]

bp = Blueprint("supervise", __name__)


def _me() -> str:
    return g.web_session.user.name


@bp.route("/escalations")
@requires("supervisor")
def escalation_list() -> Any:
    return render_template(
        "escalations.html",
        open_items=escalations.listing(g.db, state="open"),
        resolved=escalations.listing(g.db, state="resolved", limit=50)
        + escalations.listing(g.db, state="returned", limit=50),
    )


@bp.route("/escalations/<id:escalation_id>/resolve", methods=["POST"])
@requires("supervisor")
def resolve(escalation_id: int) -> Any:
    esc = escalations.get(g.db, escalation_id)
    if esc is None:
        abort(404)
    decision = request.form.get("decision", "")
    try:
        choice = confirm_choice(request.form) if decision == "confirm" else reject_choice(request.form)
        made = escalations.resolve(
            g.db,
            escalation_id,
            supervisor=_me(),
            decision=decision,
            address=client_address(),
            settings=settings(),
            **choice,
        )
    except ReviewError as e:
        refuse_message(e, esc.ad_id)
        return redirect(url_for("review.ad", ad_id=esc.ad_id))
    key = "ad.confirmed" if made.decision == "confirmed" else "ad.rejected"
    flash(t(key, id=esc.ad_id, seqs=punct()["list"].join(map(str, made.ledger_seqs))), "ok")
    return redirect(url_for("supervise.escalation_list"))


@bp.route("/escalations/<id:escalation_id>/return", methods=["POST"])
@requires("supervisor")
def send_back(escalation_id: int) -> Any:
    esc = escalations.get(g.db, escalation_id)
    if esc is None:
        abort(404)
    try:
        escalations.send_back(
            g.db, escalation_id, supervisor=_me(), note=form_text(request.form, "note"), address=client_address()
        )
    except ReviewError as e:
        flash(t("err.refused", detail=error_text(e)), "error")
        return redirect(url_for("review.ad", ad_id=esc.ad_id))
    flash(t("esc.returned", id=esc.ad_id), "ok")
    return redirect(url_for("supervise.escalation_list"))


@bp.route("/audit")
@requires("supervisor")
def audit_log() -> Any:
    actor = request.args.get("actor", "").strip()[:80]
    action = request.args.get("action", "").strip()[:40]
    rows = audit.page(g.db, actor=actor, action=action, before_id=params.number("before"), limit=101)
    return render_template(
        "audit.html",
        rows=rows[:100],
        more=rows[100]["id"] + 1 if len(rows) > 100 else None,
        actor=actor,
        action=action,
        actions=audit.actions_seen(g.db),
    )


@bp.route("/ledger")
@requires("reviewer")
def ledger_view() -> Any:
    checkpoint_text = request.args.get("checkpoint", "").strip()[:80]
    checkpoint, checkpoint_error = None, ""
    if checkpoint_text:
        try:
            checkpoint = ledger.parse_checkpoint(checkpoint_text)
        except ValueError:
            checkpoint_error = t("ledger.bad_checkpoint")
    entries = ledger.page(g.db, before_seq=params.number("before"), limit=101)
    return render_template(
        "ledger.html",
        result=ledger.verify(g.db, checkpoint=checkpoint, anchor=anchors.latest(g.db)),
        checkpoint=checkpoint_text,
        checkpoint_error=checkpoint_error,
        entries=entries[:100],
        more=entries[100].seq + 1 if len(entries) > 100 else None,
        actions=ledger.ACTIONS,
    )


def _export_filters(form: Any) -> export.Filters:
    """The export form's filters, checked as the command line's are (``ExportError`` when one is wrong)."""

    def field(name: str) -> str:
        return str(form.get(name, "")).strip()[:200]

    return export.Filters.of(
        since=field("from"),
        until=field("to"),
        receiver=field("receiver"),
        platform=field("platform"),
        states=field("state"),
        category=field("category"),
    )


@bp.route("/export", methods=["GET", "POST"], endpoint="export")
@requires("supervisor")
def export_page() -> Any:
    if request.method == "POST":
        fmt = request.form.get("format", "csv")
        if fmt not in export.FORMATS:
            abort(400)
        try:  # a filter that cannot be read, or names a receiver or platform no takedown has: one message
            content, name, made = export.download(
                g.db,
                fmt=fmt,
                filters=_export_filters(request.form),
                actor=_me(),
                address=client_address(),
                office=current_app.config.get("OFFICE"),
                settings=settings(),
                receiver_names=_receiver_names(),
            )
        except export.ExportError as e:
            flash(t("err.refused", detail=error_text(e)), "error")
            return redirect(url_for("supervise.export"))
        response = current_app.response_class(content, mimetype=export.MIME_TYPES[fmt])
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        response.headers["X-Adclear-Ledger-Head"] = made.meta.checkpoint  # a CSV carries no head of its own
        return response
    return render_template(
        "export.html",
        preview=export.overview(g.db),
        formats=export.FORMATS,
        choices=export.choices(g.db),
        states=export.STATE_CHOICES,
        categories=export.CATEGORIES,
    )


def _receiver_names() -> dict[str, str] | None:
    """Receivers by key → 接收单位, from the dispatch setup the command line gave the app (None: keys shown)."""
    found = current_app.config.get("DISPATCH")
    try:
        setup = found() if callable(found) else found
    except AdclearError:
        return None
    return {key: r.name for key, r in setup.receivers.receivers.items()} if setup is not None else None


@bp.route("/users")
@requires("admin")
def user_list() -> Any:
    return user_page()  # its forms post to review.web.views_accounts
