"""Data and servers for the web app's tests: ads stored through the library, the app on a free loopback port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.db import connect, immediate
from core.timeutil import now_utc
from core.verdicts import ad_text, store_verdict
from crawler.store import content_hash
from crawler.warc import RunArchive

PASSWORDS = {"rev1": "Kiwi-Harbor-2041", "rev2": "Mango-Bridge-3172", "boss": "Lotus-Signal-5093"}

PROMOTIONS = [
    (
        "鑫盛通网贷 年化12% 保本保息 千元起投",
        "投资理财，年化收益12%，保本保息，稳赚不赔。千元起投，名额有限，加微信 xst2026 咨询。",
    ),
    (
        "康乐颐养公寓床位预售 年回报10%",
        "预售养老床位，签约后每年返还10%养老收益，五年后全额退还本金。咨询电话 138 0000 3131",
    ),
    ("原始股内部认购 即将上市", "公司即将上市，原始股内部认购，上市后翻十倍，保本保息，名额有限，加微信 ys_gu2026。"),
    (
        "招募社区合伙人 区块链项目 日息千分之三",
        "区块链矿机分红，日息千分之三，推荐一人投资可获10%返利，早加入早回本，加V：lian2026",
    ),
    ("互助会招募会员 月息二分 本金保障", "入社分红，月息二分，本金保障，存取自由，送食用油，电话 139 0000 9191"),
]
HOSTILE_TITLE = '<script>alert("title")</script>年化20%保本保息'
HOSTILE_BODY = (
    "高息理财，年化20%，保本保息，稳赚不赔！<img src=x onerror=alert('img')>\n"
    "<a href=\"javascript:alert('link')\">点我加入</a> <svg onload=alert(1)> 千元起投，加微信 evil2026"
)


def _classifier() -> Any:
    from core.classifiers import load_classifier

    return load_classifier()


def ensure_site(db: Any, name: str = "test-site", platform: str = "测试同城网", kind: str = "classifieds") -> None:
    db.execute(
        "INSERT OR IGNORE INTO sites (name, platform, kind, config, updated_at) VALUES (?, ?, ?, '{}', ?)",
        [name, platform, kind, now_utc()],
    )


class Archive:
    """One crawl run with its WARC file, for evidence pages."""

    def __init__(self, db: Any, data_dir: Path, site: str = "test-site"):
        self.db = db
        now = now_utc()
        with immediate(db):
            ensure_site(db, site)
            self.run_id = db.execute(
                "INSERT INTO crawl_runs (site, spider, started_at, status) VALUES (?, 'test', ?, 'ok')", [site, now]
            ).lastrowid
        self.archive = RunArchive(data_dir, f"warc/{site}/run-{self.run_id}.warc.gz")

    def page(self, url: str, html: str, *, charset: str = "utf-8") -> dict[str, Any]:
        body = html.encode(charset)
        now = now_utc()
        rec = self.archive.write_exchange(
            url=url,
            method="GET",
            request_headers=[("Host", "example.test")],
            status=200,
            reason="OK",
            response_headers=[("Content-Type", f"text/html; charset={charset}")],
            body=body,
            fetched_at=now,
        )
        with immediate(self.db):
            page_id = self.db.execute(
                """INSERT INTO pages (run_id, url, status, fetched_at, content_type, length, payload_sha256,
                       warc_file, warc_offset, warc_length) VALUES (?, ?, 200, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    self.run_id,
                    url,
                    now,
                    f"text/html; charset={charset}",
                    len(body),
                    rec.sha256,
                    rec.warc_file,
                    rec.offset,
                    rec.length,
                ],
            ).lastrowid
        return {"page_id": page_id, "rec": rec, "fetched_at": now, "url": url}

    def close(self) -> None:
        self.archive.close()


def add_ad(
    db: Any,
    title: str,
    body: str,
    *,
    contact: str = "",
    url: str | None = None,
    site: str = "test-site",
    platform: str = "测试同城网",
    evidence: dict[str, Any] | None = None,
    run_id: int | None = None,
) -> int:
    """Store an ad, classify it with the bundled rules, queue it; optionally with its archived page."""
    verdict = _classifier().classify(ad_text(title, body, contact)[1], title=title, url=url or "")
    now = now_utc()
    digest = content_hash(title, body, contact)
    with immediate(db):
        ensure_site(db, site, platform)
        cursor = db.execute(
            """INSERT INTO ads (ad_key, url, site, platform, title, body, contact, content_hash, first_seen,
                   last_seen, last_fetched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                url or f"k-{digest}",
                url or f"http://example.test/{digest[:8]}",
                site,
                platform,
                title,
                body,
                contact,
                digest,
                now,
                now,
                now,
            ],
        )
        ad_id = int(cursor.lastrowid)
        store_verdict(db, ad_id, digest, verdict)
        if run_id is not None:
            db.execute(
                "INSERT INTO sightings (ad_id, run_id, seen_at, change) VALUES (?, ?, ?, 'new')", [ad_id, run_id, now]
            )
        if evidence is not None:
            rec = evidence["rec"]
            db.execute(
                """INSERT INTO evidence (ad_id, page_id, kind, url, fetched_at, http_status, sha256, warc_file,
                       warc_offset, warc_length) VALUES (?, ?, 'page', ?, ?, 200, ?, ?, ?, ?)""",
                [
                    ad_id,
                    evidence["page_id"],
                    evidence["url"],
                    evidence["fetched_at"],
                    rec.sha256,
                    rec.warc_file,
                    rec.offset,
                    rec.length,
                ],
            )
    return ad_id


def build(db_path: Path, *, beacon: str = "http://127.0.0.1:9/beacon") -> dict[str, Any]:
    """A database with users, five promotions, a hostile ad and its hostile archived page; returns the ids."""
    from review.users import add_user

    db = connect(db_path)
    archive = Archive(db, db_path.parent)
    ids = {}
    for n, (title, body) in enumerate(PROMOTIONS):
        url = f"http://example.test/ad/{n}.html"
        page = archive.page(url, f"<html><body><h1>{title}</h1><p>{body}</p></body></html>")
        ids[f"promo{n}"] = add_ad(db, title, body, url=url, evidence=page, run_id=archive.run_id)
    hostile_page = archive.page(
        "http://example.test/ad/hostile.html",
        "<html><head><script>alert('frame');fetch('" + beacon + "?fetch')</script></head><body>"
        f'<h1>恶意页面</h1><img src="{beacon}?img"><iframe src="{beacon}?iframe"></iframe>'
        f'<link rel=stylesheet href="{beacon}?css"><form action="{beacon}?form"><button>x</button></form>'
        "<p>年化20% 保本保息</p></body></html>",
    )
    ids["hostile"] = add_ad(
        db,
        HOSTILE_TITLE,
        HOSTILE_BODY,
        contact="联系方式：javascript:alert('contact')",
        url="javascript:alert('url')",
        evidence=hostile_page,
        run_id=archive.run_id,
    )
    archive.close()
    add_user(db, "rev1", "reviewer", PASSWORDS["rev1"])
    add_user(db, "rev2", "reviewer", PASSWORDS["rev2"])
    add_user(db, "boss", "supervisor", PASSWORDS["boss"])
    db.close()
    return ids


@contextmanager
def running_app(db_path: Path, **config: Any) -> Iterator[str]:
    """The app on a free port of 127.0.0.1 in a thread (werkzeug, threaded); yields its base URL."""
    from werkzeug.serving import make_server

    from review.web import create_app

    app = create_app(db_path, **{"COUNTS_TTL": 0, **config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        app.extensions["adclear_pool"].close()
