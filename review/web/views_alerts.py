"""The 告警 page (supervisors, admins): alerts with their deliveries, failed ones first, and each run's health.

The page reads; it sends nothing. A delivery given up can be put back in line ("retry"): the next
``adclear alerts deliver`` (cron or the scheduler) sends it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for

from core.db import immediate
from core.runhealth import recent_runs
from core.timeutil import local
from review import alerts, audit
from review.alertsend import retry_failed
from review.web.i18n import t
from review.web.security import client_address, requires

__all__ = ["bp"]

bp = Blueprint("alerts", __name__)


@bp.route("/alerts")
@requires("supervisor")
def listing() -> Any:
    found = alerts.listing(g.db, limit=200)
    by_alert = alerts.deliveries(g.db, [a.id for a in found])
    rows = [{"alert": a, "deliveries": by_alert[a.id], "raised": local(a.raised_at), "last": local(a.last_at)}
            for a in found]  # fmt: skip
    failed = [r for r, a in zip(rows, found, strict=True) if any(d.state == "failed" for d in by_alert[a.id])]
    runs = recent_runs(g.db, limit=30)
    for run in runs:
        run["started"] = local(str(run["started_at"]))
    return render_template("alerts.html", rows=rows, failed=failed, runs=runs, local=local)


@bp.route("/alerts/<id:alert_id>/retry", methods=["POST"])
@requires("supervisor")
def retry(alert_id: int) -> Any:
    if alerts.get(g.db, alert_id) is None:
        abort(404)
    count = retry_failed(g.db, alert_id)
    with immediate(g.db):
        audit.record(g.db, actor=g.web_session.user.name, action="alert_retry", target=f"alert:{alert_id}",
                     detail={"deliveries": count}, address=client_address())  # fmt: skip
    flash(t("al.retried", id=alert_id, n=count), "ok")
    return redirect(url_for("alerts.listing"))
