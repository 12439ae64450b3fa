"""The 举报线索 pages without a browser: a tip's steps through its forms, the export's identity rule, the
attachment route, and an app started without an office code."""

from __future__ import annotations

import csv
import io
import json

from core.db import connect
from review import tips
from review.dispatch import Office
from tests.test_web import logged_in, make_app, rows, site, template  # noqa: F401 (the module's fixtures)

SETUP = tips.Setup(office=Office(code="SFX", name="示范县处非办"))


def post(client, token, path, **data):
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)


def test_a_tip_goes_through_its_steps_in_the_web_app(site):  # noqa: F811
    db_path, _ = site
    app = make_app(db_path, TIPS=SETUP)
    client, token = logged_in(app, "rev1")
    page = post(
        client, token, "/tips", channel="visit", summary="来访：楼下理财店承诺保本", name="张三", phone="13812345678"
    )
    assert "已受理线索 〔" in page.text and "张*" in page.text and "张三" not in page.text
    ((tip_id,),) = rows(db_path, "SELECT id FROM tips")
    refused = post(client, token, f"/tips/{tip_id}/verify")
    assert "没有对应的广告" in refused.text  # no URL, no ad: the result and a note are needed
    post(client, token, f"/tips/{tip_id}/verify", result="verified", note="实地核查属实")
    post(client, token, f"/tips/{tip_id}/feedback", text="已当面告知举报人")
    done = post(client, token, f"/tips/{tip_id}/close")
    assert "线索已办结" in done.text
    assert rows(db_path, "SELECT state, closed_at IS NOT NULL FROM tips") == [("verified", 1)]
    actions = [a for (a,) in rows(db_path, "SELECT action FROM ledger WHERE action LIKE 'tip%' ORDER BY seq")]
    assert actions == ["tip_received", "tip_verified", "tip_feedback", "tip_closed"]
    assert client.get(f"/tips/{tip_id}/file/{'0' * 64}").status_code == 404


def _csv(response):
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_only_a_supervisor_with_a_reason_exports_the_tipsters(site):  # noqa: F811
    db_path, _ = site
    app = make_app(db_path, TIPS=SETUP)
    client, token = logged_in(app, "rev1")
    post(client, token, "/tips", channel="phone", summary="=cmd|' /C calc'!A0", name="张三", phone="13812345678")
    plain = client.post("/tips/export", data={"csrf_token": token, "format": "csv", "reason": "想看看"})
    header, first = _csv(plain)[:2]
    assert "举报人" not in header and "13812345678" not in plain.data.decode("utf-8-sig")
    assert first[3].startswith("'=")  # a formula, neutralised
    boss, boss_token = logged_in(app, "boss")
    full = boss.post("/tips/export", data={"csrf_token": boss_token, "format": "csv", "reason": "移送公安机关"})
    header, first = _csv(full)[:2]
    assert first[header.index("举报人电话")] == "13812345678"
    details = [json.loads(d) for (d,) in rows(db_path, "SELECT detail FROM audit_log WHERE action = 'tip_export'")]
    assert [(d["identity"], d.get("reason")) for d in details] == [(False, None), (True, "移送公安机关")]
    xlsx = boss.post("/tips/export", data={"csrf_token": boss_token, "format": "xlsx"})
    assert xlsx.data[:2] == b"PK" and "attachment" in xlsx.headers["Content-Disposition"]


def test_an_app_without_an_office_code_says_how_to_set_it(site):  # noqa: F811
    db_path, _ = site
    client, token = logged_in(make_app(db_path), "rev1")
    page = post(client, token, "/tips", channel="phone", summary="电话举报")
    assert "operator.code" in page.text
    assert rows(db_path, "SELECT count(*) FROM tips") == [(0,)]


def test_an_ad_a_tip_pointed_at_names_the_tip(site):  # noqa: F811
    db_path, ids = site
    app = make_app(db_path, TIPS=SETUP)
    client, token = logged_in(app, "rev1")
    post(client, token, "/tips", channel="web", summary="网友举报", url="http://bbs.example/1", name="张三")
    db = connect(db_path)
    made = tips.listing(db)[0]
    tips.record_fetch(db, made.id, outcome="fetched", detail="200", ad_id=ids["promo1"], actor="rev1")
    db.close()
    page = client.get(f"/ad/{ids['promo1']}").text
    assert "本条广告来自群众举报" in page and made.number in page and "张三" not in page
    assert "本条广告来自群众举报" not in client.get(f"/ad/{ids['promo2']}").text


def test_a_tips_fetch_reads_in_chinese_with_what_was_recorded_beside_it(site):  # noqa: F811
    """The fetch's detail is English on the tip (``adclear tip show`` prints it); its page says it in Chinese
    (core.reasons), the recorded text in its title, the URL quoted as it was and escaped."""
    db_path, _ = site
    app = make_app(db_path, TIPS=SETUP)
    client, token = logged_in(app, "rev1")
    post(client, token, "/tips", channel="web", summary="网友举报", url="http://bbs.example/1?<script>x</script>")
    ((tip_id,),) = rows(db_path, "SELECT id FROM tips")
    db = connect(db_path)
    fetched = "http://bbs.example/1?<script>x</script> 200, archived in warc/tips/t.warc.gz (SHA-256 " + "a" * 64 + ")"
    for detail, chinese in (
        ("robots: forbidden by robots.txt", "robots.txt 禁止：robots.txt 禁止抓取"),
        ("the fetch did not run: did not start", "抓取未能进行：未能开始"),
        (fetched, "http://bbs.example/1?&lt;script&gt;x&lt;/script&gt; 200，已存档于 warc/tips/t.warc.gz（SHA-256 "),
    ):
        tips.record_fetch(db, tip_id, outcome="failed", detail=detail, ad_id=None, actor="adclear-tip")
        page = client.get(f"/tips/{tip_id}").text
        shown = page[page.index('class="fetch-detail"') :]
        assert shown.startswith('class="fetch-detail" title="') and chinese in shown.split("</span>")[0], detail
        assert "<script>x" not in page
    db.close()
