"""Crawls that stop half-way, crawls that come back: nothing lost, nothing twice, nothing half-written."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from demo.classifieds.site import ClassifiedsSite
from tests.conftest import ADCLEAR, NO_READING, REPO, run_adclear, seeds_for

pytestmark = pytest.mark.slow
N_ADS = len(ClassifiedsSite().ads)


def slow_seeds(base_url, tmp_path, *, delay=0.0, extra=""):
    path = seeds_for(base_url, tmp_path / "seeds.yml")
    text = path.read_text(encoding="utf-8")
    demo_block = text.split("  - name: demo-hostile")[0]
    demo_block = demo_block.replace("    delay: 0\n", f"    delay: {delay}\n{extra}", 1)
    path.write_text(demo_block, encoding="utf-8")
    return path


def count(db, sql="SELECT count(*) FROM ads"):
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def start_crawl(db, seeds):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    cmd = [*ADCLEAR, "--db", str(db), "--seeds", str(seeds), "crawl", *NO_READING, "demo-classifieds"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_ads(db, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while count(db) < n:
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        assert time.monotonic() < deadline, "the crawl made no progress"
        time.sleep(0.05)


def assert_whole(db):
    """Every demo ad once, and every ad complete: version, sighting, evidence, verdict all there."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*), count(DISTINCT url) FROM ads").fetchone() == (N_ADS, N_ADS)
        for table in ("ad_versions", "evidence", "verdicts"):
            missing = conn.execute(f"SELECT count(*) FROM ads WHERE id NOT IN (SELECT ad_id FROM {table})").fetchone()
            assert missing == (0,), table
        assert conn.execute("SELECT count(*) FROM ads WHERE id NOT IN (SELECT ad_id FROM sightings)").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM crawl_runs WHERE status = 'running'").fetchone() == (0,)


def test_kill_9_half_way_then_rerun(tmp_path, demo_site):
    db = tmp_path / "data" / "adclear.db"
    proc = start_crawl(db, slow_seeds(demo_site, tmp_path, delay=0.1))
    wait_for_ads(db, 20, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    stored = count(db)
    assert 20 <= stored < N_ADS
    assert (db.parent / "jobs" / "demo-classifieds").exists()  # left behind by the killed run

    again = run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=slow_seeds(demo_site, tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert_whole(db)
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT id, status, reason FROM crawl_runs ORDER BY id").fetchall()
    assert runs[0] == (1, "interrupted", "the crawl process stopped before the run finished")
    assert runs[1][:2] == (2, "ok")
    # the killed run's JOBDIR could not be trusted: the rerun crawled from the start, and cleaned up after
    assert f"{N_ADS - stored} new, {stored} seen again" in again.stdout
    assert not (db.parent / "jobs" / "demo-classifieds").exists()


def test_ctrl_c_then_resume_where_it_stopped(tmp_path, demo_site):
    db = tmp_path / "data" / "adclear.db"
    proc = start_crawl(db, slow_seeds(demo_site, tmp_path, delay=0.1))
    wait_for_ads(db, 20, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "demo-classifieds: interrupted (run 1)" in out
    first_pages = count(db, "SELECT count(*) FROM pages WHERE run_id = 1")
    assert (db.parent / "jobs" / "demo-classifieds").exists()

    again = run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=slow_seeds(demo_site, tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert_whole(db)
    second_pages = count(db, "SELECT count(*) FROM pages WHERE run_id = 2 AND url NOT LIKE '%robots.txt'")
    total = count(db, "SELECT count(DISTINCT url) FROM pages WHERE url NOT LIKE '%robots.txt'")
    # resumed: the second run fetched what the first had not, not everything again
    assert second_pages < total
    assert first_pages + second_pages >= total
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, reason FROM crawl_runs WHERE id = 1").fetchone() == (
            "interrupted",
            "shutdown",
        )


def test_incremental_crawl_does_not_refetch_recent_ads(tmp_path, demo_site):
    db = tmp_path / "data" / "adclear.db"
    seeds = slow_seeds(demo_site, tmp_path, extra="    revisit_after: 24\n")
    run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=seeds, check=True)
    second = run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=seeds, check=True)
    with sqlite3.connect(db) as conn:
        fetched = conn.execute("SELECT count(*) FROM pages WHERE run_id = 2 AND url LIKE '%/ad/%'").fetchone()[0]
        listed = conn.execute("SELECT count(*) FROM sightings WHERE run_id = 2 AND change = 'listed'").fetchone()[0]
    assert fetched == 0
    assert listed == N_ADS
    assert f"{N_ADS} ads (0 new, {N_ADS} seen again, 0 changed)" in second.stdout


def test_a_changed_ad_keeps_its_earlier_version_and_evidence(tmp_path):
    from demo.server import start

    server = start(0)
    try:
        db = tmp_path / "data" / "adclear.db"
        seeds = slow_seeds(server.base_url, tmp_path)
        run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=seeds, check=True)
        site = server.classifieds
        old = site.by_id[1001]
        new = dataclasses.replace(old, body=old.body + "\n新增：本周加息2%，仅限前十名。")
        site.ads[site.ads.index(old)] = new
        site.by_id[1001] = new
        second = run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=seeds, check=True)
    finally:
        server.shutdown()
        server.server_close()
    assert f"{N_ADS} ads (0 new, {N_ADS - 1} seen again, 1 changed)" in second.stdout
    with sqlite3.connect(db) as conn:
        (ad_id, body) = conn.execute("SELECT id, body FROM ads WHERE url LIKE '%/ad/1001.html'").fetchone()
        versions = conn.execute("SELECT body FROM ad_versions WHERE ad_id = ? ORDER BY id", [ad_id]).fetchall()
        evidence = conn.execute("SELECT DISTINCT sha256 FROM evidence WHERE ad_id = ?", [ad_id]).fetchall()
    assert body.endswith("仅限前十名。")
    assert [v for (v,) in versions] == [old.body.strip(), body]
    assert len(evidence) == 2


# A signal while Scrapy sets its crawlers up, before its own handlers are in place (the moment `make demo`'s
# SIGTERM test once hit): one site failed as "did not start" and the others crawled on. Sent from inside
# CrawlerProcess.crawl, the stop is taken before anything is crawled, as a Ctrl-C.
STOP_DURING_SETUP = """
import os, signal, sys
from pathlib import Path
from scrapy.crawler import CrawlerProcess
from adclear.crawl import run_crawl
from core.seeds import load_seeds

original = CrawlerProcess.crawl
def crawl_then_signal(self, *args, **kwargs):
    result = original(self, *args, **kwargs)
    os.kill(os.getpid(), getattr(signal, sys.argv[3]))
    return result
CrawlerProcess.crawl = crawl_then_signal
seeds = load_seeds(Path(sys.argv[2]))
try:
    run_crawl(seeds, seeds.sites[:2], db_path=Path(sys.argv[1]), seeds_path=Path(sys.argv[2]), log_file=None)
except KeyboardInterrupt:
    print("stopped before crawling")
    sys.exit(130)
print("crawled on")
"""


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_signal_during_the_crawlers_setup_stops_before_crawling(tmp_path, how):
    seeds = seeds_for("http://127.0.0.1:9", tmp_path / "seeds.yml")  # nothing listens: nothing may be fetched
    db = tmp_path / "data" / "adclear.db"
    done = subprocess.run(
        [sys.executable, "-c", STOP_DURING_SETUP, str(db), str(seeds), how],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 130, done.stdout + done.stderr
    assert done.stdout.strip() == "stopped before crawling"
    assert "Traceback" not in done.stderr
    assert not db.exists() or count(db, "SELECT count(*) FROM crawl_runs") == 0
