"""Takedown lists a regulator can act on: every column, the filters, and each format read back as its users
read it (openpyxl for the XLSX, the csv module for the CSV, jsonschema for the JSON)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from adclear.cli import main
from core.db import immediate
from core.timeutil import SHANGHAI
from review import export, ledger, takedowns
from review.decisions import confirm, reverse
from review.export_model import china_time
from review.export_xlsx import METADATA, SUMMARY, display_width
from review.takedowns import RecheckEvidence
from review.users import add_user
from tests.webdata import Archive, add_ad

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "docs" / "export.schema.json").read_text(encoding="utf-8"))
CATEGORY = "投资理财/P2P网贷"
PASSWORD = "Lotus-Signal-5093"
OFFICE = export.Office(name="示范县防范和处置非法集资工作领导小组办公室", code="SFX", region="示范县")
FORMULA = '=HYPERLINK("http://evil.test","点我领取")'
TODAY = date(2027, 1, 16)  # after the deadline of the takedowns dispatched below


def _ad(db, archive, n, title, body, *, platform="测试同城网", site="test-site", url=None, author=""):
    url = url or f"http://example.test/ad/{n}.html"
    page = archive.page(f"http://example.test/ad/{n}.html", f"<html><body><h1>{n}</h1><p>{body}</p></body></html>")
    ad = add_ad(db, title, body, url=url, evidence=page, run_id=archive.run_id, site=site, platform=platform)
    with immediate(db):
        db.execute("UPDATE ads SET author = ? WHERE id = ?", [author, ad])
    return ad


@pytest.fixture
def lifecycle(db, db_path):
    """Four confirmed ads on two platforms: dispatched and removed, dispatched and still online (overdue),
    requested, and one whose confirmation was reversed (cancelled)."""
    archive = Archive(db, db_path.parent)
    a = _ad(
        db,
        archive,
        1,
        "鑫盛通网贷 年化12% 保本保息",
        "投资理财，年化收益12%，保本保息，加微信 xst2026",
        author="鑫盛通客服",
    )
    b = _ad(
        db, archive, 2, FORMULA, "原始股内部认购，上市后翻十倍，保本保息", author="@SUM(1+1)", url="javascript:alert(1)"
    )
    archive.close()
    social = Archive(db, db_path.parent, site="demo-social")
    c = _ad(db, social, 3, "养老床位预售 年回报10%", "预售养老床位，每年返还10%，五年后退还本金", platform="示范圈",
            site="demo-social")  # fmt: skip
    d = _ad(db, social, 4, "互助会招募 月息二分", "入社分红，月息二分，本金保障", platform="示范圈", site="demo-social")
    social.close()
    with immediate(db):
        db.execute("UPDATE sites SET region = '示范县' WHERE name = 'test-site'")
        db.execute(
            "INSERT INTO contacts (ad_id, kind, value, matched, first_seen) VALUES (?, 'wechat', 'xst2026', "
            "'加微信 xst2026', '2027-01-01T00:00:00+00:00'), (?, 'mobile', '13800001111', '138 0000 1111', "
            "'2027-01-01T00:00:00+00:00')",
            [a, a],
        )
        db.execute(
            "INSERT INTO evidence (ad_id, kind, url, fetched_at, sha256, warc_file, warc_offset, warc_length) "
            "VALUES (?, 'screenshot', 'urn:screenshot:x', '2027-01-02T01:00:00+00:00', ?, 'shot.warc.gz', 7, 1)",
            [c, "c" * 64],
        )
    add_user(db, "rev1", "reviewer", PASSWORD)
    add_user(db, "boss", "supervisor", PASSWORD)
    for ad in (a, b, c, d):
        confirm(db, ad, reviewer="rev1", category=CATEGORY, reason=f"承诺保本保息 {ad}")
    reverse(db, d, reviewer="boss", reason="误判")
    ta, tb = takedowns.for_ad(db, a)[0].id, takedowns.for_ad(db, b)[0].id
    with immediate(db):
        takedowns.dispatched(db, [ta, tb], batch_id=None, number="〔2027〕SFX交字第0001号", receiver="测试同城网运营方",
                             deadline="2027-01-15", actor="boss", today=date(2027, 1, 5))  # fmt: skip
    takedowns.record_feedback(db, ta, result="已删除", by="平台客服", at=None, actor="boss")
    takedowns.record_recheck(db, ta, outcome="removed", detail="404", evidence=RecheckEvidence(http_status=404),
                             actor="recheck")  # fmt: skip
    takedowns.record_recheck(db, tb, outcome="online", detail="still there", evidence=None, actor="recheck")
    return {"a": a, "b": b, "c": c, "d": d, "ta": ta, "tb": tb}


def _list(db, **filters):
    return export.takedown_list(db, export.Filters.of(**filters), office=OFFICE, actor="boss", today=TODAY)


def test_every_column_the_issue_asks_for_is_filled_from_the_ad_the_ledger_and_the_lifecycle(db, lifecycle):
    result = _list(db)
    rows = {row["ad_id"]: row for row in result.rows}
    assert sorted(rows) == sorted([lifecycle["a"], lifecycle["b"], lifecycle["c"]])  # the cancelled one is out
    a = rows[lifecycle["a"]]
    evidence = db.execute("SELECT sha256, fetched_at, warc_file, warc_offset FROM evidence WHERE ad_id = ?",
                          [lifecycle["a"]]).fetchone()  # fmt: skip
    confirmed = next(e for e in ledger.entries(db, ad_id=lifecycle["a"]) if e.action == "confirmed")
    assert a["advertiser"] == "鑫盛通客服"
    assert a["contacts"] == [{"kind": "wechat", "value": "xst2026"}, {"kind": "mobile", "value": "13800001111"}]
    assert a["contacts_text"] == "微信 xst2026；手机 13800001111"
    assert (a["evidence_sha256"], a["captured_at"]) == (evidence[0], evidence[1])
    assert a["warc"] == f"{evidence[2]}:{evidence[3]}"
    assert a["first_seen"] and a["sightings"] == 1
    assert a["reason"] == f"承诺保本保息 {lifecycle['a']}" and a["reviewer"] == "rev1"
    assert a["confirmed_at"] == confirmed.at and a["decision"] == "确认违法"
    assert a["region"] == "示范县" and a["category"] == CATEGORY and "第十一条" in a["legal_basis"]
    assert (a["number"], a["receiver"], a["deadline"]) == ("〔2027〕SFX交字第0001号", "测试同城网运营方", "2027-01-15")
    assert (a["state"], a["state_label"], a["check_label"], a["overdue"]) == ("removed", "已删除", "已删除", False)
    assert a["feedback_result"] == "已删除" and a["removed_at"]
    b = rows[lifecycle["b"]]
    assert (b["state"], b["overdue"], b["check_result"]) == ("online", True, "online")  # due 01-15, today 01-16
    c = rows[lifecycle["c"]]
    assert c["screenshot_sha256"] == "c" * 64 and c["state"] == "requested" and c["receiver"] is None
    assert {row["office"] for row in result.rows} == {OFFICE.name}
    assert result.meta.head == ledger.head(db)
    # with receivers.yml at hand a regulator reads the receiver's name, not its key; the filter still takes the key
    named = export.takedown_list(
        db, export.Filters.of(receiver="测试同城网运营方"), office=OFFICE, today=TODAY,
        receiver_names={"测试同城网运营方": "测试同城网运营有限公司"},
    )  # fmt: skip
    assert {r["receiver"] for r in named.rows} == {"测试同城网运营有限公司"}


def test_the_rows_and_states_are_what_the_ledger_says(db, lifecycle):
    """Keyed by takedown, one row per takedown_requested entry; each state the one a replay of the ledger gives."""
    everything = _list(db, states=["all"])
    requested = [e.seq for e in ledger.entries(db) if e.action == "takedown_requested"]
    assert [row["requested_seq"] for row in everything.rows] == requested
    with immediate(db):
        db.execute("UPDATE takedowns SET state = 'closed'")  # a cache edited by hand …
    takedowns.rebuild(db)  # … is what the ledger alone says again
    replayed = {t.id: t.state for t in takedowns.listing(db)}
    assert {row["takedown_id"]: row["state"] for row in _list(db, states=["all"]).rows} == replayed
    assert replayed[takedowns.for_ad(db, lifecycle["d"])[0].id] == "cancelled"
    for row in everything.rows:  # what was recorded at the confirmation, as the ledger holds it
        [entry] = [e for e in ledger.entries(db, ad_id=row["ad_id"]) if e.seq == row["requested_seq"]]
        assert (row["category"], row["url"], row["reviewer"]) == (
            entry.payload["category"],
            entry.payload["url"],
            entry.actor,
        )


def test_filters_by_day_receiver_platform_state_and_category(db, lifecycle):
    everyone = _list(db)
    today = datetime.fromisoformat(everyone.rows[0]["confirmed_at"]).astimezone(SHANGHAI).date()
    assert len(_list(db, since=today, until=today).rows) == 3
    assert _list(db, since=date(today.year + 1, 1, 1)).rows == []
    assert [r["ad_id"] for r in _list(db, receiver="测试同城网运营方").rows] == [lifecycle["a"], lifecycle["b"]]
    assert [r["ad_id"] for r in _list(db, platform="示范圈").rows] == [lifecycle["c"]]
    assert [r["ad_id"] for r in _list(db, platform="示范圈", states=["all"]).rows] == [lifecycle["c"], lifecycle["d"]]
    assert [r["state"] for r in _list(db, states=["online"]).rows] == ["online"]
    assert {r["state"] for r in _list(db, states=["open"]).rows} == {"requested", "removed", "online"}
    assert len(_list(db, category=CATEGORY).rows) == 3 and _list(db, category="养老投资").rows == []
    for bad, message in [
        ({"since": "2027-02-30"}, "--from must be a date YYYY-MM-DD"),
        ({"since": "2027-02-02", "until": "2027-02-01"}, "after --to"),
        ({"states": ["gone"]}, "unknown state 'gone'"),
        ({"category": "理财"}, "unknown category '理财'"),
    ]:
        with pytest.raises(export.ExportError, match=message):
            export.Filters.of(**bad)


def test_the_xlsx_reopened_has_its_header_filter_links_dates_and_metadata_sheet(db, lifecycle, tmp_path):
    result = _list(db)
    path = tmp_path / "t.xlsx"
    export.write(result, path, "xlsx")
    book = load_workbook(path)
    assert book.sheetnames == [SUMMARY, "测试同城网运营方", "示范圈·未交办", METADATA]
    sheet = book["测试同城网运营方"]
    header = [c.value for c in sheet[1]]
    assert header == [c.title for c in export.COLUMNS]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}3"
    col = {title: i + 1 for i, title in enumerate(header)}
    data = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [r[col["广告编号"] - 1] for r in data] == [lifecycle["a"], lifecycle["b"]]  # no head row among the data
    head = result.meta.head
    for name in book.sheetnames[:-1]:
        for row in book[name].iter_rows(values_only=True):
            assert head.hash not in row and "台账链头" not in row
    link = sheet.cell(2, col["链接"])
    assert link.hyperlink.target == "http://example.test/ad/1.html" and link.font.underline == "single"
    assert sheet.cell(3, col["链接"]).hyperlink is None  # javascript: stays text
    hostile = sheet.cell(3, col["广告标题"])
    assert (hostile.value, hostile.data_type) == (FORMULA, "s")  # shown as written, no quote, never run
    assert sheet.cell(3, col["发布者"]).value == "@SUM(1+1)"
    confirmed = sheet.cell(2, col["确认时间"])
    assert isinstance(confirmed.value, datetime) and confirmed.number_format == "yyyy-mm-dd hh:mm:ss"
    expected = china_time(result.rows[0]["confirmed_at"]).replace(tzinfo=None, microsecond=0)
    assert confirmed.value.replace(microsecond=0) == expected  # China time
    deadline = sheet.cell(2, col["办理期限"])
    assert deadline.value == datetime(2027, 1, 15) and deadline.number_format == "yyyy-mm-dd"
    assert sheet.cell(3, col["是否逾期"]).value == "是"
    width = sheet.column_dimensions[sheet.cell(1, col["接收单位"]).column_letter].width
    assert width >= display_width("测试同城网运营方")  # wide characters count double
    assert sheet.page_setup.orientation == "landscape" and int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth == 1
    assert sheet.page_setup.fitToHeight == 0
    meta = dict(book[METADATA].iter_rows(min_row=2, values_only=True))
    assert meta["发文单位"] == OFFICE.name and meta["单位代码"] == "SFX" and meta["导出人"] == "boss"
    assert meta["台账链头哈希"] == head.hash and meta["台账链头序号"] == head.seq and meta["处置记录条数"] == 3
    assert isinstance(meta["导出时间"], datetime)
    summary = list(book[SUMMARY].iter_rows(values_only=True))
    assert summary[0][:2] == ("接收单位/平台", "合计") and summary[-1][:2] == ("合计", 3)


def test_the_csv_is_bom_crlf_formula_safe_and_carries_no_head_row(db, lifecycle, tmp_path):
    result = _list(db)
    path = tmp_path / "t.csv"
    export.write(result, path, "csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == 4 and b"\n" not in raw.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))
    assert rows[0] == [c.title for c in export.COLUMNS] and len(rows) == 4
    assert all(result.meta.head.hash not in row and "台账链头" not in row for row in rows)
    col = rows[0].index("广告标题")
    assert rows[2][col] == "'" + FORMULA and rows[2][rows[0].index("发布者")] == "'@SUM(1+1)"
    assert rows[1][rows[0].index("办理期限")] == "2027-01-15"


def test_the_json_validates_against_the_published_schema_with_times_in_china_time(db, lifecycle, tmp_path):
    result = _list(db)
    path = tmp_path / "t.json"
    export.write(result, path, "json")
    document = json.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    validator.validate(document)
    assert document["metadata"]["ledger_head"] == {"seq": result.meta.head.seq, "hash": result.meta.head.hash}
    assert document["metadata"]["office"]["name"] == OFFICE.name and document["metadata"]["rows"] == 3
    row = document["takedowns"][0]
    assert row["confirmed_at"].endswith("+08:00") and row["deadline"] == "2027-01-15"
    stored = datetime.fromisoformat(result.rows[0]["confirmed_at"]).replace(microsecond=0)
    assert datetime.fromisoformat(row["confirmed_at"]) == stored  # the same instant, to the second
    broken = {**document, "takedowns": [{**row, "confirmed_at": "2027-01-05 10:00"}]}
    assert not validator.is_valid(broken)  # the schema does hold the offset to +08:00


def test_the_command_line_filters_writes_the_metadata_beside_a_csv_and_refuses_bad_input(db, db_path, lifecycle):
    out = db_path.parent / "out" / "list.csv"
    seeds = REPO / "seeds.yml"
    args = ["--db", str(db_path), "--seeds", str(seeds), "export", "--out", str(out), "--as", "boss"]
    r = CliRunner().invoke(main, [*args, "--receiver", "测试同城网运营方", "--state", "online"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("1 takedowns (测试同城网运营方 1) → ") and "list.csv.meta.json" in r.output
    assert len(list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))) == 2
    sidecar = json.loads(export.sidecar(out).read_text(encoding="utf-8"))
    jsonschema.validate(sidecar["metadata"], {"$defs": SCHEMA["$defs"], "$ref": "#/$defs/metadata"})
    assert sidecar["metadata"]["office"] == {"name": OFFICE.name, "code": "SFX", "region": "示范县"}
    assert sidecar["metadata"]["filters"]["states"] == ["online"] and sidecar["metadata"]["exported_by"] == "boss"
    audit = db.execute("SELECT detail FROM audit_log WHERE action = 'export' ORDER BY id DESC").fetchone()[0]
    assert json.loads(audit)["filters"]["receiver"] == "测试同城网运营方"
    out.unlink()
    r = CliRunner().invoke(main, [*args, "--from", "2027-02-02", "--to", "2027-02-01"])
    assert r.exit_code == 1 and r.output == "Error: --from 2027-02-02 is after --to 2027-02-01: nothing could match\n"
    r = CliRunner().invoke(main, [*args, "--receiver", "测试同城网运营放"])
    assert r.exit_code == 1
    expected = "Error: no takedown was dispatched to '测试同城网运营放'; --receiver is one of: 测试同城网运营方\n"
    assert r.output == expected  # a typo, not an empty list
    r = CliRunner().invoke(main, [*args, "--category", "理财"])
    assert r.exit_code == 1 and r.output.startswith("Error: unknown category '理财'; one of: ") and "\n" == r.output[-1]
    assert not out.exists()


def test_pandas_is_no_dependency_and_writing_needs_none():
    assert "pandas" not in (REPO / "pyproject.toml").read_text(encoding="utf-8")
    code = "import sys, review.export, adclear.cli.export_cmds; print('pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO).stdout == "False\n"


def test_display_width_counts_wide_characters_double():
    assert display_width("abc") == 3 and display_width("违法广告") == 8 and display_width("ＡＢ1") == 5


def test_an_empty_ledger_exports_valid_empty_files(db, tmp_path):
    result = _list(db)
    assert result.rows == [] and result.meta.checkpoint == f"0:{ledger.GENESIS}"
    for fmt in export.FORMATS:
        export.write(result, tmp_path / f"e.{fmt}", fmt)
    jsonschema.validate(json.loads((tmp_path / "e.json").read_text(encoding="utf-8")), SCHEMA)
    assert (tmp_path / "e.csv").read_bytes().count(b"\r\n") == 1  # the header alone
    book = load_workbook(tmp_path / "e.xlsx")
    assert book.sheetnames == [SUMMARY, "处置清单", METADATA]
    assert [c.value for c in book["处置清单"][1]][:2] == ["处置编号", "交办单号"]


def test_hostile_names_and_text_make_valid_sheets_and_cells(db, lifecycle, tmp_path):
    rows = _list(db).rows
    hostile = [
        {
            **rows[0],
            "receiver": "平台[运营]:中心/客服?*" + "长" * 40,
            "title": "正文\x00\x07\x1b[31m红字",
            "url": "=cmd|'/c calc'!A1",
        },
        {**rows[1], "receiver": "平台[运营]:中心/客服?*" + "长" * 40 + "乙"},  # the same 31 characters
    ]
    result = export.TakedownList(hostile, _list(db).meta)
    export.write(result, tmp_path / "h.xlsx", "xlsx")
    book = load_workbook(tmp_path / "h.xlsx")
    first, second = book.sheetnames[1:3]
    assert len(first) <= 31 and len(second) <= 31 and first != second and not set("[]:*?/\\") & set(first + second)
    cells = {c.value: c for c in book[first][2] if c.value is not None}
    assert "正文[31m红字" in cells  # control characters XML cannot hold are dropped, the text kept
    link = cells["=cmd|'/c calc'!A1"]
    assert link.data_type == "s" and link.hyperlink is None
