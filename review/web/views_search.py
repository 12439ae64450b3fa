"""Search over every ad, and the page of a contact or an advertiser with every ad tied to it (all roles)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template, request

from core.errors import AdclearError
from review import entities
from review import search as finder
from review.adview import CONTACT_KINDS
from review.queue import filter_options
from review.web import params
from review.web.i18n import error_text, punct, t
from review.web.security import requires

__all__ = ["bp"]

bp = Blueprint("search", __name__)
PAGE_SIZE = 30
MAX_VALUE = 300  # characters of a contact value or advertiser name in a link


@bp.route("/search")
@requires("reviewer")
def search_page() -> Any:
    for name in params.DATE_PARAMS:
        params.day(request.args.get(name, "").strip(), name)
    q = finder.Query.from_args(request.args)
    page = min(params.number("page", default=1) or 1, 1000)
    rows: list[dict[str, Any]] = []
    parsed, error = None, ""
    if q.active:
        try:
            parsed = finder.parse(q)
            rows = finder.search(g.db, q, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        except AdclearError as e:  # a contact field that reads as no contact
            error = error_text(e)
    return render_template(
        "search.html",
        q=q,
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        error=error,
        parsed=parsed,
        sites=filter_options(g.db)["sites"],
        labels=finder.LABELS,
        decisions=finder.DECISIONS,
    )


@bp.route("/entity")
@requires("reviewer")
def entity() -> Any:
    """``?kind=mobile&value=13800138000`` (a contact, normalised) or ``?author=NAME`` (an advertiser)."""
    author = request.args.get("author", "")[:MAX_VALUE]
    kind, value = request.args.get("kind", ""), request.args.get("value", "")[:MAX_VALUE]
    if author:
        data = entities.advertiser(g.db, author)
    elif kind in CONTACT_KINDS and value:
        data = entities.contact(g.db, kind, value)
    else:
        params.bad("kind", t("err.bad_entity", kinds=punct()["list"].join(CONTACT_KINDS)))
    if not data["ads"]:
        abort(404)
    return render_template("entity.html", e=data, is_author=bool(author))
