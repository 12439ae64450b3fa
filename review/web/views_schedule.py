"""The 监测计划 page (supervisors): each job of `adclear scheduler`, its schedule and next run, its last runs with
their figures, and a "run now" button that leaves a request the scheduler takes on its next pass."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for

from core import scheduling
from core.db import immediate
from core.errors import AdclearError
from review import audit
from review.web.i18n import error_text, t
from review.web.security import client_address, requires

__all__ = ["bp"]

bp = Blueprint("schedule", __name__)
_JOB = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # a site's name (core.seeds) or 'recheck'


@bp.route("/schedule")
@requires("supervisor")
def overview() -> Any:
    info = scheduling.scheduler_info(g.db)
    return render_template(
        "schedule.html",
        jobs=scheduling.overview(g.db),
        info=info,
        alive=info is not None and info.alive(datetime.now(UTC)),
        recheck_job=scheduling.RECHECK_JOB,
    )


@bp.route("/schedule/<job>/run", methods=["POST"])
@requires("supervisor")
def run_now(job: str) -> Any:
    if not _JOB.match(job):
        abort(404)
    me = g.web_session.user.name
    try:
        request_id, new = scheduling.request_run(g.db, job, me)
    except AdclearError as e:
        flash(t("err.refused", detail=error_text(e)), "error")
        return redirect(url_for("schedule.overview"))
    if new:
        with immediate(g.db):
            audit.record(
                g.db, actor=me, action="schedule_run_now", target=job, detail={"request": request_id},
                address=client_address(),
            )  # fmt: skip
    flash(t("sched.requested" if new else "sched.already_requested", job=job), "ok")
    return redirect(url_for("schedule.overview"))
