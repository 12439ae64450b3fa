"""Reports (adclear report): each file read back with its own library, every number compared with the Statistics
it was made from; hostile crawled text stays text; an empty period still makes a report."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from lxml import html as lxml_html
from openpyxl import load_workbook
from openpyxl.chart import BarChart, LineChart

from adclear.cli import main
from core.db import connect
from review import campaigns, reports
from review.decisions import confirm, reject
from review.report_brief import brief, hours_text, rate_text
from review.report_xlsx import INFO, OVERDUE, SHEETS, SUMMARY
from review.statistics import METRICS, Statistics
from review.takedowns import today_in_china
from tests import reportdata, webdata

TODAY = date(2026, 12, 3)
CAMPAIGN = "打击非法集资广告专项整治"
# How section 一 says each total; the test reads the number back from the sentence.
SAID = {
    "sites": r"监测网站(\d+)个",
    "pages": r"页面(\d+)个",
    "sightings": r"监测(\d+)条次",
    "ads_seen": r"发现广告(\d+)条",
    "flagged": r"疑似违法广告(\d+)条",
    "confirmed": r"确认违法广告(\d+)条",
    "rejected": r"驳回(\d+)条",
    "takedowns_requested": r"提请处置(\d+)条",
    "takedowns_dispatched": r"已交办(\d+)条",
    "takedowns_removed": r"已删除(\d+)条",
    "takedowns_overdue": r"逾期未处置(\d+)条",
    "takedowns_reappeared": r"删除后复现(\d+)条",
    "tips_received": r"举报线索(\d+)条",
    "tips_verified": r"核查属实(\d+)条",
    "tips_to_takedowns": r"转处置(\d+)条",
}
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
HEADINGS = ["一、工作开展情况", "二、主要数据", "三、存在的问题", "四、下一步工作"]


def said_in(text: str) -> dict[str, int]:
    found = {}
    for key, pattern in SAID.items():
        match = re.search(pattern, text)
        assert match, f"{key}: {pattern} not in {text!r}"
        found[key] = int(match.group(1))
    return found


def check_sentences(text: str, stats: Statistics) -> None:
    """Every total, the illegal rate and the durations in the words of section 一."""
    assert said_in(text) == stats.totals
    if stats.illegal_rate is not None:
        assert f"违法率{rate_text(stats.illegal_rate)}" in text
    confirm_ = stats.time_to_confirm
    if confirm_.count:
        assert f"从首次发现到确认的中位时长为{hours_text(confirm_.median_hours)}小时" in text
        assert f"90%在{hours_text(confirm_.p90_hours)}小时以内" in text


def write(stats: Statistics, tmp_path: Path, fmt: str, **kw) -> Path:
    path = tmp_path / f"report.{fmt}"
    reports.write(stats, path, fmt, today=kw.pop("today", TODAY), **kw)
    return path


# ---------------------------------------------------------------- XLSX


def _column(sheet, title: str) -> int:
    header = [c.value for c in sheet[1]]
    return header.index(title) + 1


def test_xlsx_sheets_numbers_and_native_charts(tmp_path):
    stats = reportdata.sample()
    book = load_workbook(write(stats, tmp_path, "xlsx"))
    assert book.sheetnames == [SUMMARY, *SHEETS.values(), OVERDUE, INFO]
    summary = book[SUMMARY]
    shown = {summary.cell(r, 1).value: summary.cell(r, 2).value for r in range(2, summary.max_row + 1)}
    assert {key: shown[label] for key, label in METRICS.items()} == stats.totals
    assert shown["违法率"] == pytest.approx(stats.illegal_rate)
    assert shown["发现→确认 中位时长（小时）"] == stats.time_to_confirm.median_hours
    assert shown["确认→删除 90%时长（小时）"] == stats.time_to_removal.p90_hours
    for key, title in SHEETS.items():
        sheet = book[title]
        rows = stats.breakdowns[key]
        assert [sheet.cell(r, 1).value for r in range(2, len(rows) + 2)] == [r.label for r in rows]
        for metric, label in METRICS.items():
            col = _column(sheet, label)
            assert [sheet.cell(r, col).value for r in range(2, len(rows) + 2)] == [r.counts[metric] for r in rows]
    charts = {title: book[title]._charts for title in book.sheetnames}
    assert [type(c) for c in charts[SUMMARY]] == [BarChart] and charts[SUMMARY][0].type == "bar"
    assert [type(c) for c in charts[SHEETS["week"]]] == [LineChart]
    assert [type(c) for c in charts[SHEETS["category"]]] == [BarChart]
    assert [type(c) for c in charts[SHEETS["site"]]] == [BarChart]
    trend = charts[SHEETS["week"]][0]
    refs = [s.val.numRef.f for s in trend.series]  # the chart reads the cells of its own sheet
    week = book[SHEETS["week"]]
    for ref, metric in zip(refs, ("flagged", "confirmed", "takedowns_removed"), strict=True):
        letter = re.search(r"\$([A-Z]+)\$2", ref).group(1)
        assert week[f"{letter}1"].value == METRICS[metric]
        assert [week[f"{letter}{r}"].value for r in range(2, 5)] == [r.counts[metric] for r in stats.breakdowns["week"]]


def test_xlsx_crawled_text_is_never_a_formula(tmp_path):
    stats = reportdata.sample()
    book = load_workbook(write(stats, tmp_path, "xlsx"))
    overdue = book[OVERDUE]
    assert overdue.max_row == len(stats.overdue) + 1
    url = overdue.cell(2, 7)
    assert url.data_type == "s" and url.value == reportdata.HOSTILE_URL.replace("\x07", "")
    assert url.hyperlink is None  # not http(s): no link
    assert overdue.cell(3, 7).hyperlink.target == stats.overdue[1].url
    assert [overdue.cell(r, 6).value for r in range(2, 5)] == [i.days_overdue for i in stats.overdue]
    assert overdue.cell(2, 3).value == reportdata.HOSTILE_SITE
    sites = book[SHEETS["site"]]
    [cell] = [c for c in sites["A"] if c.value == reportdata.FORMULA_SITE]
    assert cell.data_type == "s"  # text, not the formula =1+1


# ---------------------------------------------------------------- DOCX


def _docx_sections(doc) -> dict[str, list[str]]:
    """Body paragraphs by the heading above them."""
    sections: dict[str, list[str]] = {}
    current = None
    for p in doc.paragraphs:
        if p.style.name == "Heading 1":
            current = p.text
            sections[current] = []
        elif current and p.text.strip():
            sections[current].append(p.text)
    return sections


def _table_values(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def test_docx_headings_tables_and_numbers_in_the_text(tmp_path):
    stats = reportdata.sample()
    doc = Document(str(write(stats, tmp_path, "docx")))
    sections = _docx_sections(doc)
    assert list(sections) == HEADINGS
    check_sentences("".join(sections[HEADINGS[0]]), stats)
    assert f"有{stats.totals['takedowns_overdue']}条违法广告逾期未处置" in "".join(sections[HEADINGS[2]])
    totals = _table_values(doc.tables[0])
    assert totals[0] == ["指标", "数值"]
    assert {label: int(n) for label, n in totals[1:]} == {METRICS[k]: v for k, v in stats.totals.items()}
    by_category = _table_values(doc.tables[2])
    assert [row[0] for row in by_category[1:]] == [r.label for r in stats.breakdowns["category"]]
    assert [int(row[2]) for row in by_category[1:]] == [r.counts["confirmed"] for r in stats.breakdowns["category"]]
    overdue = _table_values(doc.tables[-1])
    assert [row[0] for row in overdue[1:]] == [str(i.takedown_id) for i in stats.overdue]
    assert overdue[1][5] == reportdata.HOSTILE_URL.replace("\x07", "")  # text, its control byte dropped
    assert len(doc.inline_shapes) == 4  # the four charts, as pictures
    captions = [p.text for p in doc.paragraphs if re.match(r"^[表图]\d+ ", p.text)]
    assert [c for c in captions if c.startswith("图")] == [
        "图1 按周趋势",
        "图2 按涉嫌类型",
        "图3 按网站/平台",
        "图4 处置漏斗",
    ]
    assert len([c for c in captions if c.startswith("表")]) == len(doc.tables)  # every table numbered


def test_docx_layout_fonts_and_page_numbers(tmp_path):
    doc = Document(str(write(reportdata.sample(), tmp_path, "docx", fonts="noto")))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "专项整治工作简报"
    assert texts[1] == f"{reportdata.sample().office}\t2026年12月3日"
    assert texts[2] == "打击非法集资广告专项整治工作进展情况"
    assert texts[-2:] == [reportdata.sample().office, "2026年12月3日"]  # signed at the end
    for style, font in (("Normal", "Noto Serif CJK SC"), ("Heading 1", "Noto Sans CJK SC")):
        fonts = doc.styles[style].element.rPr.rFonts
        assert fonts.get(f"{W}eastAsia") == font
        assert fonts.get(f"{W}eastAsiaTheme") is None  # Word would prefer the template's theme font to it
    assert doc.styles.element.find(f"{W}docDefaults").find(f".//{W}lang").get(f"{W}eastAsia") == "zh-CN"
    footer = doc.sections[0].footer._element.xml
    assert "PAGE" in footer and 'w:fldCharType="begin"' in footer
    # GB/T 9704: an odd page's number on the right, an even page's on the left, each one character in
    assert doc.settings.odd_and_even_pages_header_footer
    odd, even = doc.sections[0].footer.paragraphs[0], doc.sections[0].even_page_footer.paragraphs[0]
    assert (odd.alignment, even.alignment) == (WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.LEFT)
    assert odd.paragraph_format.right_indent.pt == 14 and even.paragraph_format.left_indent.pt == 14
    assert "PAGE" in doc.sections[0].even_page_footer._element.xml
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert round(section.top_margin.mm) == 37 and round(section.left_margin.mm) == 28


def test_a_whole_campaign_that_has_ended_is_a_summary(tmp_path):
    stats = reportdata.sample()
    said = brief(stats, date(2026, 12, 7))
    assert said.kind == "工作总结" and said.masthead == "" and said.title.endswith("工作总结")
    assert brief(stats, date(2026, 12, 6)).kind == "工作简报"  # its last day: still running
    doc = Document(str(write(stats, tmp_path, "docx", today=date(2026, 12, 7))))
    assert doc.paragraphs[0].text == "打击非法集资广告专项整治工作总结"


# ---------------------------------------------------------------- HTML


def test_html_numbers_escaping_and_nothing_from_the_network(tmp_path):
    stats = reportdata.sample()
    page = write(stats, tmp_path, "html").read_text(encoding="utf-8")
    tree = lxml_html.fromstring(page)
    assert [h.text_content() for h in tree.iter("h2")] == HEADINGS
    first = tree.xpath("//section[1]/p")
    check_sentences("".join(p.text_content() for p in first), stats)
    totals = tree.xpath("//table")[0]
    rows = [[c.text_content() for c in tr.iter("td")] for tr in totals.iter("tr")][1:]
    assert {label: int(n) for label, n in rows} == {METRICS[k]: v for k, v in stats.totals.items()}
    assert not tree.xpath("//script") and "<script>alert" not in page
    assert reportdata.HOSTILE_SITE in tree.text_content()  # shown, as text
    images = tree.xpath("//img/@src")
    assert len(images) == 4 and all(src.startswith("data:image/svg+xml;base64,") for src in images)
    assert not tree.xpath("//*[@href]") and not tree.xpath("//link")
    csp = tree.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]
    assert "default-src 'none'" in csp


# ---------------------------------------------------------------- empty period, bad input


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_an_empty_period_still_makes_a_report(tmp_path, fmt):
    stats = reportdata.empty()
    path = write(stats, tmp_path, fmt)
    if fmt == "docx":
        doc = Document(str(path))
        text = "".join(_docx_sections(doc)[HEADINGS[0]])
        assert said_in(text) == dict.fromkeys(METRICS, 0) and "尚无审核结论，未计算违法率" in text
        assert len(doc.inline_shapes) == 0 and "本期未发现逾期未处置和删除后复现的情况" in "".join(
            _docx_sections(doc)[HEADINGS[2]]
        )
    elif fmt == "xlsx":
        book = load_workbook(path)
        assert not book[SHEETS["week"]]._charts and book[SHEETS["week"]].max_row == 1
    else:
        tree = lxml_html.fromstring(path.read_text(encoding="utf-8"))
        assert not tree.xpath("//img") and "本期主要数据见表1。" in tree.text_content()


def test_a_report_that_cannot_be_made_leaves_no_file(tmp_path):
    with pytest.raises(reports.ReportError, match="unknown report format"):
        reports.write(reportdata.sample(), tmp_path / "r.pdf", "pdf", today=TODAY)
    with pytest.raises(reports.ReportError, match="unknown font set"):
        reports.write(reportdata.sample(), tmp_path / "r.docx", "docx", today=TODAY, fonts="comic")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(reports.ReportError, match="cannot write the report to .*a-file/r.html"):
        reports.write(reportdata.sample(), tmp_path / "a-file" / "r.html", "html", today=TODAY)
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


# ---------------------------------------------------------------- the command, on a campaign in a database


@pytest.fixture
def campaign_db(tmp_path) -> Path:
    """Six ads seen in one crawl run, three confirmed, one rejected; a campaign around today with two phases."""
    path = tmp_path / "adclear.db"
    ids = webdata.build(path)
    db = connect(path)
    confirm(db, ids["promo0"], reviewer="rev1", category="投资理财/P2P网贷", reason="保本承诺")
    confirm(db, ids["promo1"], reviewer="rev1", category="养老投资", reason="保本承诺")
    confirm(db, ids["promo2"], reviewer="rev2", category="私募股权/原始股", reason="原始股")
    reject(db, ids["promo4"], reviewer="rev2", reason="其他", note="互助会宣传材料")
    today = today_in_china()
    phases = (
        campaigns.Phase("部署落实", today - timedelta(days=10), today - timedelta(days=4)),
        campaigns.Phase("排查整治", today - timedelta(days=3), today + timedelta(days=10)),
    )
    spec = campaigns.CampaignSpec(
        "打击非法集资广告专项整治",
        today - timedelta(days=10),
        today + timedelta(days=10),
        office="示范市处非办",
        phases=phases,
    )
    campaigns.create(db, spec, actor="boss")
    db.close()
    return path


def _adclear(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), "--seeds", str(db.parent / "none.yml"), *args])


def adclear_here(db: Path, *args: str) -> str:
    """``adclear ARGS`` in this process (commands that crawl nothing); its output, after it succeeded."""
    result = _adclear(db, *args)
    assert result.exit_code == 0, f"adclear {' '.join(args)}: {result.output}"
    return result.output


def test_the_command_writes_each_format_with_the_numbers_of_stats(campaign_db, tmp_path):
    name = "打击非法集资广告专项整治"
    result = _adclear(campaign_db, "stats", "--campaign", name, "--json")
    assert result.exit_code == 0, result.output
    counted = json.loads(result.output)["totals"]
    assert counted["confirmed"] == 3 and counted["rejected"] == 1
    for fmt in reports.FORMATS:
        out = tmp_path / f"r.{fmt}"
        result = _adclear(campaign_db, "report", "--campaign", name, "--format", fmt, "-o", str(out))
        assert result.exit_code == 0, result.output
        assert "3 confirmed" in result.output and str(out) in result.output
    book = load_workbook(tmp_path / "r.xlsx")
    summary = book[SUMMARY]
    assert {k: summary.cell(r, 2).value for r, k in enumerate(METRICS, start=2)} == counted
    doc = Document(str(tmp_path / "r.docx"))
    sections = _docx_sections(doc)
    assert said_in("".join(sections[HEADINGS[0]])) == counted
    assert "部署落实" in sections[HEADINGS[0]][0] and doc.paragraphs[1].text.startswith("示范市处非办\t")
    page = lxml_html.fromstring((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert said_in("".join(p.text_content() for p in page.xpath("//section[1]/p"))) == counted


def test_the_command_on_a_bad_campaign_or_an_empty_period(campaign_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _adclear(campaign_db, "report", "--campaign", "没有这个", "--format", "html")
    assert result.exit_code == 1 and "no campaign named '没有这个'" in result.output
    result = _adclear(
        campaign_db, "report", "--campaign", "打击非法集资广告专项整治", "--phase", "x", "--format", "html"
    )
    assert result.exit_code == 1 and "x" in result.output
    result = _adclear(
        campaign_db, "report", "--campaign", "打击非法集资广告专项整治", "--from", "2020-01-01", "--to", "2020-01-07",
        "--format", "docx",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "nothing was recorded" in result.output
    made = tmp_path / "打击非法集资广告专项整治_2020-01-01_2020-01-07.docx"
    assert said_in("".join(_docx_sections(Document(str(made)))[HEADINGS[0]])) == dict.fromkeys(METRICS, 0)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_the_whole_campaign_after_its_end_is_a_summary_a_part_of_it_a_brief(campaign_db, tmp_path):
    after = (today_in_china() + timedelta(days=11)).isoformat()  # the campaign ends in ten days
    for extra, first in (((), f"{CAMPAIGN}工作总结"), (("--phase", "排查整治"), "专项整治工作简报")):
        out = tmp_path / "r.docx"
        result = _adclear(campaign_db, "report", "--campaign", CAMPAIGN, *extra, "--today", after, "--format", "docx",
                          "-o", str(out))  # fmt: skip
        assert result.exit_code == 0, result.output
        assert Document(str(out)).paragraphs[0].text == first
