"""Pictures of the reports for the docs: the first page of the Word brief (docs/img/report-docx.png) and of the
workbook (docs/img/report-xlsx.png), as LibreOffice prints them, from a demo database.

    .venv/bin/adclear --db /tmp/demo/core.db demo --no-serve     # a demo database (crawls the demo sites)
    .venv/bin/python docs/img/make_report_images.py /tmp/demo/core.db

The demo reviewer confirms the ten highest-scored ads and rejects two, a campaign with three phases is made
around today, and `adclear report` writes the .docx (fonts: noto, the fonts this machine has) and the .xlsx;
LibreOffice headless prints each to PDF and pdftoppm makes the PNG at 80 dpi. Needs Debian's
libreoffice-writer-nogui, libreoffice-calc-nogui, fonts-noto-cjk and poppler-utils.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from core.db import connect  # noqa: E402 (after the path insert)
from review import campaigns  # noqa: E402
from review.decisions import confirm, reject  # noqa: E402
from review.takedowns import today_in_china  # noqa: E402

CAMPAIGN = "打击非法集资广告专项整治"


def prepare(db_path: Path) -> None:
    db = connect(db_path)
    queued = db.execute(
        """SELECT q.ad_id, v.categories FROM queue q JOIN verdicts v ON v.id = q.verdict_id
           WHERE q.state = 'pending' ORDER BY q.priority DESC, v.score DESC LIMIT 12"""
    ).fetchall()
    for ad_id, categories in queued[:10]:
        category = (json.loads(categories) or ["投资理财/P2P网贷"])[0]
        confirm(db, ad_id, reviewer="reviewer", category=category, reason="承诺保本高息，面向公众招揽资金")
    for ad_id, _ in queued[10:]:
        reject(db, ad_id, reviewer="reviewer", reason="其他", note="防范非法集资宣传")
    today = today_in_china()
    phases = (
        campaigns.Phase("部署落实", today - timedelta(days=14), today - timedelta(days=8)),
        campaigns.Phase("排查整治", today - timedelta(days=7), today + timedelta(days=14)),
        campaigns.Phase("督导总结", today + timedelta(days=15), today + timedelta(days=21)),
    )
    office = "示范县防范和处置非法集资工作领导小组办公室"
    first, last = today - timedelta(days=14), today + timedelta(days=21)
    spec = campaigns.CampaignSpec(CAMPAIGN, first, last, office=office, phases=phases)
    campaigns.create(db, spec, actor="supervisor")
    db.close()


def picture(document: Path, target: Path, work: Path) -> None:
    subprocess.run(
        ["libreoffice", f"-env:UserInstallation=file://{work}/profile", "--headless", "--convert-to", "pdf",
         "--outdir", str(work), str(document)],
        check=True, capture_output=True,
    )  # fmt: skip
    pdf = work / (document.stem + ".pdf")
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(target.with_suffix(""))],
        check=True,
    )
    print(f"wrote {target}")


def main(db_path: Path) -> None:
    prepare(db_path)
    adclear = str(REPO / ".venv" / "bin" / "adclear")
    with tempfile.TemporaryDirectory(prefix="adclear-report-images-") as tmp:
        work = Path(tmp)
        for fmt in ("docx", "xlsx"):
            out = work / f"report.{fmt}"
            subprocess.run(
                [adclear, "--db", str(db_path), "report", "--campaign", CAMPAIGN, "--format", fmt, "--fonts", "noto",
                 "-o", str(out)],
                check=True,
            )  # fmt: skip
            picture(out, HERE / f"report-{fmt}.png", work)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
