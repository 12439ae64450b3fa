"""The 处置 pages: takedowns by state and receiver (overdue first), dispatch batches, feedback, a takedown's history.

Reviewers list takedowns, put the selected ones into batches (one 交办单 per receiver) and record what a receiver
answered, with attachments (kept beside the database under their SHA-256, which the ledger records; at most
``review.attachments.MAX_ATTACHMENT`` bytes). Supervisors approve a batch (four-eyes: ``review.dispatch.approve``
refuses one who confirmed any of its ads, whatever the page showed), send it by e-mail or record its handover
(``review.delivery``).
The views call ``review`` functions and hold no SQL; what dispatching needs from the deployment (receivers.yml,
the office, the mail server) is ``app.config["DISPATCH"]``: a ``review.dispatch.Setup``, or a function that
returns one (the command line loads the files when first needed, so that a mistake in receivers.yml is shown
on this page and does not stop the review app).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for

from core.errors import AdclearError
from core.timeutil import parse_local
from review import attachments, delivery, dispatch, takedowns
from review.web.i18n import error_text, punct, t
from review.web.security import client_address, requires
from review.workdays import check_given_deadline, today_china

__all__ = ["MAX_UPLOAD", "bp", "install"]

bp = Blueprint("takedowns", __name__)
MAX_UPLOAD = attachments.MAX_ATTACHMENT + 64 * 1024  # one attachment and the form around it
MAX_FIELD = 500  # characters kept of a feedback result, a name or a note
STATE_FILTERS = ("open", "all", *takedowns.STATES)


def install(app: Flask) -> None:
    """The blueprint, and a larger request limit for the feedback form alone, set before the CSRF check reads
    the form (everything else keeps the app's 256 KB)."""
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _upload_limit)


def _upload_limit() -> None:
    if request.endpoint == "takedowns.feedback":
        request.max_content_length = MAX_UPLOAD


def _me() -> str:
    return g.web_session.user.name


def _setup() -> dispatch.Setup:
    """The dispatch setup the command line gave the app; ``AdclearError`` when it cannot be loaded."""
    found = current_app.config.get("DISPATCH")
    if found is None:
        raise AdclearError(t("td.no_setup"))
    return found() if callable(found) else found


def _field(name: str) -> str:
    return request.form.get(name, "").strip()[:MAX_FIELD]


@bp.route("/takedowns")
@requires("reviewer")
def listing() -> Any:
    state = request.args.get("state", "open")
    if state not in STATE_FILTERS:
        abort(400)
    receiver = request.args.get("receiver", "").strip()[:80] or None
    overdue = request.args.get("overdue") == "1"
    setup, problem = None, ""
    try:
        setup = _setup()
    except AdclearError as e:
        problem = error_text(e)
    rows = takedowns.listing(
        g.db, state=None if state == "all" else state, receiver=receiver, overdue=True if overdue else None
    )
    everything = takedowns.listing(g.db)
    counts = {s: sum(1 for x in everything if x.state == s) for s in takedowns.STATES}
    today = takedowns.today_in_china()
    return render_template(
        "takedowns.html",
        rows=dispatch.overview(g.db, setup.receivers if setup else None, rows[:500]),
        more=len(rows) > 500,
        counts=counts,
        overdue_count=sum(1 for x in everything if x.overdue(today)),
        state=state,
        states=takedowns.STATES,
        receiver=receiver or "",
        receivers=sorted(setup.receivers.receivers.values(), key=lambda r: r.key) if setup else [],
        overdue=overdue,
        today=today,
        batches=dispatch.listing(g.db, limit=50),
        receiver_of=(lambda key: setup.receivers.receivers.get(key) if setup else None),
        smtp=bool(setup and setup.smtp),
        setup_problem=problem,
    )


def _back() -> Any:
    """To the list, with the filter it was shown with."""
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("state", "receiver")}
    return redirect(url_for("takedowns.listing", **kept))


@bp.route("/takedowns/batch", methods=["POST"])
@requires("reviewer")
def create_batch() -> Any:
    chosen = [int(x) for x in request.form.getlist("takedown") if x.isascii() and x.isdigit() and len(x) < 19]
    if not chosen:
        flash(t("td.none_selected"), "warn")
        return _back()
    try:
        made = dispatch.create(g.db, _setup(), actor=_me(), takedown_ids=chosen, address=client_address())
    except AdclearError as e:
        flash(t("td.refused", detail=error_text(e)), "error")
        return _back()
    flash(t("td.batches_made", numbers=punct()["list"].join(b.number for b in made)), "ok")
    return _back()


def _batch_action(batch_id: int, action: str) -> Any:
    """Approve, void, send or hand over one batch; every refusal is a message on the page, never a half-done batch."""
    try:
        setup = _setup()
        given = _field("deadline")  # a deadline typed by hand (past the working-day calendar's years, say)
        due = check_given_deadline(given, today=today_china()) if given else None
        if action == "approve":
            done = dispatch.approve(g.db, batch_id, supervisor=_me(), address=client_address(), settings=setup.settings)
        elif action == "cancel":
            done = dispatch.cancel(
                g.db, batch_id, supervisor=_me(), reason=_field("reason"), address=client_address(),
                settings=setup.settings,
            )  # fmt: skip
        elif action == "send":
            done = delivery.send(g.db, batch_id, setup, actor=_me(), deadline=due, address=client_address())
        else:
            done = delivery.handover(
                g.db, batch_id, setup, to=_field("to"), note=_field("note"), actor=_me(), deadline=due,
                address=client_address(),
            )  # fmt: skip
    except delivery.DeliveryFailed as e:
        flash(t("td.send_failed", detail=error_text(e)), "error")
        return _back()
    except AdclearError as e:
        flash(t("td.refused", detail=error_text(e)), "error")
        return _back()
    flash(t(f"td.batch_{action}", number=done.number), "ok")
    return _back()


@bp.route("/dispatch/<id:batch_id>/approve", methods=["POST"])
@requires("supervisor")
def approve(batch_id: int) -> Any:
    return _batch_action(batch_id, "approve")


@bp.route("/dispatch/<id:batch_id>/send", methods=["POST"])
@requires("supervisor")
def send(batch_id: int) -> Any:
    return _batch_action(batch_id, "send")


@bp.route("/dispatch/<id:batch_id>/handover", methods=["POST"])
@requires("supervisor")
def handover(batch_id: int) -> Any:
    return _batch_action(batch_id, "handover")


@bp.route("/dispatch/<id:batch_id>/cancel", methods=["POST"])
@requires("supervisor")
def cancel(batch_id: int) -> Any:
    return _batch_action(batch_id, "cancel")


@bp.route("/dispatch/<id:batch_id>/notice.pdf")
@requires("reviewer")
def notice(batch_id: int) -> Any:
    """The notice as it was delivered (its SHA-256 is in the ledger)."""
    try:
        found = dispatch.get(g.db, batch_id)
    except AdclearError:
        abort(404)
    data_dir = Path(current_app.config["DATA_DIR"])
    if not found.notice_file:
        abort(404)
    path = (data_dir / found.notice_file).resolve()
    if data_dir.resolve() not in path.parents or not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/pdf", download_name=f"{found.number}.pdf")


@bp.route("/takedowns/<id:takedown_id>/feedback", methods=["POST"])
@requires("reviewer")
def feedback(takedown_id: int) -> Any:
    try:
        current = takedowns.get(g.db, takedown_id)
    except AdclearError:
        abort(404)
    back = redirect(url_for("review.ad", ad_id=current.ad_id, _anchor=f"takedown-{current.id}"))
    if current.state in ("closed", "cancelled", "requested", "removed"):
        flash(t("td.feedback_refused", id=current.id, state=current.state_label), "error")
        return back
    at_text = _field("at")
    at = parse_local(at_text) if at_text else None
    if at_text and at is None:
        flash(t("td.bad_time", value=at_text), "error")
        return back
    try:
        files = [f for f in request.files.getlist("attachment") if f and f.filename]
        stored = [attachments.store_attachment(g.db, f.filename or "", f.read()) for f in files]
        takedowns.record_feedback(
            g.db, takedown_id, result=_field("result"), by=_field("by"), at=at, attachments=stored, actor=_me(),
            settings=_settings(),
        )  # fmt: skip
    except AdclearError as e:
        flash(t("td.refused", detail=error_text(e)), "error")
        return back
    flash(t("td.feedback_recorded", id=takedown_id), "ok")
    return back


def _settings() -> Any:
    return current_app.config["REVIEW"]


@bp.app_template_global()
def takedown_history(ad_id: int) -> list[dict[str, Any]]:
    """Each takedown of an ad with its whole history from the ledger (the ad page shows them)."""
    today = takedowns.today_in_china()
    try:
        names = {key: r.name for key, r in _setup().receivers.receivers.items()}
    except AdclearError:
        names = {}  # the 处置 page says what is wrong with the setup; here the keys do
    return [
        {
            "t": item,
            "overdue": item.overdue(today),
            "receiver": names.get(item.receiver or "", item.receiver or ""),
            "entries": takedowns.history(g.db, item.id),
        }
        for item in takedowns.for_ad(g.db, ad_id)
    ]
