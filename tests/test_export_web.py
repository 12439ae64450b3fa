"""The web app's download uses the same filters as `adclear export`, names the issuing office, refuses a bad
filter with the reason, and is audited with its filters."""

from __future__ import annotations

import json
import shutil
from io import BytesIO

import pytest
from openpyxl import load_workbook

from core.db import connect
from review import export
from review.decisions import confirm
from tests.test_web import logged_in, make_app
from tests.webdata import build

OFFICE = export.Office(name="示范县防范和处置非法集资工作领导小组办公室", code="SFX", region="示范县")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    data = tmp_path_factory.mktemp("export-web") / "data"
    ids = build(data / "adclear.db")
    db = connect(data / "adclear.db")
    confirm(db, ids["promo0"], reviewer="rev1", category="投资理财/P2P网贷", reason="保本保息")
    confirm(db, ids["promo2"], reviewer="rev1", category="私募股权/原始股", reason="原始股")
    db.close()
    return data, ids


@pytest.fixture
def site(template, tmp_path):
    source, ids = template
    shutil.copytree(source, tmp_path / "data", ignore=shutil.ignore_patterns("web-secret.key"))
    return tmp_path / "data" / "adclear.db", ids


def test_the_download_is_filtered_names_the_office_and_keeps_the_head_on_its_own_sheet(site):
    db_path, ids = site
    client, token = logged_in(make_app(db_path, OFFICE=OFFICE), "boss")
    page = client.get("/export").text
    assert 'name="from"' in page and 'name="category"' in page and "测试同城网" in page
    assert "共 2 条" in page and "测试同城网·未交办：2" in page
    answer = client.post(
        "/export", data={"csrf_token": token, "format": "xlsx", "category": "私募股权/原始股", "state": "open"}
    )
    assert answer.status_code == 200
    book = load_workbook(BytesIO(answer.data))
    [data_sheet] = [name for name in book.sheetnames if name not in ("汇总", "导出信息")]
    rows = list(book[data_sheet].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and "原始股" in rows[0][7]  # 广告标题
    meta = dict(book["导出信息"].iter_rows(min_row=2, values_only=True))
    assert (
        meta["发文单位"] == OFFICE.name and meta["导出人"] == "boss" and "涉嫌类型 私募股权/原始股" in meta["筛选条件"]
    )
    answer = client.post("/export", data={"csrf_token": token, "format": "json", "category": "养老投资"})
    assert json.loads(answer.data)["takedowns"] == []
    assert answer.headers["X-Adclear-Ledger-Head"] == json.loads(answer.data)["metadata"]["checkpoint"]
    with connect(db_path) as db:
        details = [json.loads(d) for (d,) in db.execute("SELECT detail FROM audit_log WHERE action = 'export'")]
    assert [d["filters"]["category"] for d in details] == ["私募股权/原始股", "养老投资"]
    assert [d["rows"] for d in details] == [1, 0]


def test_a_bad_filter_is_refused_with_the_reason_and_nothing_is_exported(site):
    db_path, _ = site
    client, token = logged_in(make_app(db_path), "boss")
    answer = client.post(
        "/export", data={"csrf_token": token, "format": "csv", "from": "2027-02-02", "to": "2027-02-01"}
    )
    assert answer.status_code == 302
    assert "晚于截止日期" in client.get("/export").text
    # a platform no takedown has (a typo, or a fuzzer's '0'): refused with the known ones, not a 500
    answer = client.post("/export", data={"csrf_token": token, "format": "xlsx", "platform": "0"})
    assert answer.status_code == 302
    assert "没有位于“0”的处置" in client.get("/export").text
    with connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'export'").fetchone()[0] == 0
