"""The notice: crawled text escaped, printed to an A4 PDF by Chromium with numbered pages, nothing fetched."""

from __future__ import annotations

import shutil
import subprocess
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from review.notice import Notice, NoticeFailed, NoticeItem, render_html, render_pdf

HOSTILE = '<img src="http://127.0.0.1:{port}/beacon"><script>alert(1)</script>'


def notice(title: str = "月息3分保本保息", items: int = 2, kind: str = "platform") -> Notice:
    return Notice(
        number="〔2026〕SFX交字第0007号",
        office_name="示范县处非办",
        receiver_name="示范同城网运营有限公司",
        receiver_kind=kind,
        deadline=date(2026, 12, 11),
        deadline_days=7,
        issued=date(2026, 12, 2),
        ledger_seq=42,
        ledger_hash="9c" * 32,
        items=tuple(
            NoticeItem(
                ad_id=i,
                url=f"http://127.0.0.1:8731/classifieds/ad/{i}",
                title=title,
                platform="示范同城网",
                category="投资理财/P2P网贷",
                legal_basis="《防范和处置非法集资条例》第十九条",
                evidence_sha256=f"{i:064x}",
                first_seen="2026-11-20 10:30",
            )
            for i in range(1, items + 1)
        ),
    )


def test_html_escapes_crawled_text_and_names_everything() -> None:
    html = render_html(notice(title=HOSTILE.format(port=1)))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for expected in ("删除通知", "〔2026〕SFX交字第0007号", "2026年12月11日", "第 42 条", "9c" * 32, f"{2:064x}"):
        assert expected in html
    assert "交办通知书" in render_html(notice(kind="department"))


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "n.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_pdf_is_a4_with_chinese_text_and_page_numbers(tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("needs poppler-utils (pdftotext)")
    pdf = render_pdf(render_html(notice(items=14)))
    assert pdf.startswith(b"%PDF-")
    (tmp_path / "n.pdf").write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(tmp_path / "n.pdf")], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 2
    text = pdf_text(pdf, tmp_path)
    assert "删除通知" in text and "示范同城网运营有限公司" in text  # the Chinese text is there, in a CJK font
    compact = "".join(text.split())
    assert f"第1页/共{pages}页" in compact and f"第{pages}页/共{pages}页" in compact
    assert f"{14:064x}" in compact  # each ad's evidence digest, whole


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_printing_fetches_nothing() -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        # even markup that slipped past escaping (here put in on purpose) may not fetch while printing
        html = render_html(notice()).replace("</body>", HOSTILE.format(port=port) + "</body>")
        html = html.replace("</body>", f'<link rel="stylesheet" href="http://127.0.0.1:{port}/css"></body>')
        assert render_pdf(html).startswith(b"%PDF-")
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def test_no_browser_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NoticeFailed, match=r"no Chromium at .*/nothing; install Debian's chromium"):
        render_pdf("<p>x</p>", chromium=str(tmp_path / "nothing"))
