"""The review path end to end: crawl → queue → confirm one, reject one → export → ledger verify."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest
from click.testing import CliRunner

from adclear.cli import main
from demo.classifieds.site import ClassifiedsSite

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crawled_db(tmp_path_factory, demo_site):
    from tests.conftest import run_adclear, seeds_for

    tmp = tmp_path_factory.mktemp("review")
    db = tmp / "data" / "adclear.db"
    run_adclear("crawl", "demo-classifieds", db=db, seeds=seeds_for(demo_site, tmp / "seeds.yml"), check=True)
    return db


@pytest.fixture
def db_copy(crawled_db, tmp_path):
    """A private copy of the crawled database, so that each test decides on fresh ads."""
    from core.db import connect
    from review.users import add_user

    target = tmp_path / "adclear.db"
    with sqlite3.connect(crawled_db) as source, sqlite3.connect(target) as dest:
        source.backup(dest)
    db = connect(target)
    for name, role in (("张三", "reviewer"), ("李四", "reviewer"), ("王五", "supervisor")):
        add_user(db, name, role, "Kiwi-Harbor-2041")  # --as names an account
    db.close()
    return target


def cli(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def ad_id_of(db, demo_id: int) -> int:
    with sqlite3.connect(db) as conn:
        (ad_id,) = conn.execute("SELECT id FROM ads WHERE url LIKE ?", [f"%/ad/{demo_id}.html"]).fetchone()
    return ad_id


def dump(db) -> list[str]:
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


def test_flagged_promotions_are_queued_and_lookalikes_mostly_not(crawled_db):
    site = ClassifiedsSite()
    with sqlite3.connect(crawled_db) as conn:
        queued = {
            url.rsplit("/", 1)[1][:-5]
            for (url,) in conn.execute(
                "SELECT a.url FROM queue q JOIN ads a ON a.id = q.ad_id WHERE q.state = 'pending'"
            )
        }
        priorities = [
            p for (p,) in conn.execute("SELECT priority FROM queue WHERE state = 'pending' ORDER BY priority DESC")
        ]
    promotions = {str(a.id) for a in site.ads if a.promotion}
    assert len(queued & promotions) >= 0.8 * len(promotions)
    # every ad has its verdict, and an ad whose pictures were read beside the crawl one more (docs/images.md)
    with sqlite3.connect(crawled_db) as conn:
        assert conn.execute("SELECT count(DISTINCT ad_id) FROM verdicts").fetchone()[0] == len(site.ads)
        with_pictures = conn.execute("SELECT count(*) FROM ads WHERE pictures != ''").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == len(site.ads) + with_pictures
    assert with_pictures == len([a for a in site.ads if a.pictures])
    assert priorities == sorted(priorities, reverse=True)


def test_queue_lists_highest_first(crawled_db):
    result = cli(crawled_db, "queue", "--limit", "5")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    scores = [float(line.split()[2]) for line in lines[1:6]]
    assert scores == sorted(scores, reverse=True)
    assert "waiting" in lines[-1]


def test_show_explains_hits_with_words_and_legal_basis(crawled_db):
    ad_id = ad_id_of(crawled_db, 1001)
    result = cli(crawled_db, "show", str(ad_id))
    assert result.exit_code == 0, result.output
    assert "鑫盛通网贷 年化12% 保本保息 千元起投" in result.output
    assert "结论：flag" in result.output
    assert "命中" in result.output and "依据" in result.output and "保本保息" in result.output
    assert "证据: page SHA-256 " in result.output


def test_confirm_reject_export_verify(db_copy, tmp_path):
    promo, notice = ad_id_of(db_copy, 1001), ad_id_of(db_copy, 1601)
    r = cli(
        db_copy,
        "review",
        "confirm",
        str(promo),
        "--category",
        "投资理财/P2P网贷",
        "--reason",
        "承诺保本保息并公开招揽",
        "--as",
        "张三",
    )
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"ad {promo} confirmed (投资理财/P2P网贷; ")
    assert "《防范和处置非法集资条例》第十一条" in r.output
    r = cli(db_copy, "review", "reject", str(notice), "--reason", "防非宣传", "--as", "李四", "--note", "处非办宣传")
    assert r.exit_code == 0, r.output
    assert r.output == f"ad {notice} rejected (防非宣传); ledger entry 3\n"

    with sqlite3.connect(db_copy) as conn:
        assert conn.execute("SELECT action, ad_id, actor FROM ledger ORDER BY seq").fetchall() == [
            ("confirmed", promo, "张三"),
            ("takedown_requested", promo, "张三"),
            ("rejected", notice, "李四"),
        ]
        assert conn.execute(
            "SELECT ad_id, state FROM queue WHERE ad_id IN (?, ?) ORDER BY ad_id", [promo, notice]
        ).fetchall() == sorted([(promo, "decided"), (notice, "decided")])
        assert conn.execute("SELECT status FROM ads WHERE id = ?", [promo]).fetchone() == ("confirmed",)
        audit = conn.execute(
            "SELECT actor, action, target FROM audit_log WHERE action IN ('confirm', 'reject') ORDER BY id"
        ).fetchall()
        evidence = conn.execute("SELECT sha256 FROM evidence WHERE ad_id = ?", [promo]).fetchone()[0]
    assert audit == [("张三", "confirm", f"ad:{promo}"), ("李四", "reject", f"ad:{notice}")]

    out = tmp_path / "takedowns.csv"
    r = cli(db_copy, "export", "--format", "csv", "--out", str(out), "--as", "王五")
    assert r.exit_code == 0, r.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["处置编号", "交办单号", "接收单位", "处置状态"]
    assert len(body) == 1  # the ledger head is no data row: it is in the sidecar
    row = dict(zip(header, body[0], strict=True))
    assert row["发布平台"] == "示范同城网"
    assert row["广告标题"] == "鑫盛通网贷 年化12% 保本保息 千元起投"
    assert row["涉嫌类型"] == "投资理财/P2P网贷"
    assert row["审核人"] == "张三"
    assert row["网页证据SHA-256"] == evidence
    assert row["处置状态"] == "待交办"
    assert "第十一条" in row["法律依据"]
    head = json.loads(out.with_name("takedowns.csv.meta.json").read_text(encoding="utf-8"))["metadata"]["ledger_head"]
    last = ["台账链头", str(head["seq"]), head["hash"]]
    assert last[1] == "3" and len(last[2]) == 64

    r = cli(db_copy, "ledger", "verify", "--checkpoint", f"{last[1]}:{last[2]}")
    assert r.exit_code == 0, r.output
    assert r.output == f"ledger ok: 3 entries, head 3:{last[2]}; checkpoint 3 holds; anchor 3 holds\n"

    r = cli(db_copy, "ledger", "show", "--last", "2")
    assert r.exit_code == 0
    assert r.output.startswith("#2 ") and "提请处置" in r.output and "#3 " in r.output and "#1 " not in r.output

    # the export itself is audited
    with sqlite3.connect(db_copy) as conn:
        actor, action, detail = conn.execute("SELECT actor, action, detail FROM audit_log ORDER BY id DESC").fetchone()
    assert (actor, action) == ("王五", "export") and json.loads(detail)["rows"] == 1


ALREADY = (
    "Error: ad {decided} was already confirmed by 张三 at {when}; a correction is a reversal, not a second decision\n"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["review", "confirm", "99999", "--category", "养老投资", "--reason", "x", "--as", "李四"],
            "Error: no ad 99999: `adclear queue` lists the ads waiting for review\n",
        ),
        (
            ["review", "confirm", "{promo}", "--category", "理财", "--reason", "x", "--as", "李四"],
            "Error: unknown category '理财'; one of: 投资理财/P2P网贷、私募股权/原始股、养老投资、虚拟货币/区块链、"
            "消费返利/会员返利、拉人头/层级返利、合作社/互助金、种植养殖/认养、房产商铺返租/售后回购、收藏品/艺术品份额、"
            "境外投资/外汇贵金属、其他集资\n",
        ),
        (
            ["review", "reject", "{promo}", "--reason", "看着不像", "--as", "李四"],
            "Error: unknown reason '看着不像'; one of: 防非宣传、新闻报道、持牌机构合规、非集资广告、其他\n",
        ),
        (
            ["review", "confirm", "{decided}", "--category", "养老投资", "--reason", "x", "--as", "李四"],
            ALREADY,
        ),
        (
            ["review", "reject", "{decided}", "--reason", "防非宣传", "--as", "李四"],
            ALREADY,
        ),
        # --as names an account with the role needed (issue 14, finding 12)
        (
            ["review", "confirm", "{promo}", "--category", "养老投资", "--reason", "x", "--as", "赵六"],
            "Error: '赵六' is no account: --as (or $ADCLEAR_USER) must name one with the reviewer role "
            "(`adclear user list`; `adclear user add NAME --role reviewer`)\n",
        ),
        (
            ["review", "reverse", "{decided}", "--reason", "误判", "--as", "李四"],
            "Error: '李四' is a reviewer: this needs the supervisor role\n",
        ),
        (
            ["export", "--out", "never-written.csv", "--as", "李四"],
            "Error: '李四' is a reviewer: this needs the supervisor role\n",
        ),
        (
            ["ledger", "verify", "--checkpoint", "3:abc"],
            "Error: '3:abc' is not a checkpoint: write SEQ:HASH (an entry number, a colon and 64 hexadecimal "
            "characters) as an export's metadata gives it\n",
        ),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(db_copy, args, message):
    from core.timeutil import local

    decided = ad_id_of(db_copy, 1301)
    assert (
        cli(
            db_copy,
            "review",
            "confirm",
            str(decided),
            "--category",
            "房产商铺返租/售后回购",
            "--reason",
            "售后返租",
            "--as",
            "张三",
        ).exit_code
        == 0
    )
    with sqlite3.connect(db_copy) as conn:
        when = local(conn.execute("SELECT decided_at FROM decisions").fetchone()[0])
    promo = ad_id_of(db_copy, 1002)
    before = dump(db_copy)
    args = [a.format(promo=promo, decided=decided) for a in args]
    result = cli(db_copy, *args)
    assert result.exit_code == 1
    assert result.output == message.format(decided=decided, when=when)
    assert dump(db_copy) == before


def test_two_reviewers_deciding_at_once_only_one_wins(db_copy):
    """The second decision finds the ad decided: one decision, one ledger entry, whatever the timing."""
    from concurrent.futures import ThreadPoolExecutor

    from core.db import connect
    from core.errors import AlreadyDecided
    from review.decisions import confirm, reject

    ad_id = ad_id_of(db_copy, 1003)

    def decide(who):
        db = connect(db_copy)
        try:
            if who == "a":
                confirm(db, ad_id, reviewer="a", category="境外投资/外汇贵金属", reason="喊单")
            else:
                reject(db, ad_id, reviewer="b", reason="其他", note="x")
            return who
        except AlreadyDecided:
            return None
        finally:
            db.close()

    with ThreadPoolExecutor(2) as pool:
        winners = [w for w in pool.map(decide, ["a", "b"]) if w]
    assert len(winners) == 1
    with sqlite3.connect(db_copy) as conn:
        assert conn.execute("SELECT count(*) FROM decisions WHERE ad_id = ?", [ad_id]).fetchone() == (1,)
    assert cli(db_copy, "ledger", "verify").exit_code == 0


def test_a_broken_rule_file_is_named(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yml").write_text(
        "rules:\n  - id: bad.regex\n    category: 养老投资\n    weight: 1\n    legal_basis: spc.2.10\n"
        "    patterns: ['养老(投资']\n",
        encoding="utf-8",
    )
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "x"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["classify", "--rules", str(rules), "--input", str(src), "--output", str(out)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "bad.yml" in result.output and "bad.regex" in result.output and "regex" in result.output
    assert not out.exists()


def test_evidence_is_written_out_and_checked(crawled_db, tmp_path):
    import hashlib
    import shutil

    ad_id = ad_id_of(crawled_db, 1001)
    out = tmp_path / "ev"
    result = cli(crawled_db, "evidence", str(ad_id), "--out", str(out))
    assert result.exit_code == 0, result.output
    (page,) = out.glob("*.html")
    with sqlite3.connect(crawled_db) as conn:
        (sha,) = conn.execute("SELECT sha256 FROM evidence WHERE ad_id = ?", [ad_id]).fetchone()
    assert hashlib.sha256(page.read_bytes()).hexdigest() == sha
    assert "鑫盛通网贷".encode() in page.read_bytes()
    assert (out / "SHA256SUMS").read_text() == f"{sha}  {page.name}\n"

    # a WARC file changed after the fact is caught, not exported
    copy = tmp_path / "copy"
    shutil.copytree(crawled_db.parent, copy)
    with sqlite3.connect(copy / "adclear.db") as conn:
        warc_file, offset = conn.execute(
            "SELECT warc_file, warc_offset FROM evidence WHERE ad_id = ?", [ad_id]
        ).fetchone()
    import gzip

    path = copy / warc_file
    data = path.read_bytes()
    with open(path, "rb") as fh:
        fh.seek(offset)
        member = gzip.GzipFile(fileobj=fh).read()
    # recompress the one record with a changed payload (same length words: the record stays well-formed)
    tampered = gzip.compress(member.replace("保本保息".encode(), "合规经营".encode()))
    path.write_bytes(data[:offset] + tampered + data[offset + _member_length(data, offset) :])
    result = cli(copy / "adclear.db", "evidence", str(ad_id), "--out", str(tmp_path / "ev2"))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: ad {ad_id}: the page at {warc_file}@{offset} has SHA-256 ")
    assert result.output.endswith(f"not the recorded {sha}\n")


def _member_length(data: bytes, offset: int) -> int:
    """Length of the gzip member starting at ``offset`` (each WARC record is its own member)."""
    import zlib

    d = zlib.decompressobj(wbits=31)
    d.decompress(data[offset:])
    return len(data) - offset - len(d.unused_data)


def test_adclear_user_names_the_account_for_scripts(db_copy, monkeypatch):
    promo = ad_id_of(db_copy, 1002)
    monkeypatch.setenv("ADCLEAR_USER", "李四")
    r = cli(db_copy, "review", "reject", str(promo), "--reason", "防非宣传")
    assert r.exit_code == 0, r.output
    with sqlite3.connect(db_copy) as conn:
        assert conn.execute("SELECT reviewer FROM decisions").fetchall() == [("李四",)]
    monkeypatch.setenv("ADCLEAR_USER", "nobody")
    r = cli(db_copy, "review", "reject", str(ad_id_of(db_copy, 1003)), "--reason", "防非宣传")
    assert r.exit_code == 1 and r.output.startswith("Error: 'nobody' is no account")
