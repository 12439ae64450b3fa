"""Group commit (crawler/store.py): the crawl's writes share one transaction, committed every few tenths of a
second; each write is a savepoint, so a failing one takes back only itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.seeds import load_seeds
from crawler.items import AdItem, PageRef
from crawler.store import CrawlStore

REPO = Path(__file__).resolve().parents[1]


def open_store(db_path: Path, group_seconds: float) -> CrawlStore:
    store = CrawlStore(db_path, group_seconds=group_seconds)
    site = load_seeds(REPO / "seeds.yml").site("demo-classifieds")
    store.sync_site(site)
    store.run_id = store.begin_run(site.name, "test")
    return store


def page(store: CrawlStore, n: int) -> int:
    return store.record_page(
        store.run_id,
        url=f"http://127.0.0.1/ad/{n}.html",
        status=200,
        fetched_at="2026-11-28T00:00:00Z",
        content_type="text/html",
        length=10,
        sha256="0" * 64,
        warc_file="warc/x.warc.gz",
        warc_offset=n,
        warc_length=1,
    )


def ad(n: int, page_id: int | None) -> AdItem:
    ref = None if page_id is None else PageRef(page_id, f"http://127.0.0.1/ad/{n}.html", 200, "t", "0" * 64, "w", 0, 1)
    item = AdItem(
        site="demo-classifieds",
        platform="示范同城网",
        url=f"http://127.0.0.1/ad/{n}.html",
        page_url=f"http://127.0.0.1/ad/{n}.html",
        page=ref,
    )
    item.set_text(
        title=f"广告 {n}", body="年化收益12%，保本保息，电话 138 0000 1234", contact="", author="", posted_at=None
    )
    return item


def seen_elsewhere(db_path: Path, table: str) -> int:
    """What another process sees: committed rows only."""
    with sqlite3.connect(db_path) as other:
        return other.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_writes_are_seen_by_others_only_once_the_group_is_committed(db_path):
    store = open_store(db_path, group_seconds=3600)
    store.save_ad(ad(1, page(store, 1)), store.run_id)
    store.save_ad(ad(2, page(store, 2)), store.run_id)
    assert seen_elsewhere(db_path, "ads") == 0 and seen_elsewhere(db_path, "pages") == 0
    assert store.db.execute("SELECT count(*) FROM ads").fetchone()[0] == 2  # the crawl sees its own writes
    store.flush()
    assert seen_elsewhere(db_path, "ads") == 2 and seen_elsewhere(db_path, "pages") == 2
    store.close()


def test_a_group_is_committed_once_it_is_older_than_group_seconds(db_path):
    store = open_store(db_path, group_seconds=1e-9)
    store.save_ad(ad(1, page(store, 1)), store.run_id)
    assert seen_elsewhere(db_path, "ads") == 1
    store.close()


def test_a_failing_write_takes_back_only_itself(db_path):
    store = open_store(db_path, group_seconds=3600)
    store.save_ad(ad(1, page(store, 1)), store.run_id)
    with pytest.raises(sqlite3.IntegrityError):  # its evidence names a page that does not exist
        store.save_ad(ad(2, 999_999), store.run_id)
    store.save_ad(ad(3, page(store, 3)), store.run_id)
    store.flush()
    with sqlite3.connect(db_path) as other:
        urls = [u for (u,) in other.execute("SELECT url FROM ads ORDER BY url")]
        assert urls == ["http://127.0.0.1/ad/1.html", "http://127.0.0.1/ad/3.html"]  # nothing of ad 2 ...
        assert other.execute("SELECT count(*) FROM ad_versions").fetchone()[0] == 2  # ... not even a part
        assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_closing_the_run_commits_what_is_pending(db_path):
    store = open_store(db_path, group_seconds=3600)
    store.save_ad(ad(1, page(store, 1)), store.run_id)
    figures = store.finish_run(store.run_id, status="ok", reason="finished", pages=1, stats={}, warc_file=None)
    assert figures["ads_new"] == 1
    assert seen_elsewhere(db_path, "ads") == 1
    store.save_ad(ad(2, page(store, 2)), store.run_id)
    store.close()  # close commits too
    assert seen_elsewhere(db_path, "ads") == 2


def test_without_group_commit_every_write_is_its_own_transaction(db_path):
    store = open_store(db_path, group_seconds=0)
    store.save_ad(ad(1, page(store, 1)), store.run_id)
    assert seen_elsewhere(db_path, "ads") == 1 and not store.db.conn.in_transaction
    store.close()


_TIMER_SCRIPT = """
import sqlite3, sys
from pathlib import Path
from scrapy import Spider
from scrapy.utils.test import get_crawler
from twisted.internet import task
from core.seeds import load_seeds
from crawler.extensions import RunRecorder

db = Path(sys.argv[1])
site = load_seeds(Path(sys.argv[2])).site("demo-classifieds")

class S(Spider):
    name = "demo-classifieds"

S.site = site
crawler = get_crawler(S, {"ADCLEAR_DB": str(db), "ADCLEAR_GROUP_COMMIT_SECONDS": 0.5})
recorder = RunRecorder(crawler)
clock = task.Clock()
recorder.clock = clock
spider = S()
recorder.spider_opened(spider)
recorder.store.record_error(recorder.run_id, url="http://127.0.0.1/x", kind="http_500", message="x")

def seen():
    with sqlite3.connect(db) as other:
        return other.execute("SELECT count(*) FROM crawl_errors").fetchone()[0]

print("before", seen())
clock.advance(0.6)  # the crawl waits for the network: no write comes to commit the group
print("after", seen())
"""


def test_the_crawl_commits_on_a_timer_while_it_waits(tmp_path):
    """RunRecorder commits the group every ADCLEAR_GROUP_COMMIT_SECONDS even when no write comes (a subprocess:
    it needs a Twisted reactor)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "timer.py"
    script.write_text(_TIMER_SCRIPT, encoding="utf-8")
    db = tmp_path / "data" / "adclear.db"
    result = subprocess.run(
        [sys.executable, str(script), str(db), str(REPO / "seeds.yml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "before 0" in result.stdout and "after 1" in result.stdout, result.stdout


def test_the_crawl_uses_group_commit_and_says_how_long():
    from crawler import settings

    assert 0 < settings.ADCLEAR_GROUP_COMMIT_SECONDS <= 2  # long enough to matter, short enough not to block


def test_the_crawls_of_one_process_share_a_connection_and_its_group(db_path):
    """Two sites crawled in one process (one thread): a second connection would wait for the first's group
    transaction while blocking the thread that commits it."""
    first = open_store(db_path, group_seconds=3600)
    first.save_ad(ad(1, page(first, 1)), first.run_id)
    second = CrawlStore(db_path, group_seconds=3600)
    site = load_seeds(REPO / "seeds.yml").site("demo-social")
    second.sync_site(site)  # commits the group first, then its own transaction: no waiting
    second.run_id = second.begin_run(site.name, "test")
    second.save_ad(ad(2, page(second, 2)), second.run_id)
    first.save_ad(ad(3, page(first, 3)), first.run_id)
    assert first.db is second.db
    second.close()
    assert seen_elsewhere(db_path, "ads") == 3  # closing committed the shared group
    first.save_ad(ad(4, page(first, 4)), first.run_id)  # the connection stays open for the other crawl
    first.close()
    first.close()  # twice: harmless
    assert seen_elsewhere(db_path, "ads") == 4
    third = CrawlStore(db_path)  # a new connection once all are closed
    assert third.db is not first.db
    third.close()


def test_a_commit_that_fails_loses_its_group_but_not_the_crawl(db_path):
    """A full disk at commit: that group is rolled back, the error is raised, and the next writes work."""

    class FailingCommit:
        def __init__(self, conn):
            self.conn, self.fail = conn, True

        def execute(self, sql, *args):
            if sql == "COMMIT" and self.fail:
                self.fail = False
                raise sqlite3.OperationalError("database or disk is full")
            return self.conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.conn, name)

    store = open_store(db_path, group_seconds=3600)
    store.save_ad(ad(1, page(store, 1)), store.run_id)
    real = store.db.conn
    store.db.conn = FailingCommit(real)
    with pytest.raises(sqlite3.OperationalError):
        store.flush()
    assert not real.in_transaction
    store.save_ad(ad(2, page(store, 2)), store.run_id)  # a new group
    store.flush()
    store.db.conn = real
    with sqlite3.connect(db_path) as other:
        assert [u for (u,) in other.execute("SELECT url FROM ads")] == ["http://127.0.0.1/ad/2.html"]
        assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_a_groups_ads_enter_the_search_index_together_as_it_commits(db_path):
    """Indexed each in its own savepoint, every ad cost FTS5 a segment: the group's ads are indexed at once, just
    before it commits, from the text made as each was stored; one indexed meanwhile keeps what that indexed."""
    from core.search_index import index_ad

    store = open_store(db_path, group_seconds=3600)
    first = store.save_ad(ad(1, page(store, 1)), store.run_id).ad_id
    second = store.save_ad(ad(2, page(store, 2)), store.run_id).ad_id
    assert store.db.execute("SELECT count(*) FROM ad_search").fetchone()[0] == 0  # not yet: at the commit
    with store.writing():  # its pictures read meanwhile (core.adimages.update_ad indexes it at once)
        store.db.execute("UPDATE ads SET pictures = '扫码认购' WHERE id = ?", [first])
        index_ad(store.db, first)
    store.flush()
    with sqlite3.connect(db_path) as other:
        found = other.execute("SELECT rowid FROM ad_search WHERE ad_search MATCH '保本保息' ORDER BY rowid").fetchall()
        assert found == [(first,), (second,)]
        assert other.execute("SELECT rowid FROM ad_search WHERE ad_search MATCH '扫码认购'").fetchall() == [(first,)]
        assert other.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0
    store.close()


def test_a_group_whose_indexing_fails_commits_and_leaves_its_ads_to_the_search(db_path, monkeypatch, caplog):
    import crawler.store

    def broken(db, texts):
        db.execute("INSERT INTO ad_search (rowid, text) VALUES (1, 'half')")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(crawler.store, "index_texts", broken)
    store = open_store(db_path, group_seconds=3600)
    store.save_ad(ad(1, page(store, 1)), store.run_id)
    store.flush()
    assert seen_elsewhere(db_path, "ads") == 1
    assert seen_elsewhere(db_path, "search_pending") == 1 and seen_elsewhere(db_path, "ad_search") == 0
    assert "1 ads left for the search to index" in caplog.text
    store.close()
