"""The dashboard (统计): a campaign's, a phase's or any days' 量化统计 with charts, drawn by the vendored ECharts.

Supervisors and admins see every figure of ``review.statistics`` (the same ``Statistics`` as ``adclear stats``
and the reports), the charts (trend by week, by category, by platform, the takedown funnel) and the overdue
list, and download a chosen campaign's report (``review.reports``, as ``adclear report`` writes it; audited); a
reviewer sees the queue's figures and his own decisions. The chart data travels as JSON inside the page
(``|tojson`` escapes it) and ``static/dashboard.js`` draws it; tooltips are drawn on the canvas (ECharts'
``richText``), so a site's name is never HTML.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for

from core.db import immediate
from core.errors import AdclearError
from review import audit, campaigns, queue, reports, statistics, takedowns
from review.statistics import METRICS, Period, Row, Statistics, week_label
from review.web import params
from review.web.i18n import category, error_text, punct, t
from review.web.security import client_address, requires

__all__ = ["bp"]

bp = Blueprint("stats", __name__)

DEFAULT_DAYS = 28  # without a campaign or dates: the last four weeks
TREND = ("flagged", "confirmed", "takedowns_requested", "takedowns_removed")
FUNNEL = ("takedowns_requested", "takedowns_dispatched", "takedowns_removed")
PLATFORM = ("ads_seen", "flagged", "confirmed")


@dataclass(frozen=True)
class _Choice:
    campaign: str
    phase: str
    start: date | None
    end: date | None


def _choice() -> _Choice:
    args = request.args
    return _Choice(
        args.get("campaign", "").strip()[:200],
        args.get("phase", "").strip()[:200],
        params.day(args.get("from", "").strip(), "from"),
        params.day(args.get("to", "").strip(), "to"),
    )


def _statistics(choice: _Choice) -> Statistics:
    if choice.campaign:
        return statistics.for_campaign(g.db, choice.campaign, choice.phase or None, choice.start, choice.end)
    end = choice.end or takedowns.today_in_china()
    start = choice.start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise campaigns.CampaignError(t("dash.bad_period", start=start, end=end))
    return statistics.compute(g.db, Period(start, end))


def label(metric: str) -> str:
    return t(f"stat.{metric}", default=METRICS[metric])


def row_label(breakdown: str, row: Row) -> str:
    """A breakdown's row as this reader reads it (``Row.label`` is the Chinese of the reports)."""
    p = punct()
    if breakdown == "week":
        return week_label(row.key, p["open"], p["to"], p["close"])
    if breakdown == "category":
        return category(row.key) if row.key else t("dash.no_category")
    return row.key or t("dash.none")


def period_label(period: Period) -> str:
    return period.label(punct()["to"])


def _charts(s: Statistics) -> dict[str, Any]:
    """What static/dashboard.js draws, with its words in the user's language."""
    weeks = s.breakdowns["week"]
    sites = [r for r in s.breakdowns["site"] if r.key]  # tips without an ad have no site
    cats = [r for r in s.breakdowns["category"] if r.counts["flagged"] or r.counts["confirmed"]]
    return {
        "trend": {
            "title": t("dash.trend"),
            "x": [r.key for r in weeks],
            "series": [{"name": label(m), "data": [r.counts[m] for r in weeks]} for m in TREND],
        },
        "category": {
            "title": t("dash.by_category"),
            "x": [category(r.key) if r.key else t("dash.no_category") for r in cats],
            "series": [{"name": label(m), "data": [r.counts[m] for r in cats]} for m in ("flagged", "confirmed")],
        },
        "platform": {
            "title": t("dash.by_platform"),
            "x": [r.label for r in sites],
            "series": [{"name": label(m), "data": [r.counts[m] for r in sites]} for m in PLATFORM],
        },
        "funnel": {
            "title": t("dash.funnel"),
            "data": [{"name": label(m), "value": s.totals[m]} for m in FUNNEL],
        },
        "empty": t("dash.empty"),
    }


@bp.route("/dashboard")
@requires("reviewer")
def dashboard() -> Any:
    me = g.web_session.user
    choice = _choice()
    try:
        s = _statistics(choice)
    except AdclearError as e:
        flash(t("err.refused", detail=error_text(e)), "error")
        choice = _Choice("", "", None, None)
        s = _statistics(choice)
    chosen = campaigns.get(g.db, choice.campaign) if choice.campaign else None
    common = {
        "s": s,
        "choice": choice,
        "all_campaigns": campaigns.listing(g.db),
        "chosen": chosen,
        "label": label,
        "row_label": row_label,
        "period_label": period_label,
        "metrics": list(METRICS),
    }
    if me.role == "reviewer":
        mine = next((r.counts for r in s.breakdowns["reviewer"] if r.key == me.name), dict.fromkeys(METRICS, 0))
        return render_template("dashboard.html", own=mine, counts=queue.counts(g.db, reviewer=me.name), **common)
    return render_template("dashboard.html", own=None, charts=_charts(s), **common)


@bp.route("/dashboard/report")
@requires("supervisor")
def report() -> Any:
    """The chosen campaign's (or phase's, or days') report as ``adclear report`` writes it, downloaded."""
    choice = _choice()
    fmt = request.args.get("format", "")
    if fmt not in reports.FORMATS or not choice.campaign:
        abort(400)
    try:
        s = _statistics(choice)
    except AdclearError as e:
        flash(t("err.refused", detail=error_text(e)), "error")
        return redirect(url_for("stats.dashboard"))
    office = current_app.config.get("OFFICE")
    if not s.office and office is not None:
        s = dataclasses.replace(s, office=office.name)
    today = takedowns.today_in_china()
    name = reports.default_name(s, fmt)
    whole = not (choice.phase or choice.start or choice.end)
    try:
        with tempfile.TemporaryDirectory(prefix="adclear-report-") as work:
            path = Path(work) / f"report.{fmt}"
            reports.write(s, path, fmt, today=today, whole=whole)
            content = path.read_bytes()
    except AdclearError as e:  # no CJK font for the charts, a full disk: said, nothing half sent
        flash(t("err.refused", detail=error_text(e)), "error")
        return redirect(url_for("stats.dashboard"))
    me = g.web_session.user.name
    with immediate(g.db):
        audit.record(
            g.db, actor=me, action="report", target=s.title,
            detail={"format": fmt, "period": f"{s.period.start.isoformat()} – {s.period.end.isoformat()}"},
            address=client_address(),
        )  # fmt: skip
    return send_file(io.BytesIO(content), mimetype=REPORT_TYPES[fmt], as_attachment=True, download_name=name)


REPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html; charset=utf-8",
}
