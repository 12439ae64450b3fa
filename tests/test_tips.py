"""Public tips (举报线索): numbers, confidentiality, the ledger's steps, the queue, the tips ledger export.

No network here: fetching a tip's URL is tests/test_tips_fetch.py; the pages are tests/test_web_tips.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date

import pytest
from openpyxl import load_workbook

from core.db import connect
from core.verdicts import REAPPEARED_PRIORITY
from review import attachments, ledger, queue, tips, tips_export
from review.decisions import confirm, reject
from review.dispatch import DispatchError, Office
from review.users import NotAnAccount, add_user
from tests.webdata import PROMOTIONS, add_ad

OFFICE = Office(code="SFX", name="示范县处非办")
NAME, PHONE = "张三丰", "13812345678"


@pytest.fixture
def db(tmp_path):
    database = connect(tmp_path / "data" / "adclear.db")
    add_user(database, "rev1", "reviewer", "Kiwi-Harbor-2041")
    add_user(database, "boss", "supervisor", "Lotus-Signal-5093")
    yield database
    database.close()


def enter(db, **kw):
    values = {"channel": "phone", "summary": "群里有人推荐年化20%的理财", "actor": "rev1", **kw}
    return tips.add(db, OFFICE, **values)


def test_a_number_per_office_and_year(db):
    first = enter(db, today=date(2026, 12, 3))
    second = enter(db, today=date(2026, 12, 31))
    next_year = enter(db, today=date(2027, 1, 2))
    other = tips.add(db, Office(code="SFY", name="另一县"), channel="letter", summary="信", actor="rev1")
    assert [first.number, second.number, next_year.number] == [
        "〔2026〕SFX线字第0001号",
        "〔2026〕SFX线字第0002号",
        "〔2027〕SFX线字第0001号",
    ]
    assert other.number.endswith("SFY线字第0001号")
    assert tips.get(db, first.number) == tips.get(db, first.id) == first
    with pytest.raises(DispatchError, match="operator.code"):
        tips.add(db, Office(code="", name=""), channel="phone", summary="x", actor="rev1")


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("张三丰", "张**"), ("欧阳娜娜", "欧***"), ("", ""), ("Li", "L*")]
)
def test_names_are_masked_to_the_surname(name, masked):
    assert tips.mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "138****5678"), ("138-1234-5678", "138****5678"), ("+86 138 1234 5678", "138****5678"),
     ("12345", "***45"), ("", ""), ("微信 abc", "***")],
)  # fmt: skip
def test_phones_are_masked(phone, masked):
    assert tips.mask_phone(phone) == masked


def test_the_ledger_never_holds_the_tipster(db):
    made = enter(db, tipster_name=NAME, tipster_phone=PHONE, tipster_other="微信 zsf2026")
    assert made.tipster(reveal=False) == {"name": "张**", "phone": "138****5678", "other": "***"}
    assert made.tipster(reveal=True)["name"] == NAME
    everything = json.dumps([e.payload for e in ledger.entries(db)], ensure_ascii=False)
    for secret in (NAME, PHONE, "zsf2026", "张**", "1234"):
        assert secret not in everything
    (entry,) = ledger.entries(db)
    assert entry.action == "tip_received" and entry.payload["number"] == made.number
    # the salted hash proves which identity was recorded, and only with the salt kept in the row
    salt = db.execute("SELECT tipster_salt FROM tips WHERE id = ?", [made.id]).fetchone()[0]
    expected = hashlib.sha256(json.dumps([salt, NAME, PHONE], ensure_ascii=False).encode()).hexdigest()
    assert entry.payload["tipster_hash"] == expected
    assert hashlib.sha256(json.dumps(["", NAME, PHONE]).encode()).hexdigest() != expected
    assert ledger.verify(db).ok


def test_a_tip_received_raises_an_alert_without_its_tipster(db):
    made = enter(db, tipster_name=NAME, tipster_phone=PHONE)
    [(kind, subject, detail)] = db.execute("SELECT kind, subject, detail FROM alerts").fetchall()
    assert kind == "tip" and made.number in subject and "年化20%" in detail
    assert NAME not in subject + detail and PHONE not in subject + detail


def test_attachments_are_kept_under_their_sha256(db):
    png = b"\x89PNG\r\n\x1a\n" + b"screenshot" * 100
    made = enter(db, files=[("截图.png", png), ("../../etc/passwd", b"letter")])
    digest = hashlib.sha256(png).hexdigest()
    files = tips.attachment_list(db, made.id)
    assert [(f["name"], f["sha256"], f["size"]) for f in files] == [
        ("截图.png", digest, len(png)),
        ("passwd", hashlib.sha256(b"letter").hexdigest(), 6),
    ]
    assert (attachments.attachments_dir(db) / digest).read_bytes() == png
    assert ledger.entries(db)[-1].payload["attachments"][0] == {"name": "截图.png", "sha256": digest}


def test_a_tip_is_not_received_in_the_future(db):
    with pytest.raises(tips.TipError, match="in the future"):
        enter(db, received_at="2999-01-01T00:00:00+00:00")
    assert enter(db, received_at="2026-11-30T02:00:00+00:00").received_at == "2026-11-30T02:00:00+00:00"


@pytest.mark.parametrize("url", ["ftp://example.com/x", "javascript:alert(1)", "file:///etc/passwd", "http://a b"])
def test_only_web_addresses_are_taken(db, url):
    with pytest.raises(tips.TipError, match="not a web address"):
        enter(db, url=url)
    assert tips.listing(db) == []


def test_a_tipped_ad_is_queued_first_and_its_decision_verifies_the_tip(db):
    ads = [add_ad(db, title, body, url=f"http://example.test/{n}") for n, (title, body) in enumerate(PROMOTIONS[:3])]
    made = enter(db, url="http://example.test/2")
    fetched = tips.record_fetch(db, made.id, outcome="fetched", detail="200", ad_id=ads[2], actor="adclear-tip")
    assert fetched.state == "verifying" and fetched.ad_id == ads[2]
    items = queue.items(db, reviewer="rev1")
    assert items[0]["ad_id"] == ads[2]
    assert db.execute("SELECT priority FROM queue WHERE ad_id = ?", [ads[2]]).fetchone()[0] >= REAPPEARED_PRIORITY
    only_tips = queue.items(db, queue.Filter(source="tip"), reviewer="rev1")
    assert [i["ad_id"] for i in only_tips] == [ads[2]]
    assert "tip" in queue.filter_options(db)["sources"]

    with pytest.raises(tips.TipError, match="not decided yet"):
        tips.verify(db, made.id, actor="rev1")
    decision = confirm(db, ads[2], reviewer="rev1", category="投资理财/P2P网贷", reason="保本保息")
    verified = tips.verify(db, made.id, actor="rev1")
    assert verified.state == "verified"
    step = tips.history(db, verified)[-1]
    assert step.action == "tip_verified"
    assert step.payload["decision"] == {"seq": decision.ledger_seqs[0], "action": "confirmed"}

    with pytest.raises(tips.TipError, match="not answered"):
        tips.close(db, made.id, actor="rev1")
    told = tips.feedback(db, made.id, actor="rev1", text="已电话告知张先生：已责令删除")
    assert told.feedback_text.startswith("已电话告知")
    closed = tips.close(db, made.id, actor="rev1")
    assert closed.closed_at and closed.state == "verified"  # closing keeps the result the statistics count
    actions = [e.action for e in tips.history(db, closed)]
    assert actions == ["tip_received", "tip_fetched", "tip_verified", "tip_feedback", "tip_closed"]
    feedback_entry = tips.history(db, closed)[3]
    assert "张先生" not in json.dumps(feedback_entry.payload, ensure_ascii=False)
    assert feedback_entry.payload["text_sha256"] == hashlib.sha256("已电话告知张先生：已责令删除".encode()).hexdigest()
    with pytest.raises(tips.TipError, match="closed"):
        tips.verify(db, made.id, actor="rev1", result="unfounded", note="x")
    assert ledger.verify(db).ok


def test_a_rejected_ad_makes_the_tip_unfounded_and_a_tip_without_url_needs_a_note(db):
    ad = add_ad(db, *PROMOTIONS[0], url="http://example.test/r")
    made = enter(db, url="http://example.test/r")
    tips.record_fetch(db, made.id, outcome="fetched", detail="200", ad_id=ad, actor="adclear-tip")
    reject(db, ad, reviewer="rev1", reason="防非宣传")
    assert tips.verify(db, made.id, actor="rev1").state == "unfounded"
    offline = enter(db, channel="visit", summary="来访反映小区有人线下推销养老项目")
    with pytest.raises(tips.TipError, match="it has no ad"):
        tips.verify(db, offline.id, actor="rev1")
    with pytest.raises(tips.TipError, match="a note"):
        tips.verify(db, offline.id, actor="rev1", result="verified")
    assert tips.verify(db, offline.id, actor="rev1", result="verified", note="实地核查属实").state == "verified"


def _csv(path):
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def test_the_export_leaves_the_tipster_out_unless_a_supervisor_gives_a_reason(db, tmp_path):
    enter(db, summary='=HYPERLINK("http://evil.test","点我")', tipster_name=NAME, tipster_phone=PHONE)
    enter(db, channel="email", summary="邮件举报", url="http://example.test/9")
    plain = tips_export.export(db, tmp_path / "tips.csv", "csv", actor="rev1")
    rows = _csv(plain.path)
    assert rows[0][:3] == ["线索编号", "受理时间", "来源渠道"] and "举报人" not in rows[0]
    assert rows[1][3] == '\'=HYPERLINK("http://evil.test","点我")'  # shown, never run
    assert NAME not in plain.path.read_text(encoding="utf-8-sig") and PHONE not in plain.path.read_text("utf-8-sig")
    with pytest.raises(NotAnAccount, match="supervisor"):
        tips_export.export(db, tmp_path / "x.csv", "csv", actor="rev1", reveal_reason="移送公安")
    full = tips_export.export(db, tmp_path / "full.csv", "csv", actor="boss", reveal_reason="移送公安机关")
    header, first = _csv(full.path)[:2]
    assert first[header.index("举报人")] == NAME and first[header.index("举报人电话")] == PHONE
    audits = db.execute("SELECT actor, detail FROM audit_log WHERE action = 'tip_export' ORDER BY id").fetchall()
    assert [(a, json.loads(d)["identity"]) for a, d in audits] == [("rev1", False), ("boss", True)]
    assert json.loads(audits[1][1])["reason"] == "移送公安机关"


def test_the_xlsx_export_reopens_with_its_sheets_and_formulas_as_text(db, tmp_path):
    ad = add_ad(db, *PROMOTIONS[1], url="http://example.test/x")
    made = enter(db, summary="@SUM(1,2)", url="http://example.test/x", tipster_name=NAME)
    tips.record_fetch(db, made.id, outcome="fetched", detail="200", ad_id=ad, actor="adclear-tip")
    confirm(db, ad, reviewer="rev1", category="投资理财/P2P网贷", reason="保本保息")
    tips.verify(db, made.id, actor="rev1")
    out = tips_export.export(db, tmp_path / "tips.xlsx", "xlsx", actor="rev1", office=tips_export.Office(name="示范县"))
    book = load_workbook(out.path)
    assert book.sheetnames == ["举报线索核查台账", "导出信息"]
    sheet = book["举报线索核查台账"]
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c for c in sheet[2]], strict=True))
    assert row["线索内容"].value == "@SUM(1,2)" and row["线索内容"].data_type == "s"
    assert row["核查（审核结论）"].value == "确认违法" and row["核查结果"].value == "属实"
    assert row["处置"].value.startswith("处置1 ")  # the takedown its confirmation requested
    assert row["涉及网址"].hyperlink.target == "http://example.test/x"
    assert "举报人" not in header and NAME not in str([[c.value for c in r] for r in sheet.iter_rows()])
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    info = {r[0].value: r[1].value for r in book["导出信息"].iter_rows(min_row=2)}
    assert info["线索条数"] == 1 and info["检查点"] == str(ledger.head(db))
