"""Near-duplicates that learn from reviewers: reposts of confirmed ads flag, look-alikes of rejected ones
lose score, clusters are decided at once, reversals take an ad out of its index."""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner

from adclear.cli import main
from classifier import Classifier
from core.errors import Contradiction, InvalidChoice
from core.fingerprints import _record, load_decided, recluster
from core.seeds import load_seeds
from core.verdicts import ad_text, classify_ad, current_verdict
from crawler.items import AdItem
from crawler.store import CrawlStore
from review import decisions, ledger
from review.users import add_user
from tests.conftest import REPO

# An invitation to a "product seminar": the rules alone only find it suspicious (watch).
SEMINAR = (
    "好消息！本周六上午在金穗大酒店三楼举办产品说明会，凡到场的叔叔阿姨都有礼品相送，会后安排参观生产基地，"
    "名额有限，先到先得，详情咨询王经理，电话 138 0000 7788。"
)


def edit_chars(text: str, share: float, seed: int = 1) -> str:
    """Replace ``share`` of the CJK characters with other CJK characters."""
    rng = random.Random(seed)
    chars = list(text)
    cjk = [i for i, ch in enumerate(chars) if "\u4e00" <= ch <= "\u9fff"]
    for i in rng.sample(cjk, max(1, int(len(cjk) * share))):
        chars[i] = chr(0x4E00 + rng.randrange(0x5000))
    return "".join(chars)


def reorder_sentences(text: str) -> str:
    parts = [p for p in text.split("，") if p]
    return "，".join(parts[1:] + parts[:1])


@pytest.fixture
def store(db_path):
    store = CrawlStore(db_path)
    site = load_seeds(REPO / "seeds.yml").site("demo-classifieds")
    store.sync_site(site)
    store.run_id = store.begin_run(site.name, "test")
    yield store
    store.close()


def save(store, n: int, title: str, body: str, contact: str = "") -> int:
    clf = Classifier.default()
    item = AdItem(
        site="demo-classifieds",
        platform="示范同城网",
        url=f"http://127.0.0.1/ad/{n}.html",
        page_url=f"http://127.0.0.1/ad/{n}.html",
    )
    item.set_text(title=title, body=body, contact=contact, author="", posted_at=None)  # as CleanTextPipeline does
    item.verdict = classify_ad(clf, item.ad_text, load_decided(store.db))  # as ClassifyPipeline does
    return store.save_ad(item, store.run_id).ad_id


def test_copies_of_a_confirmed_ad_are_flagged_as_its_near_duplicates(store):
    clf = Classifier.default()
    original = save(store, 1, "产品说明会", SEMINAR)
    assert current_verdict(store.db, original)["label"] == "watch"
    decisions.confirm(store.db, original, reviewer="张三", category="养老投资", reason="会销揽储")
    decided = load_decided(store.db)
    copies = {
        "phone changed": SEMINAR.replace("138 0000 7788", "139 1234 5678"),
        "5% of characters changed": edit_chars(SEMINAR, 0.05),
        "sentences reordered": reorder_sentences(SEMINAR),
    }
    for what, body in copies.items():
        alone = clf.classify(body, title="产品说明会")
        assert alone.label != "flag", what  # the rules alone would not flag it ...
        v = clf.classify(body, title="产品说明会", neighbours=decided)
        assert v.label == "flag", what  # ... its likeness to the confirmed ad does
        assert v.nearest[0].ad_id == original and v.nearest[0].index == "confirmed", what
        assert any(f"#{original}" in line and "近似" in line for line in v.explain()), what


def test_a_copy_crawled_after_the_confirmation_is_flagged_at_ingest(store):
    original = save(store, 1, "产品说明会", SEMINAR)
    decisions.confirm(store.db, original, reviewer="张三", category="养老投资", reason="会销揽储")
    repost = save(store, 2, "产品说明会", SEMINAR.replace("王经理", "李经理").replace("7788", "9911"))
    verdict = current_verdict(store.db, repost)
    assert verdict["label"] == "flag"
    assert verdict["nearest"][0]["ad_id"] == original


def test_a_confirmation_reclassifies_the_copies_already_stored(store):
    original = save(store, 1, "产品说明会", SEMINAR)
    copy = save(store, 2, "产品说明会", reorder_sentences(SEMINAR))
    assert current_verdict(store.db, copy)["label"] == "watch"
    counts = recluster(store.db)
    assert counts["clusters"] == 1 and counts["in_clusters"] == 2
    decisions.confirm(store.db, original, reviewer="张三", category="养老投资", reason="会销揽储")
    verdict = current_verdict(store.db, copy)
    assert verdict["label"] == "flag"
    assert verdict["nearest"][0]["ad_id"] == original


def test_a_rejected_ads_lookalikes_lose_score(store):
    clf = Classifier.default()
    poster = save(store, 1, "产品说明会", SEMINAR)
    decisions.reject(store.db, poster, reviewer="张三", reason="非集资广告", note="普通促销会")
    lookalike = edit_chars(SEMINAR, 0.05, seed=3)
    before = clf.classify(lookalike, title="产品说明会")
    after = clf.classify(lookalike, title="产品说明会", neighbours=load_decided(store.db))
    assert after.score < before.score
    assert after.nearest[0].ad_id == poster and after.nearest[0].index == "rejected"
    assert after.label == "clear"


def test_a_reversal_takes_the_ad_out_of_its_index(store):
    clf = Classifier.default()
    original = save(store, 1, "产品说明会", SEMINAR)
    decisions.confirm(store.db, original, reviewer="张三", category="养老投资", reason="会销揽储")
    seq = decisions.reverse(store.db, original, reviewer="李四", reason="误判：正规企业的产品说明会")
    assert ledger.entries(store.db)[-1].action == "reversed" and ledger.entries(store.db)[-1].seq == seq
    assert len(load_decided(store.db)) == 0
    v = clf.classify(reorder_sentences(SEMINAR), title="产品说明会", neighbours=load_decided(store.db))
    assert v.nearest == [] and v.label == "watch"
    assert store.db.execute("SELECT status FROM ads WHERE id = ?", [original]).fetchone() == ("watch",)
    assert store.db.execute("SELECT state FROM queue WHERE ad_id = ?", [original]).fetchone() == ("pending",)
    from review.export import takedown_list

    assert takedown_list(store.db).rows == []  # a reversed confirmation is no takedown
    assert ledger.verify(store.db).ok


def test_a_cluster_is_decided_at_once_one_entry_per_ad(store, db_path):
    add_user(store.db, "张三", "reviewer", "Kiwi-Harbor-2041")  # --as names an account
    ids = [
        save(store, i, "产品说明会", body)
        for i, body in enumerate(
            [SEMINAR, reorder_sentences(SEMINAR), SEMINAR.replace("7788", "1234"), edit_chars(SEMINAR, 0.04)]
        )
    ]
    other = save(store, 9, "出租两室一厅", "小区环境好，家电齐全，月租1500元，押一付三，看房请致电。")
    recluster(store.db)
    cluster = store.db.execute("SELECT cluster_id FROM ads WHERE id = ?", [ids[1]]).fetchone()[0]
    assert cluster == min(ids)
    assert {r[0] for r in store.db.execute("SELECT id FROM ads WHERE cluster_id = ?", [cluster])} == set(ids)
    assert store.db.execute("SELECT cluster_id FROM ads WHERE id = ?", [other]).fetchone()[0] == other

    r = CliRunner().invoke(main, ["--db", str(db_path), "queue"])
    assert f"{cluster}×4" in r.output

    before = len(ledger.entries(store.db))
    r = CliRunner().invoke(
        main,
        ["--db", str(db_path), "review", "reject", "--cluster", str(cluster), "--reason", "非集资广告", "--as", "张三"],
    )
    assert r.exit_code == 0, r.output
    entries = ledger.entries(store.db)[before:]
    assert [e.action for e in entries] == ["rejected"] * 4
    assert sorted(e.ad_id for e in entries) == sorted(ids)
    assert all(e.payload["cluster_id"] == cluster for e in entries)
    r = CliRunner().invoke(main, ["--db", str(db_path), "ledger", "verify"])
    assert r.exit_code == 0 and r.output.startswith(f"ledger ok: {before + 4} entries")


def test_a_cluster_decision_against_a_decided_member_needs_a_reason(store, db_path):
    add_user(store.db, "张三", "reviewer", "Kiwi-Harbor-2041")  # --as names an account
    ids = [save(store, i, "产品说明会", body) for i, body in enumerate([SEMINAR, reorder_sentences(SEMINAR)])]
    recluster(store.db)
    decisions.reject(store.db, ids[1], reviewer="李四", reason="非集资广告")
    before = len(ledger.entries(store.db))
    args = ["--db", str(db_path), "review", "confirm", "--cluster", str(ids[0]), "--category", "养老投资"]
    args += ["--reason", "会销揽储", "--as", "张三"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1
    assert r.output == (
        f"Error: near-duplicates were decided the other way: #{ids[1]} rejected (非集资广告, by 李四); give the "
        "reason to decide so anyway (--despite), or have a supervisor reverse theirs first\n"
    )
    assert len(ledger.entries(store.db)) == before
    # with the reason: the undecided ad is confirmed, the rejected one stays rejected, the ledger says why
    r = CliRunner().invoke(main, [*args, "--despite", "李四驳回有误，已报主管更正"])
    assert r.exit_code == 0, r.output
    entries = ledger.entries(store.db)[before:]
    assert [(e.action, e.ad_id) for e in entries] == [("confirmed", ids[0]), ("takedown_requested", ids[0])]
    assert entries[0].payload["despite"] == {"near_duplicates": [ids[1]], "reason": "李四驳回有误，已报主管更正"}
    assert store.db.execute("SELECT status FROM ads WHERE id = ?", [ids[1]]).fetchone() == ("rejected",)


def test_deciding_one_ad_against_its_near_duplicate_needs_a_reason(store, db_path):
    """Confirm after the neighbour was rejected, or reject after it was confirmed: refused without a reason,
    from the library and the command line alike; a reversal of the neighbour lifts it."""
    add_user(store.db, "张三", "supervisor", "Kiwi-Harbor-2041")
    first, second, third = (
        save(store, i, "产品说明会", body)
        for i, body in enumerate([SEMINAR, reorder_sentences(SEMINAR), SEMINAR.replace("7788", "1234")])
    )
    recluster(store.db)
    decisions.confirm(store.db, first, reviewer="李四", category="养老投资", reason="会销揽储")
    with pytest.raises(Contradiction) as refused:
        decisions.reject(store.db, second, reviewer="张三", reason="非集资广告")
    assert [(c.ad_id, c.other, c.decision) for c in refused.value.clashes] == [(second, first, "confirmed")]
    r = CliRunner().invoke(
        main, ["--db", str(db_path), "review", "reject", str(second), "--reason", "非集资广告", "--as", "张三"]
    )
    assert r.exit_code == 1 and f"#{first} confirmed (养老投资, by 李四)" in r.output
    made = decisions.reject(store.db, second, reviewer="张三", reason="非集资广告", despite="此条为防骗提醒转帖")
    assert ledger.entries(store.db, ad_id=second)[-1].payload["despite"]["near_duplicates"] == [first]
    # the other way round: confirming the third now clashes with the rejected second
    with pytest.raises(Contradiction):
        decisions.confirm(store.db, third, reviewer="张三", category="养老投资", reason="会销揽储")
    decisions.reverse(store.db, made.ad_id, reviewer="张三", reason="驳回有误")
    decisions.confirm(store.db, third, reviewer="张三", category="养老投资", reason="会销揽储")  # nothing clashes


def test_confirm_without_a_category_takes_the_one_the_hits_agree_on_else_lists_them(store, db_path):
    add_user(store.db, "张三", "reviewer", "Kiwi-Harbor-2041")
    art = save(store, 1, "", "艺术品份额认购，名家字画拆分成份额，年化收益15%，到期原价回购，保本保息，加微信 art2026")
    one = save(store, 2, "理财", "投资理财，年化收益12%，保本保息，稳赚不赔。千元起投。")
    base = ["--db", str(db_path), "review", "confirm", "--reason", "承诺回报，面向公众", "--as", "张三"]
    r = CliRunner().invoke(main, [*base, str(art)])
    assert r.exit_code == 1
    assert r.output.startswith(f"Error: ad {art}: the hits point at 2 categories, choose one with --category: ")
    assert "收藏品/艺术品份额 (“艺术品份额”" in r.output and "房产商铺返租/售后回购 (“原价回购”)" in r.output
    assert ledger.entries(store.db, ad_id=art) == []
    r = CliRunner().invoke(main, [*base, str(one)])
    assert r.exit_code == 0, r.output
    assert store.db.execute("SELECT category FROM decisions WHERE ad_id = ?", [one]).fetchone() == ("投资理财/P2P网贷",)
    r = CliRunner().invoke(main, [*base, str(art), "--category", "收藏品/艺术品份额"])
    assert r.exit_code == 0, r.output


def test_the_verdict_carries_the_fingerprint_of_the_ads_own_text() -> None:
    """The crawl stores the fingerprint the classifier made while asking for neighbours instead of making it
    again: it must be the fingerprint of the ad's own text (what ``fingerprint_ad`` would make), for ads with and
    without title; without neighbours there is none."""

    from classifier.neardup import DecidedAds

    clf = Classifier.default()
    for title, body, contact in [
        ("高息理财", SEMINAR, "王经理 138 0000 7788"),
        ("", SEMINAR, ""),
        ("转让二手自行车", "九成新，价格面议。", "微信 bike2026"),
    ]:
        t, text = ad_text(title, body, contact)
        verdict = clf.classify(text, title=t, neighbours=DecidedAds())
        assert verdict.fingerprint == _record(title, body, contact)
        assert clf.classify(text, title=t).fingerprint is None


def test_a_cluster_decision_does_not_decide_an_escalated_ad(store):
    """An ad escalated to a supervisor is decided on its own page, not with its cluster."""
    from review import escalations

    ids = [save(store, i, "产品说明会", body) for i, body in enumerate([SEMINAR, reorder_sentences(SEMINAR)])]
    recluster(store.db)
    escalations.escalate(store.db, ids[1], reviewer="张三", note="像是防骗宣传，请主管判断", address="cli")
    with pytest.raises(InvalidChoice, match=f"ad {ids[1]} of cluster {ids[0]} waits for a supervisor"):
        decisions.reject_cluster(store.db, ids[0], reviewer="张三", reason="非集资广告")
    made = decisions.reject_cluster(store.db, ids[0], reviewer="张三", reason="非集资广告", ads=[ids[0]])
    assert [d.ad_id for d in made] == [ids[0]]
    assert store.db.execute("SELECT state FROM queue WHERE ad_id = ?", [ids[1]]).fetchone() == ("escalated",)
