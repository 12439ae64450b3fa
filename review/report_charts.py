"""The report's charts drawn as pictures with matplotlib, for the Word brief (PNG) and the HTML page (SVG).

Why matplotlib and not the web app's ECharts through headless Chromium: a chart here is a picture in a file
that is written once, so a library that draws straight to PNG and SVG in this process does it in tens of
milliseconds, with no browser to start, no page to load and nothing that could reach the network; the
workbook has native Excel charts of its own (``report_xlsx``), and the dashboard keeps ECharts.

Chinese text is set in Noto Sans CJK SC from Debian's fonts-noto-cjk (already in the Makefile's APT_PACKAGES);
when it is missing, drawing fails with a message that says so rather than printing boxes. SVG text is drawn as
paths, so a page that shows the SVG needs no font of its own and loads nothing. Figures are made with
``matplotlib.figure.Figure`` (no pyplot, no global state, no display needed).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from core.errors import AdclearError
from review.report_brief import ChartSpec

__all__ = ["CJK_FONT", "ChartFontMissing", "png", "svg"]

CJK_FONT = "Noto Sans CJK SC"
_WEEK = re.compile(r"^\d{4}-W(\d{2})（(.+)）$")
COLOURS = ("#2f5597", "#c00000", "#548235", "#bf8f00", "#7030a0")
# text as paths (no font needed where the SVG is shown); ids that do not change from one run to the next
SVG_SETTINGS: dict[Any, Any] = {"svg.fonttype": "path", "svg.hashsalt": "adclear"}
SIZE = (6.2, 3.2)  # inches: about the 15 cm of the Word brief, so that its text prints at its size


class ChartFontMissing(AdclearError):
    """No Chinese font to draw the charts with."""


def _font() -> str:
    try:
        found = str(font_manager.findfont(font_manager.FontProperties(family=CJK_FONT), fallback_to_default=False))
    except ValueError:
        found = ""
    if not found or not Path(found).exists():
        raise ChartFontMissing(
            f"cannot draw the report's charts: the font {CJK_FONT} is not installed; install Debian's "
            "fonts-noto-cjk (make system-deps)",
            zh=f"无法绘制报告图表：未安装字体 {CJK_FONT}。请管理员安装 Debian 的 fonts-noto-cjk（make system-deps）。",
        )
    return CJK_FONT


def _bars(ax: Axes, spec: ChartSpec) -> None:
    n = len(spec.series)
    width = min(0.8, 0.15 * len(spec.categories) + 0.3) / n  # a few categories get narrower bars
    positions = range(len(spec.categories))
    for i, (label, values) in enumerate(spec.series):
        xs = [p - width * n / 2 + width * (i + 0.5) for p in positions]
        bars = ax.bar(xs, values, width, label=label, color=COLOURS[i % len(COLOURS)])
        ax.bar_label(bars, fontsize=8, padding=1)
    ax.set_xticks(list(positions), [_short(c) for c in spec.categories], rotation=30 if len(spec.categories) > 5 else 0)
    ax.tick_params(axis="x", labelsize=8)


def _lines(ax: Axes, spec: ChartSpec) -> None:
    positions = list(range(len(spec.categories)))
    for i, (label, values) in enumerate(spec.series):
        ax.plot(positions, values, marker="o", label=label, color=COLOURS[i % len(COLOURS)], linewidth=1.8)
    ax.set_xticks(positions, [_short(c) for c in spec.categories], rotation=30 if len(positions) > 6 else 0)
    ax.tick_params(axis="x", labelsize=8)


def _funnel(ax: Axes, spec: ChartSpec) -> None:
    _, values = spec.series[0]
    positions = list(range(len(values)))[::-1]  # the first step on top
    bars = ax.barh(positions, values, color=COLOURS[0], height=0.6)
    ax.bar_label(bars, fontsize=8, padding=2)
    ax.set_yticks(positions, list(spec.categories))
    ax.set_xlim(0, max(max(values), 1) * 1.15)


def _short(label: str, width: int = 12) -> str:
    """A tick's label: a week "2026-W48（11-23 至 11-29）" on two lines, "W48" over its days; others cut."""
    week = _WEEK.match(label)
    if week:
        return f"W{week.group(1)}\n{week.group(2).replace(' 至 ', '–')}"
    return label if len(label) <= width else label[: width - 1] + "…"


def _figure(spec: ChartSpec) -> Figure:
    font = _font()
    fig = Figure(figsize=SIZE, layout="constrained")
    fig.set_facecolor("white")
    ax = fig.add_subplot()
    with_font = {"family": font}
    ax.set_title(spec.title, fontdict={**with_font, "size": 11})
    if spec.empty:
        ax.text(0.5, 0.5, "本期无数据", ha="center", va="center", transform=ax.transAxes, fontdict=with_font)
        ax.set_xticks([])
        ax.set_yticks([])
    elif spec.kind == "funnel":
        _funnel(ax, spec)
    else:
        (_lines if spec.kind == "line" else _bars)(ax, spec)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 ad
        top = max(v for _, values in spec.series for v in values)
        ax.set_ylim(0, top * 1.15)  # room for the bars' labels
        ax.legend(prop={**with_font, "size": 8}, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for text in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        text.set_fontfamily(font)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x" if spec.kind == "funnel" else "y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig


def png(spec: ChartSpec, dpi: int = 200) -> bytes:
    out = io.BytesIO()
    _figure(spec).savefig(out, format="png", dpi=dpi)
    return out.getvalue()


def svg(spec: ChartSpec) -> bytes:
    """SVG with its text as paths (``svg.fonttype`` "path"), no metadata that changes between runs."""
    out = io.BytesIO()
    fig = _figure(spec)
    with rc_context(SVG_SETTINGS):
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
