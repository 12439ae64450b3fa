"""The 工作简报/工作总结 as a Word document in the usual 公文 layout (python-docx), for an office to edit and send.

Layout after GB/T 9704 (党政机关公文格式) as offices use it for a 简报: A4 with margins 37/35/28/26 mm; a red
版头 (the masthead, "专项整治工作简报") over a line with the 发文机关 on the left and the date on the right and a
red rule under it; the title centred in 2号 (22 pt) 小标宋; the body in 3号 (16 pt) 仿宋 at a fixed 28 pt line
spacing, paragraphs indented two characters; first-level headings (一、二、…) in 3号 黑体; tables and charts
numbered (表1, 图1) with their captions; the signature (发文机关, 成文日期) on the right at the end; the page
number in the footer as a PAGE field ("— 1 —"), which Word and LibreOffice fill in: odd pages on the right,
even pages on the left, one character in.

Fonts: Chinese text takes its font from ``w:eastAsia`` (Word ignores the Latin name for it). ``GONGWEN`` names
the fonts an office's Windows or WPS machine has (方正小标宋简体, 仿宋_GB2312, 黑体, 楷体_GB2312); ``NOTO``
names those of Debian's fonts-noto-cjk, for machines without them (what LibreOffice shows here without
substituting). The charts are pictures (``report_charts``, 200 dpi PNG), their Chinese drawn in Noto Sans CJK.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import IO, Any

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph

from review import report_charts
from review.report_brief import Brief, ChartSpec, Table

__all__ = ["FONTS", "GONGWEN", "NOTO", "Fonts", "write"]

RED = RGBColor(0xC0, 0x00, 0x00)
BODY_PT = 16  # 3号
TITLE_PT = 22  # 2号
LINE_PT = 28  # fixed line spacing: 22 lines on a page
TABLE_PT = 10.5  # 五号: a table of seven columns fits the 156 mm of text width
CHART_WIDTH = Cm(15)
TEXT_WIDTH = Mm(210 - 28 - 26)


@dataclass(frozen=True)
class Fonts:
    title: str
    body: str
    heading: str
    latin: str  # digits and Latin letters


GONGWEN = Fonts(title="方正小标宋简体", body="仿宋_GB2312", heading="黑体", latin="Times New Roman")
NOTO = Fonts(title="Noto Serif CJK SC", body="Noto Serif CJK SC", heading="Noto Sans CJK SC", latin="Noto Serif CJK SC")
FONTS = {"gongwen": GONGWEN, "noto": NOTO}
# what follows w:pBdr in a paragraph's properties (ECMA-376 CT_PPrBase)
_AFTER_BORDERS = (
    "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct",
    "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
    "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
    "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)  # fmt: skip
THEME_FONTS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


def _set_fonts(r_pr: Any, east_asia: str, latin: str) -> None:
    """Chinese in ``east_asia``, the rest in ``latin`` (w:rFonts, created when missing)."""
    fonts = r_pr.get_or_add_rFonts()  # in its place among rPr's children (Word checks their order)
    for theme in THEME_FONTS:  # a theme font named beside a font wins over it in Word: the template's go
        fonts.attrib.pop(qn(theme), None)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), east_asia)


def _run(paragraph: Paragraph, text: str, font: str, fonts: Fonts, size: float, *, bold: bool = False) -> None:
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    _set_fonts(run._element.get_or_add_rPr(), font, fonts.latin)


def _chinese(doc: WordDocument, fonts: Fonts) -> None:
    """The document's defaults: Chinese (zh-CN) text, our fonts instead of the template's theme fonts."""
    defaults = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(defaults, fonts.body, fonts.latin)
    lang = defaults.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")


def _styles(doc: WordDocument, fonts: Fonts) -> None:
    _chinese(doc, fonts)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(BODY_PT)
    _set_fonts(normal.element.get_or_add_rPr(), fonts.body, fonts.latin)
    fmt = normal.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(LINE_PT)
    fmt.space_before = fmt.space_after = Pt(0)
    heading = doc.styles["Heading 1"]
    heading.font.size = Pt(BODY_PT)
    heading.font.bold = False
    heading.font.color.rgb = RGBColor(0, 0, 0)
    _set_fonts(heading.element.get_or_add_rPr(), fonts.heading, fonts.latin)
    h_fmt = heading.paragraph_format
    h_fmt.first_line_indent = Pt(2 * BODY_PT)
    h_fmt.space_before = h_fmt.space_after = Pt(0)
    h_fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    h_fmt.line_spacing = Pt(LINE_PT)
    h_fmt.keep_with_next = True


def _page(doc: WordDocument) -> None:
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(20)


def _field(paragraph: Paragraph, instruction: str, fonts: Fonts) -> None:
    """A field Word and LibreOffice compute when they show the page (PAGE: its number)."""
    run = paragraph.add_run()
    run.font.size = Pt(14)
    _set_fonts(run._element.get_or_add_rPr(), fonts.latin, fonts.latin)
    for kind, text in (("begin", None), (None, instruction), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText" if text == instruction else "w:t")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._element.append(element)


def _footer(doc: WordDocument, fonts: Fonts) -> None:
    """GB/T 9704's page number: "— 1 —" in 4号, an odd page's on the right and an even page's on the left, each
    one character (14 pt) in from the edge of the type area."""
    doc.settings.odd_and_even_pages_header_footer = True
    section = doc.sections[0]
    for footer, alignment in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        paragraph.alignment = alignment
        layout = paragraph.paragraph_format
        layout.first_line_indent = Pt(0)
        if alignment == WD_ALIGN_PARAGRAPH.RIGHT:
            layout.right_indent = Pt(14)
        else:
            layout.left_indent = Pt(14)
        _run(paragraph, "— ", fonts.latin, fonts, 14)
        _field(paragraph, " PAGE ", fonts)
        _run(paragraph, " —", fonts.latin, fonts, 14)


def _rule_under(paragraph: Paragraph, colour: str = "C00000") -> None:
    """A red line under the paragraph (the 版头's separator)."""
    p_pr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for attr, value in (("w:val", "single"), ("w:sz", "12"), ("w:space", "4"), ("w:color", colour)):
        bottom.set(qn(attr), value)
    borders.append(bottom)
    p_pr.insert_element_before(borders, *_AFTER_BORDERS)  # pPr's children keep the schema's order


def _masthead(doc: WordDocument, brief: Brief, fonts: Fonts) -> None:
    """A 简报's red 版头 and the line under it (a 总结 starts with its title and is signed at the end)."""
    head = doc.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    head.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    head.paragraph_format.space_after = Pt(12)
    _run(head, brief.masthead, fonts.title, fonts, 32)
    head.runs[0].font.color.rgb = RED
    line = doc.add_paragraph()
    line.paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT)
    _run(line, f"{brief.office}\t{brief.dated}", fonts.body, fonts, 14)
    _rule_under(line)


def _title(doc: WordDocument, brief: Brief, fonts: Fonts) -> None:
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(LINE_PT)
    title.paragraph_format.space_after = Pt(LINE_PT / 2)
    title.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    _run(title, brief.title, fonts.title, fonts, TITLE_PT)
    period = doc.add_paragraph()
    period.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(period, f"（统计期间：{brief.period}）", fonts.body, fonts, BODY_PT)


def _body(doc: WordDocument, text: str) -> None:
    paragraph = doc.add_paragraph(text)
    paragraph.paragraph_format.first_line_indent = Pt(2 * BODY_PT)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY


def _caption(doc: WordDocument, text: str, fonts: Fonts, *, keep: bool) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.keep_with_next = keep
    paragraph.paragraph_format.space_before = Pt(6)
    _run(paragraph, text, fonts.heading, fonts, 12)


def _repeat_header(row: Any) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def _table(doc: WordDocument, table: Table, fonts: Fonts) -> None:
    _caption(doc, table.caption, fonts, keep=True)
    grid = doc.add_table(rows=1 + len(table.rows), cols=len(table.header))
    grid.style = doc.styles["Table Grid"]
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    grid.autofit = False
    _repeat_header(grid.rows[0])
    widths = [int(TEXT_WIDTH * share) for share in table.shares()]
    for c, width in enumerate(widths):
        grid.columns[c].width = width
        for cell in grid.columns[c].cells:  # Word reads the cells' widths, LibreOffice the grid's
            cell.width = width
    for r, values in enumerate((table.header, *table.rows)):
        for c, value in enumerate(values):
            cell = grid.cell(r, c)
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
            paragraph.paragraph_format.first_line_indent = Pt(0)
            if r == 0:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif value.isdigit():
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            _run(paragraph, value, fonts.heading if r == 0 else fonts.body, fonts, TABLE_PT)
    doc.add_paragraph()


def _chart(doc: WordDocument, spec: ChartSpec, number: int, fonts: Fonts) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    paragraph.paragraph_format.keep_with_next = True
    paragraph.add_run().add_picture(io.BytesIO(report_charts.png(spec)), width=CHART_WIDTH)
    _caption(doc, f"图{number} {spec.title}", fonts, keep=False)


def _signature(doc: WordDocument, brief: Brief) -> None:
    doc.add_paragraph()
    for text in (brief.office, brief.dated):
        if text:
            paragraph = doc.add_paragraph(text)
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            paragraph.paragraph_format.right_indent = Pt(4 * BODY_PT)


def write(brief: Brief, path: str | IO[bytes] | os.PathLike[str], fonts: Fonts = GONGWEN) -> None:
    """``brief`` as a .docx at ``path`` (a path or a binary file)."""
    doc = Document()
    _styles(doc, fonts)
    _page(doc)
    _footer(doc, fonts)
    if brief.masthead:
        _masthead(doc, brief, fonts)
    _title(doc, brief, fonts)
    figure = 0
    for section in brief.sections:
        doc.add_heading(section.heading, level=1)
        for text in section.paragraphs:
            _body(doc, text)
        for table in section.tables:
            _table(doc, table, fonts)
        for spec in section.charts:
            figure += 1
            _chart(doc, spec, figure, fonts)
    _signature(doc, brief)
    doc.core_properties.title = brief.title
    doc.core_properties.author = brief.office
    doc.save(path)  # type: ignore[arg-type]
