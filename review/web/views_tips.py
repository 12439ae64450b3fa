"""The 举报线索 pages: the tips ledger, the form that enters a tip (with attachments), a tip's page with its steps.

Every account enters and follows tips; the tipster's name and phone are masked in the list for everyone and on a
tip's page for reviewers (张* 138****5678); a supervisor or an admin sees them in full on a tip's page, each look
kept in the audit log (``review.tips.reveal``). A tip's URL is
checked at once (``app.config["TIPS"].precheck``: http/https, the name resolved, addresses that are not public
refused unless the operator allowed them) and a refusal is shown and recorded; an accepted URL is fetched in the
background by ``adclear tip fetch`` (``start_fetch``), whose outcome the tip's page shows once it is in. What
tips need from the deployment is ``app.config["TIPS"]``: a ``review.tips.Setup`` or a function returning one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for

from core.errors import AdclearError
from core.timeutil import parse_local
from review import attachments, takedowns, tips, tips_export
from review.dispatch import Office
from review.export import MIME_TYPES
from review.export_model import Office as ExportOffice
from review.users import has_role
from review.web.i18n import error_text, t
from review.web.security import client_address, requires

__all__ = ["bp", "install"]

bp = Blueprint("tips", __name__)
MAX_UPLOAD = 4 * attachments.MAX_ATTACHMENT + 64 * 1024  # a few attachments and the form around them
MAX_FIELD = 200


def install(app: Flask) -> None:
    """The blueprint, and a larger request limit for the tip form alone (before the CSRF check reads it)."""
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _upload_limit)


def _upload_limit() -> None:
    if request.endpoint == "tips.create":
        request.max_content_length = MAX_UPLOAD


def _me() -> str:
    return g.web_session.user.name


def _supervisor() -> bool:
    return has_role(g.web_session.user.role, "supervisor")


def _setup() -> tips.Setup:
    found = current_app.config.get("TIPS")
    if found is None:
        return tips.Setup(office=Office(code="", name=""))
    return found() if callable(found) else found


def _field(name: str, limit: int = MAX_FIELD) -> str:
    return request.form.get(name, "").strip()[:limit]


@bp.route("/tips")
@requires("reviewer")
def listing() -> Any:
    state = request.args.get("state", "")
    if state and state not in tips.STATES:
        abort(400)
    everything = tips.listing(g.db)
    rows = [x for x in everything if not state or x.state == state]
    return render_template(
        "tips.html",
        rows=rows[:500],
        more=len(rows) > 500,
        counts={s: sum(1 for x in everything if x.state == s) for s in tips.STATES},
        total=len(everything),
        state=state,
        states=tips.STATES,
        channels=tips.CHANNELS,
        supervisor=_supervisor(),
        fetching=_setup().start_fetch is not None,
    )


@bp.route("/tips", methods=["POST"])
@requires("reviewer")
def create() -> Any:
    setup = _setup()
    received = _field("received_at", 40)
    stamp = parse_local(received) if received else None
    if received and stamp is None:
        flash(t("tip.bad_time", value=received), "error")
        return redirect(url_for("tips.listing"))
    try:
        files = [(f.filename or "", f.read()) for f in request.files.getlist("attachment") if f and f.filename]
        made = tips.add(
            g.db, setup.office, channel=_field("channel"), summary=_field("summary", tips.MAX_SUMMARY),
            url=_field("url", 2000) or None, region=_field("region"), tipster_name=_field("name"),
            tipster_phone=_field("phone"), tipster_other=_field("other"), received_at=stamp, files=files,
            actor=_me(), address=client_address(), settings=current_app.config["REVIEW"],
        )  # fmt: skip
    except AdclearError as e:
        flash(t("tip.refused", detail=error_text(e)), "error")
        return redirect(url_for("tips.listing"))
    flash(t("tip.received_flash", number=made.number), "ok")
    if made.url:
        _start_fetch(setup, made)
    return redirect(url_for("tips.show", tip_id=made.id))


def _start_fetch(setup: tips.Setup, tip: tips.Tip) -> None:
    """Check the URL now (a refusal is recorded and shown); fetch it in the background when it may be."""
    assert tip.url is not None
    problem = setup.precheck(tip.url) if setup.precheck is not None else None
    if problem is not None:
        tips.record_fetch(
            g.db, tip.id, outcome="refused", detail=str(problem), ad_id=None, actor=_me(),
            settings=current_app.config["REVIEW"],
        )  # fmt: skip
        flash(t("tip.url_refused", detail=error_text(problem)), "error")
    elif setup.start_fetch is not None:
        setup.start_fetch(tip.number)
        flash(t("tip.fetching"), "ok")
    else:
        flash(t("tip.no_fetcher", number=tip.number), "warn")


@bp.route("/tips/<id:tip_id>")
@requires("reviewer")
def show(tip_id: int) -> Any:
    try:
        found = tips.get(g.db, tip_id)
    except AdclearError:
        abort(404)
    supervisor = _supervisor()
    person = (
        tips.reveal(g.db, found, actor=_me(), address=client_address()) if supervisor else found.tipster(reveal=False)
    )
    decided = tips.decision_of(g.db, found.ad_id)
    return render_template(
        "tip.html",
        tip=found,
        person=person,
        supervisor=supervisor,
        steps=tips.history(g.db, found),
        files=tips.attachment_list(g.db, found.id),
        decided=decided,
        disposals=takedowns.for_ad(g.db, found.ad_id) if found.ad_id else [],
        results=tips.RESULTS,
        states=tips.STATES,
    )


def _step(tip_id: int, action: str) -> Any:
    settings = current_app.config["REVIEW"]
    try:
        if action == "verify":
            result = _field("result") or None
            tips.verify(g.db, tip_id, actor=_me(), result=result, note=_field("note", 500), settings=settings)
        elif action == "feedback":
            at_text = _field("at", 40)
            at = parse_local(at_text) if at_text else None
            if at_text and at is None:
                raise AdclearError(t("tip.bad_time", value=at_text))
            tips.feedback(g.db, tip_id, actor=_me(), text=_field("text", 2000), at=at, settings=settings)
        elif action == "close":
            tips.close(g.db, tip_id, actor=_me(), note=_field("note", 500), settings=settings)
        else:
            found = tips.get(g.db, tip_id)
            if found.url:
                _start_fetch(_setup(), found)
            return redirect(url_for("tips.show", tip_id=tip_id))
    except AdclearError as e:
        flash(t("tip.refused", detail=error_text(e)), "error")
        return redirect(url_for("tips.show", tip_id=tip_id))
    flash(t(f"tip.done_{action}"), "ok")
    return redirect(url_for("tips.show", tip_id=tip_id))


@bp.route("/tips/<id:tip_id>/verify", methods=["POST"])
@requires("reviewer")
def verify(tip_id: int) -> Any:
    return _step(tip_id, "verify")


@bp.route("/tips/<id:tip_id>/feedback", methods=["POST"])
@requires("reviewer")
def feedback(tip_id: int) -> Any:
    return _step(tip_id, "feedback")


@bp.route("/tips/<id:tip_id>/close", methods=["POST"])
@requires("reviewer")
def close(tip_id: int) -> Any:
    return _step(tip_id, "close")


@bp.route("/tips/<id:tip_id>/fetch", methods=["POST"])
@requires("reviewer")
def fetch(tip_id: int) -> Any:
    return _step(tip_id, "fetch")


@bp.route("/tips/<id:tip_id>/file/<sha>")
@requires("reviewer")
def attachment(tip_id: int, sha: str) -> Any:
    """An attachment of the tip, by the SHA-256 it was recorded with."""
    files = {a["sha256"]: a for a in tips.attachment_list(g.db, tip_id)}
    if sha not in files:
        abort(404)
    path = attachments.attachments_dir(g.db) / sha
    if not Path(path).is_file():
        abort(404)
    return send_file(path, download_name=files[sha]["name"], as_attachment=True)


@bp.route("/tips/export", methods=["POST"])
@requires("reviewer")
def export_ledger() -> Any:
    """The tips ledger as CSV or XLSX; with a reason (supervisors), the tipsters too, audited."""
    fmt = request.form.get("format", "xlsx")
    reason = _field("reason", 500) if _supervisor() else ""
    office = _setup().office
    try:
        content, name = tips_export.download(
            g.db, fmt, actor=_me(), office=ExportOffice(name=office.name, code=office.code),
            reveal_reason=reason, address=client_address(), settings=current_app.config["REVIEW"],
        )  # fmt: skip
    except AdclearError as e:
        flash(t("tip.refused", detail=error_text(e)), "error")
        return redirect(url_for("tips.listing"))
    response = current_app.response_class(content, mimetype=MIME_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.app_template_global()
def tips_of_ad(ad_id: int) -> list[tips.Tip]:
    """The tips that pointed at an ad (its page says so, with a link to each)."""
    return tips.for_ad(g.db, ad_id)
