"""The dashboard (统计) in headless Chromium: its charts draw offline, from the vendored ECharts.

Every request the page makes is recorded: none may leave 127.0.0.1 (no CDN, no font, no map tile), and the
console must stay free of errors. The figures on the cards are those of ``review.statistics``; a reviewer sees
the queue and his own decisions, not the office's charts.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import docx
import openpyxl
import pytest

from core.db import connect
from review import campaigns, decisions
from review.statistics import Period, compute
from review.takedowns import today_in_china
from tests.test_web_browser import login
from tests.webdata import build, running_app

pytestmark = pytest.mark.slow

CHARTS = ("trend", "category", "platform", "funnel")
CARDS = "cs => cs.map(c => [c.dataset.metric, c.querySelector('b').textContent])"


@pytest.fixture
def site(tmp_path):
    db_path = tmp_path / "data" / "adclear.db"
    ids = build(db_path)
    db = connect(db_path)
    decisions.confirm(db, ids["promo0"], reviewer="rev1", category="投资理财/P2P网贷", reason="承诺保本高息")
    decisions.confirm(db, ids["promo1"], reviewer="rev1", category="养老投资", reason="以床位返利为名")
    decisions.reject(db, ids["promo2"], reviewer="rev2", reason="防非宣传")
    today = today_in_china()
    spec = campaigns.CampaignSpec("冬季专项", today - timedelta(days=20), today + timedelta(days=10), "示范县处非办",
                                  phases=(campaigns.Phase("排查整治", today - timedelta(days=20), today),))  # fmt: skip
    campaigns.create(db, spec, actor="boss")
    db.close()
    with running_app(db_path) as base:
        yield base, db_path


def watch(page) -> tuple[list[str], list[str]]:
    """(URLs requested, console errors and page errors) from now on."""
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return requests, errors


def test_the_charts_draw_offline_with_the_figures_of_stats(browser, site):
    base, db_path = site
    page = login(browser, base, "boss")
    requests, errors = watch(page)
    page.goto(f"{base}/dashboard?campaign=冬季专项")
    for name in CHARTS:
        page.wait_for_selector(f"#chart-{name}[data-drawn] canvas", timeout=15_000)
    page.wait_for_timeout(500)
    sizes = page.eval_on_selector_all(".chart canvas", "cs => cs.map(c => [c.width, c.height])")
    assert len(sizes) >= len(CHARTS) and all(w > 100 and h > 100 for w, h in sizes), sizes
    # something was drawn: the funnel's canvas is not blank
    painted = page.eval_on_selector(
        "#chart-funnel canvas",
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; }",
    )
    assert painted > 1000
    assert requests and all(urlsplit(u).hostname == "127.0.0.1" for u in requests), requests
    assert any(u.endswith("/static/echarts/echarts.min.js") for u in requests)
    assert errors == []
    db = connect(db_path)
    today = today_in_china()
    s = compute(db, Period(today - timedelta(days=20), today + timedelta(days=10)))
    cards = dict(page.eval_on_selector_all("#figures .stat-card", CARDS))
    assert {m: int(cards[m]) for m in s.totals} == s.totals
    assert (s.totals["confirmed"], s.totals["rejected"], cards["illegal_rate"]) == (2, 1, "66.7%")
    # the phase picker and a period: the page says which
    page.select_option("select[name=phase]", "排查整治")
    page.click("#dash-picker button[type=submit]")
    page.wait_for_selector("#chart-trend[data-drawn] canvas")
    assert "冬季专项（排查整治）" in page.inner_text("h1")
    assert errors == [] and all(urlsplit(u).hostname == "127.0.0.1" for u in requests)
    page.context.close()


def test_a_reviewer_sees_his_queue_and_his_own_decisions(browser, site):
    base, _ = site
    page = login(browser, base, "rev1")
    page.goto(f"{base}/dashboard")
    assert page.query_selector("#my-queue") is not None and page.query_selector(".chart") is None
    mine = dict(page.eval_on_selector_all("#my-figures .stat-card", CARDS))
    assert (mine["confirmed"], mine["rejected"], mine["takedowns_requested"]) == ("2", "0", "2")
    page.context.close()


def test_bad_dates_are_refused_with_a_message(browser, site):
    base, _ = site
    page = login(browser, base, "boss")
    answer = page.goto(f"{base}/dashboard?from=2026-02-30")
    assert answer is not None and answer.status == 400
    later = (date.today() + timedelta(days=5)).isoformat()
    page.goto(f"{base}/dashboard?from={later}&to={date.today().isoformat()}")
    assert re.search(r"晚于截止日期", page.inner_text(".flashes"))
    page.goto(f"{base}/dashboard?campaign=没有这个")
    assert "没有这个" in page.inner_text(".flashes")
    page.context.close()


def test_a_campaign_s_report_downloads_from_the_dashboard_and_is_audited(browser, site):
    """The report a supervisor downloads is the one `adclear report` writes: the Word document names the
    campaign and carries its figures; the download is in the audit log; a reviewer may not download."""
    base, db_path = site
    page = login(browser, base, "boss")
    page.goto(f"{base}/dashboard")
    assert "选择专项行动后可下载工作报告" in page.inner_text("#dash-report")
    page.goto(f"{base}/dashboard?campaign=冬季专项")
    files = {}
    for fmt in ("docx", "xlsx"):
        page.select_option("#dash-report select[name=format]", fmt)
        with page.expect_download() as info:
            page.click("#dash-report button[type=submit]")
        download = info.value
        assert download.suggested_filename.startswith("冬季专项_") and download.suggested_filename.endswith(f".{fmt}")
        files[fmt] = Path(download.path()).read_bytes()
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(files["docx"])).paragraphs)
    assert "冬季专项" in text and "示范县处非办" in text
    figures = [[c.text for c in row.cells] for row in docx.Document(io.BytesIO(files["docx"])).tables[0].rows]
    assert ["确认违法广告", "2"] in figures and ["驳回（非违法）", "1"] in figures  # the figures of the page
    workbook = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    assert len(workbook.sheetnames) >= 2
    db = connect(db_path)
    audited = db.execute("SELECT actor, target, detail FROM audit_log WHERE action = 'report' ORDER BY id").fetchall()
    assert [(a, t) for a, t, _ in audited] == [("boss", "冬季专项"), ("boss", "冬季专项")]
    assert '"format": "docx"' in audited[0][2]
    page.context.close()
    reviewer = login(browser, base, "rev1")
    answer = reviewer.goto(f"{base}/dashboard/report?campaign=冬季专项&format=docx")
    assert answer is not None and answer.status == 403
    reviewer.context.close()
