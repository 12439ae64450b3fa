"""A distributed crawl with the real redis-server: crawler nodes (adclear crawl --redis) share the frontier,
the ingest writer (adclear ingest --redis) stores; kill -9 of a node, of the writer and of Redis itself
(restarted from its AOF) loses nothing and duplicates nothing; the nodes wait while the writer is behind.

The demo's classifieds site is crawled: every ad it has is known from a local crawl of the same site (the
reference), and its pages are spaced by a small delay so that the crawl lasts long enough to be killed in.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from core.db import connect
from core.warc import read_record
from crawler.stream import ITEMS_KEY
from tests.conftest import ADCLEAR, REPO, run_adclear, seeds_for
from tests.redisserver import RedisServer
from tests.test_modeloffer import promoted

pytestmark = pytest.mark.slow

SITE = "demo-classifieds"
NODE_ENV = {"ADCLEAR_REDIS_HEARTBEAT": "1", "ADCLEAR_REDIS_DEAD_AFTER": "3"}


def paced_seeds(base_url: str, target: Path, delay: str = "0.08") -> Path:
    """seeds.yml on the demo, the classifieds site's pages spaced by ``delay`` s (across all nodes)."""
    path = seeds_for(base_url, target)
    text = path.read_text(encoding="utf-8")
    head, sep, tail = text.partition(f"  - name: {SITE}\n")
    tail = tail.replace("    delay: 0\n", f"    delay: {delay}\n", 1)
    path.write_text(head + sep + tail, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(demo_server, tmp_path_factory) -> set[tuple[str, str]]:
    """The classifieds site's ads as one local crawl stores them: (ad_key, content_hash); their verdicts are
    ``VERDICTS`` of the reference database."""
    where = tmp_path_factory.mktemp("reference")
    seeds = seeds_for(demo_server.base_url, where / "seeds.yml")
    run_adclear("crawl", SITE, db=where / "data" / "ref.db", seeds=seeds, check=True)
    db = connect(where / "data" / "ref.db")
    found = set(db.execute("SELECT ad_key, content_hash FROM ads").fetchall())
    _REFERENCE_VERDICTS[:] = db.execute(VERDICTS).fetchall()
    _REFERENCE_AGAIN[:] = db.execute(CLASSIFIED_AGAIN).fetchall()
    _REFERENCE_DERIVED[:] = [db.execute(sql).fetchall() for sql in DERIVED]
    _REFERENCE_READS[:] = [
        db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("image_reads", "verdicts", "ad_images")
    ]
    db.close()
    assert len(found) > 50
    return found


# every ad's verdict as compared between a local crawl and a distributed one (the writer concludes what the
# nodes assessed: the same verdicts)
VERDICTS = """SELECT a.ad_key, v.label, v.score, v.categories, v.hits, v.rules_label, v.model, v.classifier_version
              FROM ads a JOIN verdicts v ON v.ad_id = a.id
              WHERE v.id = (SELECT max(id) FROM verdicts WHERE ad_id = a.id) ORDER BY a.ad_key"""
# the ads classified again once their pictures were read: how many times depends on when each picture arrives
# (one already read is used at once, another waits to be read), in a local crawl as through the stream
CLASSIFIED_AGAIN = (
    "SELECT a.ad_key FROM ads a JOIN verdicts v ON v.ad_id = a.id GROUP BY a.id HAVING count(*) > 1 ORDER BY 1"
)
_REFERENCE_VERDICTS: list[tuple] = []
_REFERENCE_AGAIN: list[tuple] = []
# what is made from an ad's text (on a node, for the writer): its contacts, fingerprint and search text
DERIVED = [
    "SELECT a.ad_key, c.kind, c.value, c.matched FROM contacts c JOIN ads a ON a.id = c.ad_id ORDER BY 1, 2, 3",
    "SELECT a.ad_key, f.exact, f.simhash, f.minhash FROM fingerprints f JOIN ads a ON a.id = f.ad_id ORDER BY 1",
    "SELECT a.ad_key, s.text FROM ad_search s JOIN ads a ON a.id = s.rowid ORDER BY 1",
]
_REFERENCE_DERIVED: list[list[tuple]] = []
_REFERENCE_READS: list[int] = []  # the pictures the local crawl read, the verdicts it stored, the ads' pictures
_RUNNING: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_process_left():
    """Whatever a failing test leaves running is killed."""
    yield
    while _RUNNING:
        process = _RUNNING.pop()
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def start(*args: str, db: Path, seeds: Path, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen:
    environ = {**os.environ, "PYTHONIOENCODING": "utf-8", **NODE_ENV, **(env or {})}
    environ.pop("ADCLEAR_DB", None)
    command = [*ADCLEAR, "--db", str(db), "--seeds", str(seeds), *args]
    with open(log, "w", encoding="utf-8") as out:  # the child has its own copy of the descriptor
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environ, cwd=REPO)
    _RUNNING.append(process)
    return process


def node(
    url: str, db: Path, seeds: Path, log: Path, env: dict[str, str] | None = None, site: str = SITE
) -> subprocess.Popen:
    return start("crawl", "--redis", url, "-v", site, db=db, seeds=seeds, env=env, log=log)


def writer(url: str, db: Path, seeds: Path, log: Path) -> subprocess.Popen:
    return start("ingest", "--redis", url, "--claim-after", "1", "--batch", "50", db=db, seeds=seeds, log=log)


def wait(process: subprocess.Popen, log: Path, timeout: float = 180) -> str:
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"{process.args} did not end:\n{log.read_text()[-3000:]}") from None
    return log.read_text(encoding="utf-8")


def drained(url: str, db_path: Path, timeout: float = 120, reads: int = 0, site: str = SITE) -> None:
    """Until the stream is empty, nothing is pending, the site's run is finished (and ``reads`` pictures read)."""
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            empty = client.xlen(ITEMS_KEY) == 0 and client.xpending(ITEMS_KEY, "ingest")["pending"] == 0
        except redis.RedisError:
            empty = False
        if empty and db_path.exists():
            db = connect(db_path)
            status = db.execute("SELECT group_concat(status) FROM crawl_runs WHERE site = ?", [site]).fetchone()[0]
            read = db.execute("SELECT count(*) FROM image_reads").fetchone()[0]
            db.close()
            if status and "running" not in status and read >= reads:
                client.close()
                return
        time.sleep(0.3)
    client.close()
    raise AssertionError("the writer did not catch up")


def stop(process: subprocess.Popen, log: Path) -> str:
    process.send_signal(signal.SIGTERM)
    text = wait(process, log, 60)
    assert process.returncode == 0, text
    return text


def check_store(db_path: Path, reference: set[tuple[str, str]], verdicts: bool = True) -> None:
    """Every ad of the reference stored once, with its page's evidence in a WARC under its SHA-256, and its
    pictures; the file is sound and the ledger holds. ``verdicts``: the ads' verdicts are the local crawl's too
    (not when a reviewer confirmed an ad meanwhile: its near-copies are flagged as such)."""
    db = connect(db_path)
    stored = db.execute("SELECT ad_key, content_hash FROM ads").fetchall()
    assert len(stored) == len(set(stored)), "an ad stored twice"
    assert set(stored) == reference
    runs = db.execute("SELECT id, status FROM crawl_runs WHERE site = ?", [SITE]).fetchall()
    assert [status for _, status in runs] == ["ok"]
    assert db.execute("SELECT count(*) FROM sightings").fetchone()[0] == len(reference)
    assert db.execute("SELECT count(*) FROM ad_images").fetchone()[0] == _REFERENCE_READS[2]
    assert db.execute("SELECT count(*) FROM crawl_errors WHERE kind = 'image'").fetchone()[0] == 0
    if verdicts:
        assert _REFERENCE_AGAIN and db.execute(CLASSIFIED_AGAIN).fetchall() == _REFERENCE_AGAIN  # after a picture
        assert db.execute(VERDICTS).fetchall() == _REFERENCE_VERDICTS
        assert [db.execute(sql).fetchall() for sql in DERIVED] == _REFERENCE_DERIVED
    twice = db.execute(
        "SELECT count(*) FROM (SELECT 1 FROM pages GROUP BY run_id, url, payload_sha256 HAVING count(*) > 1)"
    ).fetchone()[0]
    assert twice == 0, "a page indexed twice"
    evidence = db.execute(
        "SELECT a.id, e.sha256, e.warc_file, e.warc_offset FROM ads a LEFT JOIN evidence e ON e.ad_id = a.id"
    ).fetchall()
    assert len(evidence) == len(reference) and all(row[1] for row in evidence), "an ad without its page"
    for _, sha256, warc_file, offset in evidence:
        _, payload = read_record(db_path.parent / warc_file, offset)
        assert hashlib.sha256(payload).hexdigest() == sha256
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    verified = run_adclear("ledger", "verify", db=db_path, check=True)
    assert "ok" in verified.stdout.lower() or "holds" in verified.stdout.lower(), verified.stdout


def reviewer(db_path: Path) -> None:
    """The database made (before the writer opens it: two processes migrating one new file collide) with a
    reviewer's account."""
    from review.users import add_user

    db = connect(db_path)
    add_user(db, "rev1", "reviewer", "Shenhe-2026-kill-test")
    db.close()


def confirm_one(db_path: Path) -> int:
    """The reviewer confirms the first ad the writer queued (waiting for it), through the command line."""
    deadline = time.monotonic() + 60
    while True:
        db = connect(db_path)
        row = db.execute("SELECT min(ad_id) FROM queue").fetchone()
        db.close()
        if row[0] is not None:
            break
        assert time.monotonic() < deadline, "no ad was stored"
        time.sleep(0.2)
    args = ("review", "confirm", row[0], "--category", "投资理财/P2P网贷", "--reason", "保本保息", "--as", "rev1")
    run_adclear(*args, db=db_path, check=True)
    return int(row[0])


def busy(url: str, measure, timeout: float = 3.0) -> int:
    """Wait (at most ``timeout`` s) until ``measure(client)`` is above 0; its last value."""
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    value = 0
    while time.monotonic() < deadline:
        try:
            value = measure(client)
        except redis.RedisError:
            value = 0
        if value:
            break
        time.sleep(0.005)
    client.close()
    return value


def connected(client: redis.Redis, *pids: int) -> int:
    """1 when every process of ``pids`` is at work: a node's heartbeat, or the writer's consumer, names it."""
    names = [n.decode() for n in client.zrange("adclear:heartbeats", 0, -1)]
    if client.exists(ITEMS_KEY):
        names += [c["name"].decode() for c in client.xinfo_consumers(ITEMS_KEY, "ingest")]
    return int(all(any(f":{pid}:" in name or name.endswith(f":{pid}") for name in names) for pid in pids))


def in_flight(client: redis.Redis, pid: int) -> int:
    """Requests the node of process ``pid`` holds."""
    return sum(int(client.hlen(key)) for key in client.keys(f"adclear:{SITE}:inflight:*:{pid}:*"))


def pending(client: redis.Redis, pid: int) -> int:
    """Entries the writer of process ``pid`` took and has not acknowledged."""
    consumers = client.xinfo_consumers(ITEMS_KEY, "ingest")
    return sum(c["pending"] for c in consumers if c["name"].decode().endswith(f":{pid}"))


def test_two_nodes_share_the_frontier_and_one_writer_stores_each_ad_once(demo_site, reference, own_redis, tmp_path):
    seeds = paced_seeds(demo_site, tmp_path / "seeds.yml", delay="0.05")
    db_path = tmp_path / "data" / "adclear.db"
    ingest = writer(own_redis.url, db_path, seeds, tmp_path / "ingest.log")
    nodes = [node(own_redis.url, tmp_path / f"n{i}" / "x.db", seeds, tmp_path / f"node{i}.log") for i in (1, 2)]
    outputs = [wait(n, tmp_path / f"node{i}.log") for i, n in zip((1, 2), nodes, strict=True)]
    for n, text in zip(nodes, outputs, strict=True):
        assert n.returncode == 0, text
        assert f"{SITE}: ok: sent " in text
    sent = [int(text.split(" pages (job")[0].rsplit(" ", 1)[1]) if " pages (job" in text else 0 for text in outputs]
    assert all(pages > 0 for pages in sent), f"one node fetched nothing: {sent}"  # the frontier was shared
    assert _REFERENCE_READS[0] > 0
    drained(own_redis.url, db_path, reads=_REFERENCE_READS[0])  # the pictures read beside the writer
    report = stop(ingest, tmp_path / "ingest.log")
    assert f"{SITE}: ok (run 1)" in report
    assert "from the nodes' assessments, 0 classified here" in report  # the nodes classified, the writer concluded
    assert f"pictures: {_REFERENCE_READS[0]} read beside" in report, report
    check_store(db_path, reference)
    assert not (tmp_path / "n1" / "x.db").exists(), "a node wrote a database"
    client = redis.Redis.from_url(own_redis.url)
    assert client.keys(f"adclear:{SITE}:*") == [] or set(client.keys(f"adclear:{SITE}:*")) <= {
        f"adclear:{SITE}:pace".encode()
    }  # the job ended: its filter dropped, nothing queued or in flight
    client.close()


def test_kill_9_of_a_node_the_writer_and_redis_loses_and_duplicates_nothing(demo_site, reference, own_redis, tmp_path):
    seed = int(os.environ.get("ADCLEAR_KILL_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    print(f"kill points drawn with seed {seed} (ADCLEAR_KILL_SEED={seed} draws them again)")
    # pages 0.2 s apart: the crawl lasts about 25 s, and is still going after the three kills and restarts on a
    # loaded machine (with 0.08 s it could end before them: the node restarted then began a second job)
    seeds = paced_seeds(demo_site, tmp_path / "seeds.yml", delay="0.2")
    db_path = tmp_path / "data" / "adclear.db"
    reviewer(db_path)
    logs = tmp_path
    ingest = writer(own_redis.url, db_path, seeds, logs / "ingest-1.log")
    a = node(own_redis.url, tmp_path / "a.db", seeds, logs / "node-a.log")
    b = node(own_redis.url, tmp_path / "b.db", seeds, logs / "node-b.log")
    events = [(rng.uniform(2.0, 5.0), "node"), (rng.uniform(2.0, 6.0), "writer"), (rng.uniform(3.0, 7.0), "redis")]
    held = taken = 0
    # the clock starts once all three are connected; each one restarted is connected before the next kill (a
    # process that starts while Redis is down exits 1 at once, as it should, and systemd would start it again)
    assert busy(own_redis.url, lambda c: connected(c, ingest.pid, a.pid, b.pid), timeout=90), "not connected"
    started = time.monotonic()
    for at, what in sorted(events):
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        if what == "node":  # at the first moment from then on that it holds requests in flight
            assert a.poll() is None, "the crawl ended before node a could be killed"
            held = busy(own_redis.url, lambda c, pid=a.pid: in_flight(c, pid))
            a.kill()  # SIGKILL
            a.wait()
            a = node(own_redis.url, tmp_path / "a.db", seeds, logs / "node-a2.log")
            assert busy(own_redis.url, lambda c, pid=a.pid: connected(c, pid), timeout=90), "node a2 not connected"
        elif what == "writer":  # mid-batch: it holds entries it has not acknowledged
            taken = busy(own_redis.url, lambda c, pid=ingest.pid: pending(c, pid))
            ingest.kill()
            ingest.wait()
            ingest = writer(own_redis.url, db_path, seeds, logs / "ingest-2.log")
            assert busy(own_redis.url, lambda c, pid=ingest.pid: connected(c, pid), timeout=90), "no writer"
        else:
            own_redis.kill()
            time.sleep(0.5)
            own_redis.start()  # same port, same directory: from its AOF
        holding = {"node": f" holding {held} requests", "writer": f" holding {taken} entries"}.get(what, "")
        print(f"{time.monotonic() - started:.1f} s: killed {what}{holding}")
        if what == "node":
            confirmed = confirm_one(db_path)  # a reviewer's decision while the writer writes: the ledger's entries
    for n, log in ((a, logs / "node-a2.log"), (b, logs / "node-b.log")):
        text = wait(n, log)
        assert n.returncode == 0, text
    drained(own_redis.url, db_path)
    stop(ingest, logs / "ingest-2.log")
    check_store(db_path, reference, verdicts=False)
    if held:  # what node a held was put back by a reaper (node b's, or node a's after its restart)
        reaped = "".join((logs / name).read_text() for name in ("node-b.log", "node-a2.log"))
        assert "of nodes that stopped beating are queued again" in reaped
    db = connect(db_path)
    assert db.execute("SELECT count(*) FROM ledger WHERE ad_id = ?", [confirmed]).fetchone()[0] >= 1
    db.close()


def test_a_second_job_fetches_no_ad_the_writer_stored_within_revisit_after(demo_site, reference, own_redis, tmp_path):
    """Incremental crawling across nodes: what a local crawl asks its database, a node asks the writer's hash.

    The writer's database has a promoted model: the nodes assess with it (crawler.modeloffer), the writer
    concludes every verdict."""
    seeds = paced_seeds(demo_site, tmp_path / "seeds.yml", delay="0")
    head, sep, tail = seeds.read_text(encoding="utf-8").partition(f"  - name: {SITE}\n")
    seeds.write_text(head + sep + "    revisit_after: 24\n" + tail, encoding="utf-8")
    db_path = tmp_path / "data" / "adclear.db"
    version = promoted(db_path, shift=0.5)  # a model of its own, which the nodes have not got
    ingest = writer(own_redis.url, db_path, seeds, tmp_path / "ingest.log")
    for job in (1, 2):
        crawler = node(own_redis.url, tmp_path / f"n{job}.db", seeds, tmp_path / f"node{job}.log")
        text = wait(crawler, tmp_path / f"node{job}.log")
        assert crawler.returncode == 0, text
        drained(own_redis.url, db_path)
    report = stop(ingest, tmp_path / "ingest.log")
    assert f"{SITE}: ok (run 2): " in report and f"({len(reference)} new, " in report
    assert "from the nodes' assessments, 0 classified here" in report, report
    db = connect(db_path)
    versions = {v for (v,) in db.execute("SELECT DISTINCT classifier_version FROM verdicts")}
    assert len(versions) == 1 and versions.pop().endswith(version)
    fetched = db.execute("SELECT count(*) FROM pages WHERE run_id = 2 AND url LIKE '%/ad/%'").fetchone()[0]
    listed = db.execute("SELECT count(*) FROM sightings WHERE run_id = 2 AND change = 'listed'").fetchone()[0]
    seen = db.execute("SELECT ads_seen FROM crawl_runs WHERE id = 2").fetchone()[0]
    db.close()
    assert fetched == 0
    assert listed == seen == len(reference)


def test_nodes_wait_while_the_writer_is_behind(demo_site, reference, own_redis, tmp_path):
    seeds = paced_seeds(demo_site, tmp_path / "seeds.yml", delay="0")
    db_path = tmp_path / "data" / "adclear.db"
    crawler = node(own_redis.url, tmp_path / "n.db", seeds, tmp_path / "node.log", env={"ADCLEAR_STREAM_MAX": "20"})
    client = redis.Redis.from_url(own_redis.url)
    longest, full_at = 0, None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (full_at is None or time.monotonic() - full_at < 3):
        longest = max(longest, client.xlen(ITEMS_KEY))
        if full_at is None and longest >= 20:
            full_at = time.monotonic()  # from here on, 3 s in which the node must wait
        time.sleep(0.05)
    assert crawler.poll() is None, "the node finished although nobody read the stream"
    # a soft bound: what is in flight and what passes between two looks at the length (0.25 s) add to it
    assert 20 <= longest <= 20 + 40, f"the stream grew to {longest} entries past its bound of 20"
    ingest = writer(own_redis.url, db_path, seeds, tmp_path / "ingest.log")
    text = wait(crawler, tmp_path / "node.log")
    assert crawler.returncode == 0, text
    drained(own_redis.url, db_path, reads=_REFERENCE_READS[0])
    stop(ingest, tmp_path / "ingest.log")
    client.close()
    check_store(db_path, reference)


def test_redis_gone_for_longer_than_the_retries_stops_node_and_writer_with_the_reason(demo_site, own_redis, tmp_path):
    seeds = paced_seeds(demo_site, tmp_path / "seeds.yml")
    db_path = tmp_path / "data" / "adclear.db"
    env = {"ADCLEAR_REDIS_RETRY_SECONDS": "3"}
    crawler = node(own_redis.url, tmp_path / "n.db", seeds, tmp_path / "node.log", env=env)
    ingest = start("ingest", "--redis", own_redis.url, db=db_path, seeds=seeds, env=env, log=tmp_path / "ingest.log")
    assert busy(own_redis.url, lambda c: in_flight(c, crawler.pid), timeout=60), "the node never crawled"
    assert busy(own_redis.url, lambda c: len(c.xinfo_consumers(ITEMS_KEY, "ingest")), timeout=60), "no writer"
    own_redis.kill()
    node_says, writer_says = wait(crawler, tmp_path / "node.log", 60), wait(ingest, tmp_path / "ingest.log", 90)
    assert crawler.returncode == 1, node_says
    assert f"{SITE}: failed: Redis lost: " in node_says
    assert ingest.returncode == 1, writer_says
    assert "Error: lost Redis at " in writer_says and "Traceback" not in writer_says


def test_a_node_without_its_redis_stops_at_once_with_the_reason(demo_site, tmp_path):
    from tests.redisserver import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run_adclear(
        "crawl", "--redis", url, SITE, db=tmp_path / "a.db", seeds=seeds_for(demo_site, tmp_path / "s.yml"), timeout=60
    )
    assert result.returncode == 1
    assert f"Error: cannot reach Redis at {url}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "a.db").exists()


def test_scrapy_still_says_when_it_is_done_with_a_request():
    """crawler.frontier acknowledges a request when it leaves the engine's set of requests in progress: a
    private part of Scrapy, checked here against the pinned version."""
    from scrapy.core.engine import _Slot

    assert sys.modules["scrapy"].__version__ == "2.19.0"
    assert "inprogress" in _Slot.__init__.__code__.co_names
