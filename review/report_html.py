"""The report as one HTML page, for the browser and for printing on A4 (``review/templates/report.html``).

The page is whole in itself: its styles inline, its charts SVG pictures in ``data:`` URIs (``report_charts``,
text drawn as paths), and a Content-Security-Policy that forbids every fetch, so it shows the same offline, on
an intranet or from a USB stick, and opening it tells nobody. Jinja2 escapes every value: a site's name or an
overdue ad's URL is text, never markup, and the pictures are ``<img>``s, in which no script runs.
"""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from review import report_charts
from review.report_brief import Brief

__all__ = ["render"]

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)


def render(brief: Brief) -> str:
    """The page's HTML, its charts embedded."""
    images = {
        chart.key: "data:image/svg+xml;base64," + base64.b64encode(report_charts.svg(chart)).decode("ascii")
        for section in brief.sections
        for chart in section.charts
    }
    return _ENV.get_template("report.html").render(b=brief, images=images)
