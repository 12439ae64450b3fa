"""The ingest writer of a distributed crawl (crawler/ingest.py) against a real redis-server: pages archived with
their SHA-256, ads stored once however often they arrive, entries a killed writer left handled again, malformed
entries moved aside without blocking the stream, an unreachable Redis named."""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path

import pytest
import redis

from core.ads import ad_key, content_hash
from core.db import connect
from core.seeds import load_seeds
from core.warc import read_record
from crawler.ingest import IngestWriter
from crawler.stream import DEAD_KEY, GROUP, ITEMS_KEY, Entry, encode, page_entry
from tests.conftest import REPO, run_adclear

SITE = "demo-classifieds"
JOB = "job-1"
BASE = "http://127.0.0.1:8731/classifieds"
TEXT = "月息3分，保本保息，稳赚不赔，名额有限，速加微信 lc8888 认购"


def a_page(url: str, html: str, job: str = JOB, *, pack: bool = True) -> Entry:
    fields = {
        "url": url,
        "method": "GET",
        "request_headers": [("User-Agent", "adclear")],
        "status": 200,
        "reason": "OK",
        "response_headers": [("Content-Type", "text/html; charset=utf-8")],
        "body": html.encode(),
        "content_type": "text/html; charset=utf-8",
        "encoding": "utf-8",
        "exchanges": None,
        "fetched_at": "2026-12-03T06:00:00.000000+00:00",
    }
    return page_entry(fields, job, SITE, "node-a", pack=pack)


def ad_entry(url: str, title: str, body: str, page_html: str, job: str = JOB) -> Entry:
    chash = content_hash(title, body, "")
    meta = {
        "platform": "示范分类信息网",
        "url": url,
        "page_url": url,
        "in_slot": False,
        "title": title,
        "body": body,
        "contact": "",
        "author": "",
        "posted_at": None,
        "key": ad_key(url, chash),
        "content_hash": chash,
        "page": {"url": url, "sha256": hashlib.sha256(page_html.encode()).hexdigest()},
    }
    return Entry("ad", job, SITE, "node-a", meta)


def end_entry(job: str = JOB) -> Entry:
    return Entry("end", job, SITE, "node-a", {"reason": "finished", "stats": {"pages": 1}})


def send(client: redis.Redis, *entries: Entry) -> None:
    for entry in entries:
        client.xadd(ITEMS_KEY, encode(entry))  # type: ignore[arg-type]


def one_ad(n: int) -> list[Entry]:
    url = f"{BASE}/ad/{n}.html"
    html = f"<html><body><h1>理财{n}</h1><p>{TEXT}</p></body></html>"
    return [a_page(url, html), ad_entry(url, f"理财{n}", TEXT, html)]


@pytest.fixture
def client(redis_url: str):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def seeds():
    return load_seeds(REPO / "seeds.yml")


def writer(client: redis.Redis, db_path: Path, seeds, **kw) -> IngestWriter:
    return IngestWriter(client, db_path, seeds, consumer=kw.pop("consumer", "w1"), **kw)


def counts(db_path: Path) -> dict[str, int]:
    db = connect(db_path)
    try:
        return {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("ads", "pages", "evidence", "sightings", "verdicts", "queue", "crawl_errors")
        }
    finally:
        db.close()


def test_pages_and_ads_are_archived_stored_and_acknowledged(client, db_path, seeds):
    send(
        client,
        *one_ad(1),
        *one_ad(2),
        Entry("error", JOB, SITE, "node-a", {"url": f"{BASE}/x", "kind": "http_404", "message": "Not Found"}),
        end_entry(),
    )
    w = writer(client, db_path, seeds)
    figures = w.run(until_idle=0.5)
    w.close()
    assert (figures.pages, figures.ads, figures.errors, figures.malformed) == (2, 2, 1, 0)
    assert client.xlen(ITEMS_KEY) == 0  # acknowledged and deleted: the length is the work left
    assert client.xpending(ITEMS_KEY, GROUP)["pending"] == 0
    db = connect(db_path)
    run = db.execute("SELECT id, status, job, pages, ads_new, errors, warc_file FROM crawl_runs").fetchall()
    assert len(run) == 1 and run[0][1:6] == ("ok", JOB, 2, 2, 1)
    ads = db.execute("SELECT a.title, v.label FROM ads a JOIN verdicts v ON v.ad_id = a.id ORDER BY a.id").fetchall()
    assert ads == [("理财1", "flag"), ("理财2", "flag")]
    evidence = db.execute("SELECT sha256, warc_file, warc_offset FROM evidence ORDER BY ad_id").fetchall()
    assert len(evidence) == 2
    for sha, warc_file, offset in evidence:  # each page in a WARC, its payload matching its recorded SHA-256
        headers, payload = read_record(db_path.parent / warc_file, offset)
        assert hashlib.sha256(payload).hexdigest() == sha
        assert headers["WARC-Type"] == "response" and "理财" in payload.decode()
    assert db.execute("SELECT count(*) FROM queue").fetchone()[0] == 2
    db.close()
    assert [r.status for r in figures.runs_finished] == ["ok"]


def test_an_entry_handled_twice_changes_nothing(client, db_path, seeds):
    send(client, *one_ad(1))
    w = writer(client, db_path, seeds)
    w.run(until_idle=0.3)
    before = counts(db_path)
    db = connect(db_path)
    ad_before = db.execute("SELECT * FROM ads").fetchall()
    db.close()
    send(client, *one_ad(1), *one_ad(1))  # redelivered, twice
    figures = w.run(until_idle=0.3)
    w.close()
    assert counts(db_path) == before
    db = connect(db_path)
    assert db.execute("SELECT * FROM ads").fetchall() == ad_before  # not even last_seen moved
    db.close()
    assert figures.repeats == 4


def test_entries_a_killed_writer_took_are_claimed_and_stored_once(client, db_path, seeds):
    send(client, *one_ad(1), *one_ad(2))
    w = writer(client, db_path, seeds)
    w.client.xreadgroup(GROUP, "killed-writer", {ITEMS_KEY: ">"}, count=10)  # taken, never acknowledged
    assert w.step(block=0.1) == 0  # not idle long enough yet: another writer may still be on them
    w.claim_idle_ms = 0
    w._claimed_at = 0.0
    assert w.step(block=0.1) == 4
    w.close()
    assert counts(db_path)["ads"] == 2
    assert client.xpending(ITEMS_KEY, GROUP)["pending"] == 0


def test_a_page_a_killed_writer_held_is_archived_before_the_ad_that_names_it(client, db_path, seeds):
    """The writer killed holding the page; the ad came after it: a writer starting must not store the ad first
    (it would lack its evidence for good)."""
    send(client, *one_ad(1))
    w = writer(client, db_path, seeds, claim_idle=0.6)
    client.xreadgroup(GROUP, "killed-writer", {ITEMS_KEY: ">"}, count=1)  # the page, taken and never acknowledged
    assert w.step(block=0.1) == 0  # the ad waits behind the page
    assert counts(db_path)["ads"] == 0
    w.run(until_idle=1.5)
    w.close()
    db = connect(db_path)
    evidence = db.execute("SELECT e.sha256 FROM ads a LEFT JOIN evidence e ON e.ad_id = a.id").fetchall()
    db.close()
    assert len(evidence) == 1 and evidence[0][0], "the ad was stored without its page"
    assert client.xpending(ITEMS_KEY, GROUP)["pending"] == 0


def test_a_malformed_entry_is_moved_aside_with_its_reason_and_blocks_nothing(client, db_path, seeds):
    client.xadd(
        ITEMS_KEY,
        {
            b"v": b"1",
            b"kind": b"ad",
            b"job": JOB.encode(),
            b"site": SITE.encode(),
            b"node": b"n",
            b"meta": b"{not json",
        },
    )
    client.xadd(ITEMS_KEY, {b"garbage": b"\xff\xfe"})
    bad = ad_entry(f"{BASE}/ad/9.html", "理财9", TEXT, "")
    bad.meta["content_hash"] = "0" * 64  # its text says otherwise
    send(client, bad, *one_ad(1))
    other_site = one_ad(3)[0]
    other_site.site = "no-such-site"
    send(client, other_site)
    w = writer(client, db_path, seeds)
    figures = w.run(until_idle=0.3)
    w.close()
    assert figures.malformed == 4 and figures.ads == 1
    dead = client.xrange(DEAD_KEY)
    reasons = [fields[b"reason"].decode() for _, fields in dead]
    assert "meta is not JSON" in reasons[0]
    assert "format None" in reasons[1]
    assert "key or content hash does not match" in reasons[2]
    assert "'no-such-site' is not in this writer's seeds.yml" in reasons[3]
    assert dead[0][1][b"f:meta"] == b"{not json"  # the entry itself, kept beside its reason
    assert client.xlen(ITEMS_KEY) == 0
    assert counts(db_path)["ads"] == 1


def test_redis_unreachable_at_start_is_a_clear_error(tmp_path):
    from tests.redisserver import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run_adclear("ingest", "--redis", url, "--until-idle", "1", db=tmp_path / "a.db", timeout=60)
    assert result.returncode == 1
    assert f"Error: cannot reach Redis at {url}" in result.stderr
    assert "start redis-server there or correct --redis" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_stores_and_reports_the_run(client, db_path, redis_url):
    send(client, *one_ad(1), end_entry())
    result = run_adclear("ingest", "--redis", redis_url, "--until-idle", "0.5", db=db_path, check=True, timeout=120)
    assert f"{SITE}: ok (run 1): 1 pages fetched, 1 ads (1 new" in result.stdout
    assert "ingest: 3 entries" in result.stdout
    db = connect(db_path)
    checks = db.execute("SELECT name FROM run_health WHERE run_id = 1 AND ok").fetchall()
    db.close()
    assert ("finished",) in checks and ("error_rate",) in checks  # checked as after a local crawl


def test_an_unhealthy_run_the_writer_finishes_is_checked_and_alerted(client, db_path, redis_url):
    errors = [
        Entry("error", JOB, SITE, "node-a", {"url": f"{BASE}/ad/{n}.html", "kind": "http_500", "message": "boom"})
        for n in range(2, 12)
    ]
    send(client, *one_ad(1), *errors, end_entry())
    result = run_adclear("ingest", "--redis", redis_url, "--until-idle", "0.5", db=db_path, check=True, timeout=120)
    assert f"{SITE}: failed (run 1): 1 pages fetched" in result.stdout, result.stdout
    db = connect(db_path)
    failed = db.execute("SELECT name FROM run_health WHERE run_id = 1 AND NOT ok").fetchall()
    alerts = db.execute("SELECT kind, subject, run_id FROM alerts").fetchall()
    db.close()
    assert ("error_rate",) in failed
    assert [(kind, run) for kind, _, run in alerts] == [("run", 1)] and SITE in alerts[0][1]


def test_a_second_job_is_a_second_run_that_sees_the_ads_again(client, db_path, seeds):
    send(client, *one_ad(1), end_entry())
    w = writer(client, db_path, seeds)
    w.run(until_idle=0.3)
    again = one_ad(1)
    for entry in again:
        entry.job = "job-2"
    send(client, *again, end_entry("job-2"))
    figures = w.run(until_idle=0.3)
    w.close()
    db = connect(db_path)
    runs = db.execute("SELECT job, status, ads_new, ads_seen FROM crawl_runs ORDER BY id").fetchall()
    assert runs == [(JOB, "ok", 1, 0), ("job-2", "ok", 0, 1)]
    assert db.execute("SELECT count(*) FROM ads").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM pages").fetchone()[0] == 2  # each run archives what it fetched
    db.close()
    assert [r.run_id for r in figures.runs_finished] == [1, 2]


def test_an_ad_seen_again_is_known_by_its_key_and_hash_without_reading_its_meta(client, db_path, seeds):
    """Most ads of a monitoring crawl are seen again: the writer knows them by the entry's flat key and hash
    (``glance``) and never parses their meta; an entry without those fields (an older node's) is read whole."""
    page, ad = one_ad(1)
    send(client, page, ad, end_entry())
    w = writer(client, db_path, seeds)
    w.run(until_idle=0.3)
    spoiled = encode(Entry(ad.kind, "job-2", ad.site, ad.node, ad.meta))
    spoiled[b"meta"] = b"{not json"  # never read: the key and hash say the ad is stored with this content
    older = encode(Entry(ad.kind, "job-3", ad.site, ad.node, ad.meta))
    del older[b"key"], older[b"hash"]
    for job, fields in (("job-2", spoiled), ("job-3", older)):
        page.job = job
        send(client, page)
        client.xadd(ITEMS_KEY, fields)  # type: ignore[arg-type]
        send(client, end_entry(job))
    figures = w.run(until_idle=0.3)
    w.close()
    assert (figures.malformed, figures.ads) == (0, 3)  # the figures of both runs: the new ad, seen twice again
    db = connect(db_path)
    runs = db.execute("SELECT job, ads_new, ads_seen FROM crawl_runs ORDER BY id").fetchall()
    assert runs == [(JOB, 1, 0), ("job-2", 0, 1), ("job-3", 0, 1)]
    assert db.execute("SELECT change FROM sightings ORDER BY id").fetchall() == [("new",), ("same",), ("same",)]
    db.close()


def test_the_batch_read_ahead_is_handled_before_a_stop(client, db_path, seeds):
    """While a batch is handled the next is read (and the last acknowledged): a stop leaves none of them
    pending, and no entry it did not read."""
    for n in range(1, 6):
        send(client, *one_ad(n))
    w = writer(client, db_path, seeds, batch=2)
    batches: list[int] = []
    handle = w.handle
    w.handle = lambda entries: (batches.append(len(entries)), handle(entries))[1]  # type: ignore[method-assign]
    figures = w.run(stop=lambda: len(batches) >= 1)
    w.close()
    assert batches == [2, 2]  # the one in hand, then the one read ahead of it
    assert (figures.entries, figures.pages, figures.ads) == (4, 2, 2)
    assert client.xpending(ITEMS_KEY, GROUP)["pending"] == 0  # both acknowledged
    assert client.xlen(ITEMS_KEY) == 6  # the rest left in the stream, for the next writer


def test_a_writer_settles_its_classifier_out_of_the_collectors_reach(client, db_path, seeds):
    import gc

    w = writer(client, db_path, seeds)
    try:
        w.settle()
        assert w.classification._classifier is not None  # loaded before the first batch
        assert gc.get_freeze_count() > 10_000  # the rule pack, the model and the libraries
    finally:
        gc.unfreeze()
        w.close()


def test_an_ad_seen_again_then_changed_in_one_batch_ends_changed(client, db_path, seeds):
    """Ads seen again unchanged are sighted in bulk after the batch: a change later in the batch still wins."""
    send(client, *one_ad(1))
    w = writer(client, db_path, seeds)
    w.run(until_idle=0.3)
    url = f"{BASE}/ad/1.html"
    html = "<html><h1>理财1</h1><p>已更新</p></html>"
    again = [*one_ad(1), a_page(url, html), ad_entry(url, "理财1", "已更新：" + TEXT, html)]
    for entry in again:
        entry.job = "job-2"
    send(client, *again)
    w.run(until_idle=0.3)
    w.close()
    db = connect(db_path)
    assert db.execute("SELECT body FROM ads").fetchall() == [("已更新：" + TEXT,)]
    assert db.execute("SELECT change FROM sightings WHERE run_id = 2").fetchall() == [("changed",)]
    assert db.execute("SELECT count(*) FROM ad_versions").fetchone()[0] == 2
    db.close()


def assessed_ad(n: int, assessed: object) -> list[Entry]:
    page, ad = one_ad(n)
    ad.assessed = zlib.compress(json.dumps(assessed, ensure_ascii=False).encode())  # as Assessment.pack does
    return [page, ad]


def rows(db_path: Path, sql: str) -> list[tuple]:
    db = connect(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def stored_verdicts(db_path: Path) -> list[tuple]:
    db = connect(db_path)
    try:
        return db.execute(
            "SELECT label, score, categories, hits, nearest, rules_label, model, classifier_version FROM verdicts"
        ).fetchall()
    finally:
        db.close()


def test_a_nodes_assessment_is_concluded_to_the_verdict_the_writer_would_give(client, db_path, seeds, tmp_path):
    from core.classifiers import load_classifier

    assessed = load_classifier(None).assess(TEXT, "理财1", for_writer=True).to_dict()  # as a node sends it
    assert assessed["contacts"] and assessed["fingerprint"]
    send(client, *assessed_ad(1, assessed))
    w = writer(client, db_path, seeds)
    w.run(until_idle=0.3)
    assert (w.classification.concluded, w.classification.classified) == (1, 0)
    w.close()
    other = tmp_path / "other" / "adclear.db"  # the same ad sent without an assessment: classified there
    send(client, *one_ad(1))
    w = writer(client, other, seeds, consumer="w2")
    w.run(until_idle=0.3)
    assert (w.classification.concluded, w.classification.classified) == (0, 1)
    w.close()
    assert stored_verdicts(db_path) == stored_verdicts(other)
    assert stored_verdicts(db_path)[0][0] == "flag"
    # what the node made from the text (contacts, fingerprint, the normalised text indexed) is what the writer
    # would have made
    assert derived(db_path) == derived(other) and derived(db_path)[0]


def derived(db_path: Path) -> tuple[list, list, list]:
    db = connect(db_path)
    try:
        return (
            db.execute("SELECT kind, value, matched FROM contacts ORDER BY id").fetchall(),
            db.execute("SELECT exact, simhash, minhash FROM fingerprints").fetchall(),
            db.execute("SELECT rowid, text FROM ad_search").fetchall(),
        )
    finally:
        db.close()


def test_the_contacts_a_node_found_are_stored_as_it_sent_them(client, db_path, seeds):
    """The writer does not look for the contacts again (it would normalise the text a second time)."""
    from core.classifiers import load_classifier

    assessed = load_classifier(None).assess(TEXT, "理财1", for_writer=True).to_dict()
    assessed["contacts"] = [["mobile", "13800001234", "138 0000 1234", 0, 13]]
    send(client, *assessed_ad(1, assessed))
    w = writer(client, db_path, seeds)
    w.run(until_idle=0.3)
    w.close()
    assert derived(db_path)[0] == [("mobile", "13800001234", "138 0000 1234")]


def test_an_assessment_of_another_classifier_or_unreadable_is_classified_here(client, db_path, seeds, caplog):
    from core.classifiers import load_classifier

    rules_only = load_classifier(None, False).assess(TEXT, "理财1").to_dict()  # nodes without the writer's model
    broken = dict(rules_only, hits="none")
    send(client, *assessed_ad(1, rules_only), *assessed_ad(2, rules_only), *assessed_ad(3, broken))
    w = writer(client, db_path, seeds)
    figures = w.run(until_idle=0.3)
    assert (w.classification.concluded, w.classification.classified) == (0, 3)
    w.close()
    assert (figures.ads, figures.malformed) == (3, 0)  # the ads themselves are sound: stored, not moved aside
    assert {v[-1] for v in stored_verdicts(db_path)} == {load_classifier(None).version}
    warnings = [r.getMessage() for r in caplog.records if "classified here" in r.getMessage()]
    assert len(warnings) == 2  # once per reason, not once per ad
    assert "model.none" in warnings[0] and "cannot be read" in warnings[1]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # bytes enough: the writer archives and attaches, it does not decode


def picture(n: int, ad_url: str, key: str | None = None) -> list[Entry]:
    """A picture of the ad at ``ad_url`` as a node sends it: its page (the bytes), then the image entry."""
    url = f"{BASE}/img/{n}.png"
    fields = {
        "url": url,
        "method": "GET",
        "request_headers": [],
        "status": 200,
        "reason": "OK",
        "response_headers": [("Content-Type", "image/png")],
        "body": PNG + bytes([n]),
        "content_type": "image/png",
        "exchanges": None,
        "fetched_at": "2026-12-03T06:00:01.000000+00:00",
    }
    page = page_entry(fields, JOB, SITE, "node-a")
    sha = hashlib.sha256(page.body).hexdigest()  # a picture travels unpacked: the writer reads its bytes
    named = {"ad_key": key or ad_url, "position": n, "page": {"url": url, "sha256": sha}}
    return [page, Entry("image", JOB, SITE, "node-a", named)]


class Offers:
    """What the writer offers the reading beside it (crawler.reading.PictureReading's side, recorded)."""

    def __init__(self):
        self.offered: list[tuple[int, str, bytes, bool]] = []
        self.pumps = 0

    def offer(self, site, ad_id, digest, data, *, fresh, screenshot=False):
        self.offered.append((ad_id, digest, data, fresh))

    def pump(self):
        self.pumps += 1


def test_a_picture_is_attached_to_its_ad_and_offered_to_the_reading_with_its_bytes(client, db_path, seeds):
    page, ad = one_ad(1)
    send(client, page, ad, *picture(0, ad.meta["url"], ad.meta["key"]), *picture(1, ad.meta["url"], "no-such-ad"))
    offers = Offers()
    w = writer(client, db_path, seeds, reading=offers)
    figures = w.run(until_idle=0.3)
    w.close()
    images = rows(db_path, "SELECT ad_id, position, sha256, warc_file, warc_offset FROM ad_images")
    errors = rows(db_path, "SELECT kind, message FROM crawl_errors")
    assert [(ad_id, position) for ad_id, position, *_ in images] == [(1, 0)]
    _, payload = read_record(db_path.parent / images[0][3], images[0][4])  # archived, under its SHA-256
    assert hashlib.sha256(payload).hexdigest() == images[0][2] and payload == PNG + b"\x00"
    assert offers.offered == [(1, images[0][2], PNG + b"\x00", True)] and offers.pumps >= 1
    assert errors == [("image", "a picture of no-such-ad, whose ad was not stored")]  # as a local crawl says it
    assert figures.malformed == 0


def test_a_picture_whose_page_was_never_archived_is_moved_aside(client, db_path, seeds):
    page, ad = one_ad(1)
    _, image = picture(0, ad.meta["url"], ad.meta["key"])
    send(client, page, ad, image)
    w = writer(client, db_path, seeds)
    figures = w.run(until_idle=0.3)
    w.close()
    assert figures.malformed == 1
    dead = client.xrange(DEAD_KEY)
    assert len(dead) == 1 and b"was not archived" in dead[0][1][b"reason"]


def test_a_page_is_found_by_its_url_not_by_scanning_its_run(db_path):
    """The writer looks a page up for every ad and picture: through the run's index it would read all the run's
    pages each time (SQLite chose that index), a cost growing with the run."""
    from crawler.ingest import PAGE_OF_RUN

    db = connect(db_path)
    plan = db.execute(f"EXPLAIN QUERY PLAN {PAGE_OF_RUN}", ["http://x/", 1, "0" * 64]).fetchall()
    db.close()
    assert "USING INDEX pages_url (url=?)" in " ".join(row[-1] for row in plan)


def test_the_nodes_are_told_what_was_fetched_and_an_ad_listed_is_sighted_not_fetched(client, db_path, tmp_path):
    """Incremental crawling across nodes: the writer keeps when it stored each ad fetched (FETCHED_KEY) for a site
    with revisit_after; an ad a node then sees listed within it comes as a ``listed`` entry, sighted once."""
    from crawler.stream import FETCHED_KEY

    page, ad = one_ad(1)
    send(client, page, ad, end_entry())
    plain = writer(client, tmp_path / "plain" / "adclear.db", load_seeds(REPO / "seeds.yml"), consumer="w0")
    plain.run(until_idle=0.3)
    plain.close()
    assert client.hgetall(FETCHED_KEY.format(site=SITE)) == {}  # not crawled incrementally: nothing to tell
    head, sep, tail = (REPO / "seeds.yml").read_text(encoding="utf-8").partition(f"  - name: {SITE}\n")
    (tmp_path / "seeds.yml").write_text(head + sep + "    revisit_after: 24\n" + tail, encoding="utf-8")
    client.flushall()
    send(client, page, ad, end_entry())
    w = writer(client, db_path, load_seeds(tmp_path / "seeds.yml"))
    w.run(until_idle=0.3)
    told = client.hgetall(FETCHED_KEY.format(site=SITE))
    assert list(told) == [ad.meta["key"].encode()]
    assert told[ad.meta["key"].encode()].decode() >= rows(db_path, "SELECT last_fetched FROM ads")[0][0]
    listed = Entry("listed", "job-2", SITE, "node-a", {"ad_key": ad.meta["key"]})
    unknown = Entry("listed", "job-2", SITE, "node-a", {"ad_key": f"{BASE}/ad/404.html"})
    listing = a_page(f"{BASE}/list/1.html", "<html><a href='ad/1.html'>理财1</a></html>", job="job-2")
    send(client, listing, listed, listed, unknown, end_entry("job-2"))
    figures = w.run(until_idle=0.3)
    w.close()
    sightings = rows(db_path, "SELECT run_id, change FROM sightings ORDER BY id")
    run2 = rows(db_path, "SELECT status, ads_seen, pages FROM crawl_runs WHERE job = 'job-2'")[0]
    assert sightings == [(1, "new"), (2, "listed")]  # once, however often it came
    assert run2 == ("ok", 1, 1)  # the list page fetched, the ad not
    assert (figures.ads, figures.repeats, figures.malformed) == (2, 1, 1)
    assert b"does not hold" in client.xrange(DEAD_KEY)[0][1][b"reason"]


def test_a_node_packs_a_page_and_sends_a_picture_or_a_rendered_page_as_it_came(tmp_path):
    """A page fetched without a browser travels as its WARC records, made on the node (the writer appends them),
    without its payload; a picture (the writer reads its bytes) and a rendered page (its resources archived once
    per file, which only the writer knows) travel as they came."""
    from crawler.stream import decode, packed_of
    from crawler.warc import Exchange, check_packed

    html = f"<html><body>{TEXT * 50}</body></html>"
    page = a_page(f"{BASE}/ad/1.html", html)
    fields = encode(page)
    assert b"body" not in fields and fields[b"v"] == b"2"
    assert len(fields[b"warc"]) < len(html.encode()) / 3  # compressed: Redis holds a third or less
    packed = packed_of(decode(fields))
    assert packed is not None and packed.sha256 == hashlib.sha256(html.encode()).hexdigest()
    check_packed(packed, url=f"{BASE}/ad/1.html")
    assert page.meta["length"] == len(html.encode())
    image = picture(0, f"{BASE}/ad/1.html")[0]
    assert image.body.startswith(PNG) and not image.warc
    rendered = page_entry(
        {
            "url": f"{BASE}/p/1", "method": "GET", "request_headers": [], "status": 200, "reason": "OK",
            "response_headers": [], "body": b"<p>dom</p>", "content_type": "text/html", "encoding": "utf-8",
            "exchanges": [Exchange(f"{BASE}/p/1", "GET", [], 200, "OK", [], b"<p>sent</p>", "2026-12-03", True)],
            "fetched_at": "2026-12-03T06:00:00.000000+00:00",
        },
        JOB, SITE, "node-a",
    )  # fmt: skip
    assert rendered.body == b"<p>dom</p>" and rendered.parts == [b"<p>sent</p>"] and not rendered.warc


def test_a_page_an_older_node_sent_unpacked_is_archived_by_the_writer(client, db_path, seeds):
    """Format 1 (nodes before pages were packed): the writer archives the payload itself, as before."""
    url = f"{BASE}/ad/1.html"
    html = f"<html><body><h1>理财1</h1><p>{TEXT}</p></body></html>"
    older = encode(a_page(url, html, pack=False))
    older[b"v"] = b"1"
    client.xadd(ITEMS_KEY, older)  # type: ignore[arg-type]
    send(client, ad_entry(url, "理财1", TEXT, html))
    w = writer(client, db_path, seeds)
    figures = w.run(until_idle=0.3)
    w.close()
    assert (figures.pages, figures.ads, figures.malformed) == (1, 1, 0)
    (sha, warc_file, offset), *_ = rows(db_path, "SELECT sha256, warc_file, warc_offset FROM evidence")
    assert hashlib.sha256(read_record(db_path.parent / warc_file, offset)[1]).hexdigest() == sha


@pytest.mark.parametrize("threaded", [False, True])
def test_a_packed_page_whose_records_are_not_that_page_is_moved_aside_unarchived(
    client, db_path, seeds, monkeypatch, threaded
):
    """Records naming another URL, or whose payload is not the one its digest names, are refused before a byte is
    appended, whether checked where they are appended or (large pages) in the checking threads: the entry goes
    aside with the reason, the page is not indexed, the stream goes on."""
    if threaded:
        monkeypatch.setattr("crawler.ingest.THREADED_CHECK_BYTES", 0)
    url = f"{BASE}/ad/1.html"
    html = f"<html><body><h1>理财1</h1><p>{TEXT}</p></body></html>"
    elsewhere = a_page(f"{BASE}/ad/2.html", html)
    elsewhere.meta["url"] = url  # the records say /ad/2.html
    spoiled = a_page(url, html)
    spoiled.meta["warc"]["sha256"] = hashlib.sha256(b"another page").hexdigest()
    send(client, elsewhere, spoiled, *one_ad(3))
    w = writer(client, db_path, seeds)
    figures = w.run(until_idle=0.3)
    w.close()
    assert (figures.pages, figures.ads, figures.malformed) == (1, 1, 2)
    reasons = [fields[b"reason"].decode() for _, fields in client.xrange(DEAD_KEY)]
    assert "WARC-Target-URI" in reasons[0] and "/ad/2.html" in reasons[0]
    assert "WARC-Payload-Digest" in reasons[1]
    assert [url for (url,) in rows(db_path, "SELECT url FROM pages")] == [f"{BASE}/ad/3.html"]
    (warc_file,) = {f for (f,) in rows(db_path, "SELECT warc_file FROM pages")}
    from core.warc import index

    assert [e.uri for e in index(db_path.parent / warc_file) if e.type == "response"] == [f"{BASE}/ad/3.html"]


@pytest.mark.parametrize("large", [True, False])
def test_a_batch_s_packed_pages_are_each_checked_once(client, db_path, seeds, monkeypatch, large):
    """The writer checks a batch's large packed pages beside its SQLite work, in threads of their own, small ones
    where it appends them, and appends none after checking it a second time; a page seen before is checked too
    (a threaded check is waited for at the batch's end)."""
    import threading

    import crawler.ingest
    import crawler.warc

    checked: list[tuple[str, str]] = []
    check = crawler.warc.check_packed

    def recording(packed, *, url):
        checked.append((url, threading.current_thread().name))
        check(packed, url=url)

    monkeypatch.setattr(crawler.ingest, "check_packed", recording)
    monkeypatch.setattr(crawler.warc, "check_packed", recording)  # append_packed's own check
    if large:  # the test's pages are small: every page counts as large
        monkeypatch.setattr(crawler.ingest, "THREADED_CHECK_BYTES", 0)
    send(client, *one_ad(1), *one_ad(2), *one_ad(1))  # the first page again: found archived, not appended twice
    w = writer(client, db_path, seeds)
    figures = w.run(until_idle=0.3)
    w.close()
    assert (figures.pages, figures.ads) == (2, 2)
    urls = [f"{BASE}/ad/1.html", f"{BASE}/ad/2.html"]
    if large:
        assert sorted(url for url, _ in checked) == [urls[0], *urls]
        assert {thread.split("_")[0] for _, thread in checked} == {"ingest-check"}
    else:  # the page found archived is not checked at all
        assert checked == [(url, threading.main_thread().name) for url in urls]
    assert len(rows(db_path, "SELECT id FROM pages")) == 2
