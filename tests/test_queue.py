"""The review queue: priority order, leases, no double claims across processes."""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field

import pytest

from core.ads import ad_text
from core.classifiers import classifier_for
from core.db import connect, immediate
from core.verdicts import store_verdict
from review.queue import claim, holder, items, release, to_front
from tests.webdata import add_ad


@dataclass
class FakeVerdict:
    score: float
    label: str
    categories: list = field(default_factory=list)

    def to_dict(self):
        return {
            "score": self.score,
            "label": self.label,
            "categories": self.categories,
            "hits": [],
            "nearest": [],
            "version": "test",
            "rules_label": self.label,
            "model": {},
        }


SEEN = "2026-11-28T08:00:00.000000+00:00"


def add_ads(db, verdicts):
    with immediate(db):
        db.execute(
            "INSERT OR IGNORE INTO sites (name, platform, kind, config, updated_at) "
            "VALUES ('s', 'p', 'forum', '{}', 't')"
        )
        ids = []
        for i, v in enumerate(verdicts):
            cur = db.execute(
                "INSERT INTO ads (ad_key, url, site, platform, content_hash, first_seen, last_seen, "
                "last_fetched) VALUES (?, ?, 's', 'p', 'h', ?, ?, ?)",
                [f"k{i}-{id(v)}", f"http://x/{i}", *[SEEN] * 3],
            )
            store_verdict(db, cur.lastrowid, "h", v)
            ids.append(cur.lastrowid)
    return ids


def test_flag_comes_before_watch_and_clear_is_not_queued(db):
    ids = add_ads(
        db,
        [
            FakeVerdict(3, "watch"),
            FakeVerdict(2.5, "flag"),
            FakeVerdict(9, "watch"),
            FakeVerdict(5, "flag"),
            FakeVerdict(0, "clear"),
        ],
    )
    assert [i["ad_id"] for i in items(db)] == [ids[3], ids[1], ids[2], ids[0]]


def test_a_claim_holds_the_ad_until_its_lease_ends(db):
    (ad,) = add_ads(db, [FakeVerdict(5, "flag")])
    assert claim(db, "a") == ad
    assert claim(db, "b") is None
    assert holder(db, ad)[0] == "a"
    assert not release(db, ad, "b")
    assert release(db, ad, "a")
    assert claim(db, "b") == ad


def test_an_expired_lease_returns_the_ad(db):
    (ad,) = add_ads(db, [FakeVerdict(5, "flag")])
    assert claim(db, "a", lease_seconds=-1) == ad
    assert holder(db, ad) is None
    assert claim(db, "b") == ad


def test_a_reclassified_clear_ad_is_withdrawn(db):
    (ad,) = add_ads(db, [FakeVerdict(5, "flag")])
    with immediate(db):
        store_verdict(db, ad, "h2", FakeVerdict(0, "clear"))
    assert items(db) == []
    with immediate(db):
        store_verdict(db, ad, "h3", FakeVerdict(4, "watch"))
    assert [i["ad_id"] for i in items(db)] == [ad]


def _claim_all(path, name, out):
    db = connect(path)
    got = []
    while (ad := claim(db, name)) is not None:
        got.append(ad)
    out.put(got)


@pytest.mark.slow
def test_four_processes_never_claim_the_same_ad(db, db_path):
    ids = add_ads(db, [FakeVerdict(i % 7, "flag") for i in range(200)])
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(db_path, f"r{i}", out)) for i in range(4)]
    for p in procs:
        p.start()
    claimed = [ad for _ in procs for ad in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(claimed) == sorted(ids)  # each ad claimed exactly once


def test_a_reappeared_ad_stays_first_when_it_is_classified_again(db):
    """to_front puts a reappeared ad (再现) before every other item; a later verdict (reclassify, a rule change)
    re-prioritises it by its score but keeps it ahead of the rest."""
    strong = add_ad(db, "保本理财", "保本保息，年化收益18%，五万起投，稳赚不赔，推荐返佣", url="http://example.test/s")
    again = add_ad(db, "理财", "年化收益10%，保本", url="http://example.test/r")
    with immediate(db):
        assert to_front(db, again)
    ad = db.execute("SELECT content_hash FROM ads WHERE id = ?", [again]).fetchone()[0]
    title, body = "理财", "年化收益10%，保本"
    with immediate(db):
        store_verdict(db, again, ad, classifier_for(db).classify(ad_text(title, body, "")[1], title=title))
    order = [r[0] for r in db.execute("SELECT ad_id FROM queue WHERE state = 'pending' ORDER BY priority DESC")]
    assert order.index(again) < order.index(strong)
