"""Reports on the small campaign of test_stats (issue 17's second "must show"): two crawls of the demo sites in
two ISO weeks, confirmations, a rejection and a reversal, a 交办单, a re-check that finds one ad removed, an
overdue takedown, tips. Each report is read back and its numbers compared with what `adclear stats --json`
prints for the same campaign: totals and, in the workbook, every row of every breakdown and the overdue list."""

from __future__ import annotations

import json

import pytest
from docx import Document
from lxml import html as lxml_html
from openpyxl import load_workbook

from review.report_xlsx import OVERDUE, SHEETS, SUMMARY
from review.statistics import BREAKDOWNS, METRICS
from tests.test_reports import HEADINGS, adclear_here, said_in
from tests.test_stats import build

pytestmark = pytest.mark.slow

CAMPAIGN = "冬季专项"


@pytest.fixture(scope="module")
def server(own_demo_server):
    return own_demo_server


def test_reports_of_a_campaign_agree_with_stats(server, tmp_path):
    db_path, _seeds, _ads, late = build(server, tmp_path)
    phases = ("--phase", "部署落实:2026-11-16:2026-11-22", "--phase", "排查整治:2026-11-23:2026-11-29")
    days = ("--from", "2026-11-16", "--to", "2026-11-29")
    adclear_here(db_path, "campaign", "create", CAMPAIGN, *days, "--office", "示范县处非办", *phases, "--as", "王五")
    got = json.loads(adclear_here(db_path, "stats", "--campaign", CAMPAIGN, "--today", str(late), "--json"))
    assert got["totals"]["takedowns_removed"] == 1 and got["totals"]["takedowns_overdue"] == 1  # the story
    for fmt in ("xlsx", "docx", "html"):  # in this process: no crawl, no reactor
        adclear_here(db_path, "report", "--campaign", CAMPAIGN, "--today", str(late), "--format", fmt,
                     "-o", str(tmp_path / f"r.{fmt}"))  # fmt: skip

    book = load_workbook(tmp_path / "r.xlsx")
    summary = book[SUMMARY]
    assert {k: summary.cell(r, 2).value for r, k in enumerate(METRICS, start=2)} == got["totals"]
    for key in BREAKDOWNS:
        sheet = book[SHEETS[key]]
        header = [c.value for c in sheet[1]]
        rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2, max_row=sheet.max_row)]
        shown = {row[0]: {m: row[header.index(label)] for m, label in METRICS.items()} for row in rows if row[0]}
        assert shown == {r["label"]: r["counts"] for r in got["breakdowns"][key]}, key
    assert [type(c).__name__ for c in book[SHEETS["week"]]._charts] == ["LineChart"]
    assert [row[0].value for row in book[OVERDUE].iter_rows(min_row=2)] == [o["takedown_id"] for o in got["overdue"]]

    doc = Document(str(tmp_path / "r.docx"))
    sections: dict[str, str] = {}
    for p in doc.paragraphs:
        if p.style.name == "Heading 1":
            sections[p.text] = ""
        elif sections:
            sections[list(sections)[-1]] += p.text
    assert list(sections) == HEADINGS
    assert said_in(sections[HEADINGS[0]]) == got["totals"]
    assert "部署落实" in sections[HEADINGS[0]] and "有1条违法广告逾期未处置" in sections[HEADINGS[2]]
    weeks = [[c.text for c in row.cells] for row in doc.tables[1].rows][1:]
    assert [w[0] for w in weeks] == [r["label"] for r in got["breakdowns"]["week"]]
    assert [int(w[1]) for w in weeks] == [r["counts"]["sightings"] for r in got["breakdowns"]["week"]]

    page = lxml_html.fromstring((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert said_in("".join(p.text_content() for p in page.xpath("//section[1]/p"))) == got["totals"]
