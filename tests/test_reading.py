"""Pictures read beside the crawl (crawler/reading.py): fed as they are stored, read once per SHA-256 in a bounded
worker, written through the crawl's store with the ad classified again, and a bounded wait at the end that
leaves the rest for `adclear images read`. The crawl itself: tests/test_crawl_demo.py."""

from __future__ import annotations

import socket
import sqlite3
import time

import pytest
from PIL import Image

from core.adimages import attach, read_pending
from core.classifiers import load_classifier
from core.db import immediate
from core.images import ImageReader, cached
from core.seeds import load_seeds
from crawler.reading import PictureReading, ReadingOptions, reading_for
from demo.pictures import png, qr_picture, render
from tests.conftest import REPO, run_adclear, seeds_for
from tests.test_images import PROMOTION, QR_URL, _archive
from tests.webdata import add_ad

SITE = load_seeds(REPO / "seeds.yml").select(("demo-classifieds",))[0]


def _poster() -> bytes:
    poster = Image.new("RGB", (560, 420), (255, 255, 255))
    poster.paste(render(PROMOTION + " 稳赚不赔", "rotated"), (0, 0))
    poster.paste(qr_picture(QR_URL), (0, 160))
    return png(poster)


def _one_picture(db, db_path):
    """An ad whose text says nothing, with one archived poster; (its bytes, its SHA-256, the ad's id)."""
    poster = _poster()
    ((digest, warc),) = _archive(db_path.parent, [("http://a.test/poster.png", poster)])
    ad_id = add_ad(db, "新品推荐", "详情见图，欢迎咨询", url="http://a.test/1")
    with immediate(db):
        attach(db, ad_id, digest, warc)
    return poster, digest, ad_id


def _verdicts(db, ad_id):
    return [r[0] for r in db.execute("SELECT label FROM verdicts WHERE ad_id = ? ORDER BY id", [ad_id])]


def test_a_picture_on_two_ads_is_read_once_and_each_ad_is_classified_again_once(db, db_path):
    poster, card = _poster(), png(qr_picture(QR_URL))
    (p_digest, p_warc), (c_digest, c_warc) = _archive(
        db_path.parent, [("http://a.test/poster.png", poster), ("http://a.test/qr.png", card)]
    )
    first = add_ad(db, "新品推荐", "详情见图，欢迎咨询", url="http://a.test/1")
    second = add_ad(db, "周末活动", "扫码了解", url="http://a.test/2")
    with immediate(db):
        attach(db, first, p_digest, p_warc, position=0)
        attach(db, first, c_digest, c_warc, position=1)
        attach(db, second, c_digest, c_warc)
    reading = PictureReading(db_path, ReadingOptions(workers=1, timeout=120))
    assert reading_for(db_path) is reading
    reading.offer(SITE, first, p_digest, poster, fresh=True)
    reading.offer(SITE, first, c_digest, card, fresh=True)
    reading.offer(SITE, second, c_digest, card, fresh=True)  # being read already: waits for it
    reading.offer(SITE, second, "0" * 64, b"not the picture of that digest", fresh=True)  # left
    report = reading.finish(wait=180)
    assert reading_for(db_path) is None
    assert (report.pictures, report.ok, report.ads, report.contacts, report.cut_short) == (2, 2, 2, 2, False)
    assert report.peak_memory_mb > 50  # the worker loaded its models
    # each ad classified again once, when its last picture was read, through the verdicts' own path
    assert _verdicts(db, first) == ["clear", "flag"] and _verdicts(db, second) == ["clear", "clear"]
    status, queued = db.execute(
        "SELECT a.status, q.state FROM ads a JOIN queue q ON q.ad_id = a.id WHERE a.id = ?", [first]
    ).fetchone()
    assert (status, queued) == ("flagged", "pending")
    linked = db.execute("SELECT ad_id FROM contacts WHERE kind = 'url' AND value = ? ORDER BY ad_id", [QR_URL])
    assert [r[0] for r in linked] == [first, second]
    assert cached(db, p_digest).status == "ok" and cached(db, "0" * 64) is None

    # a later crawl: the same picture on a new ad is not read again, the ad follows from the stored read;
    # an ad that had it already and did not change gets no new verdict
    third = add_ad(db, "新品", "见图", url="http://a.test/3")
    with immediate(db):
        attach(db, third, p_digest, p_warc)
    again = PictureReading(db_path, ReadingOptions(workers=1, timeout=120))
    again.offer(SITE, third, p_digest, poster, fresh=True)
    again.offer(SITE, first, p_digest, poster, fresh=False)
    report = again.finish(wait=60)
    assert (report.pictures, report.known, report.ads, report.peak_memory_mb) == (0, 2, 1, 0)
    assert _verdicts(db, third) == ["clear", "flag"] and _verdicts(db, first) == ["clear", "flag"]


def test_the_wait_at_the_end_is_bounded_and_what_is_not_read_is_left_for_images_read(db, db_path):
    poster, digest, ad_id = _one_picture(db, db_path)
    reading = PictureReading(db_path, ReadingOptions(workers=1, timeout=120))
    reading.offer(SITE, ad_id, digest, poster, fresh=True)
    started = time.monotonic()
    report = reading.finish(wait=0.2)  # a worker's start and its models take longer than that
    assert time.monotonic() - started < 15
    assert (report.pictures, report.cut_short) == (0, True)
    assert cached(db, digest) is None and _verdicts(db, ad_id) == ["clear"]
    with ImageReader(workers=1, timeout=120) as reader:
        counts = read_pending(db, db_path.parent, reader, load_classifier())
    assert (counts["pictures"], counts["ok"]) == (1, 1) and _verdicts(db, ad_id) == ["clear", "flag"]


def test_a_picture_over_the_time_limit_is_that_pictures_error_and_the_reading_goes_on(db, db_path):
    poster, p_digest, ad_id = _one_picture(db, db_path)
    reading = PictureReading(db_path, ReadingOptions(workers=1, timeout=0.05))
    reading.offer(SITE, ad_id, p_digest, poster, fresh=True)
    report = reading.finish(wait=60)
    assert (report.pictures, report.error) == (1, 1)
    assert "not read within 0.05 s" in cached(db, p_digest).error  # kept: not tried again


def test_a_site_reads_what_seeds_yml_asks_for(db, db_path):
    poster, digest, ad_id = _one_picture(db, db_path)
    off = SITE.model_copy(update={"images": SITE.images.model_copy(update={"read": False})})
    reading = PictureReading(db_path, ReadingOptions(workers=1, timeout=120))
    reading.offer(off, ad_id, digest, poster, fresh=True)  # images.read: false
    reading.offer(SITE, ad_id, digest, poster, fresh=True, screenshot=True)  # images.read_screenshots is off
    report = reading.finish(wait=60)
    assert (report.pictures, report.known, report.peak_memory_mb) == (0, 0, 0) and cached(db, digest) is None


@pytest.mark.slow
def test_the_demo_flags_its_picture_only_ad_from_its_pictures_without_another_command(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seeds = seeds_for(f"http://127.0.0.1:{port}", tmp_path / "seeds.yml")
    db = tmp_path / "data" / "adclear.db"
    out = run_adclear("demo", "--port", str(port), "--no-serve", db=db, seeds=seeds, check=True).stdout
    assert "pictures: 4 read beside the crawl (4 ok, 0 skipped, 0 errors), 2 ads classified again" in out, out
    assert "43 screenshots left for `adclear images read` (seeds.yml images.read_screenshots is off)" in out
    with sqlite3.connect(db) as conn:
        ((label, pictures),) = conn.execute(
            """SELECT v.label, a.pictures FROM ads a JOIN verdicts v ON v.ad_id = a.id
               WHERE a.url LIKE '%/classifieds/ad/1901.html' ORDER BY v.id DESC LIMIT 1"""
        ).fetchall()
    assert label == "flag" and "保本" in pictures.replace(" ", "")
