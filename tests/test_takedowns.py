"""A takedown's life: every step a ledger entry, the cached state always what a replay of the ledger gives."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from adclear.cli import main
from core.db import connect, immediate
from core.migrations import M007_TAKEDOWNS_SQL, _run
from review import ledger, takedowns
from review.decisions import confirm, reverse
from review.takedowns import RecheckEvidence, TakedownError
from review.users import add_user
from tests.webdata import add_ad

CATEGORY = "投资理财/P2P网贷"
PASSWORD = "Tr0ub4dor&3-horse-battery"


def _confirmed(db, n: int = 1) -> list[int]:
    ids = []
    for i in range(n):
        ad = add_ad(
            db, f"保本理财{i}号", f"本平台保本保息，年化收益1{i}%，五万起投，第{i}期", url=f"http://example.test/{i}"
        )
        confirm(db, ad, reviewer="r1", category=CATEGORY, reason="保本承诺")
        ids.append(takedowns.for_ad(db, ad)[0].id)
    return ids


def _dispatch(db, ids, deadline="2027-01-15", today=date(2027, 1, 5)):
    with immediate(db):
        return takedowns.dispatched(
            db, ids, batch_id=None, number="〔2027〕SFX交字第0001号", receiver="demo-platform", deadline=deadline,
            actor="s1", today=today,
        )  # fmt: skip


def _cache(db) -> list[tuple]:
    return db.execute("SELECT * FROM takedowns ORDER BY id").fetchall()


def test_a_confirmation_requests_a_takedown_and_a_reversal_cancels_it(db):
    [tid] = _confirmed(db)
    t = takedowns.get(db, tid)
    assert (t.state, t.state_label) == ("requested", "待交办")
    assert ledger.entries(db, ad_id=t.ad_id)[-1].seq == t.requested_seq
    reverse(db, t.ad_id, reviewer="r2", reason="误判")
    assert takedowns.get(db, tid).state == "cancelled"
    assert [e.action for e in takedowns.history(db, tid)] == ["takedown_requested", "reversed"]


def test_every_step_is_a_ledger_entry_and_the_cache_equals_a_replay(db):
    a, b, c = _confirmed(db, 3)
    _dispatch(db, [a, b, c])
    takedowns.record_feedback(db, a, result="已删除", by="平台客服张三", at=None, actor="s1",
                              attachments=[{"name": "回函.pdf", "sha256": "ab" * 32}])  # fmt: skip
    takedowns.record_recheck(db, a, outcome="removed", detail="404", evidence=RecheckEvidence(http_status=404),
                             actor="recheck")  # fmt: skip
    takedowns.record_recheck(db, b, outcome="online", detail="text still there", evidence=None, actor="recheck")
    takedowns.record_recheck(db, c, outcome="unknown", detail="site down", evidence=None, actor="recheck")
    takedowns.close(db, a, actor="s1", note="")
    takedowns.correct(db, b, field="deadline", value="2027-01-20", reason="平台申请延期", actor="s1")
    states = {t.id: t.state for t in takedowns.listing(db)}
    assert states == {a: "closed", b: "online", c: "dispatched"}
    assert takedowns.get(db, b).deadline == "2027-01-20"
    assert takedowns.get(db, c).check_result == "unknown"  # a site that is down never counts as removed
    removed_ad = takedowns.get(db, a).ad_id
    assert db.execute("SELECT removed_at FROM ads WHERE id = ?", [removed_ad]).fetchone()[0]
    actions = [e.action for e in takedowns.history(db, a)]
    assert actions == ["takedown_requested", "takedown_dispatched", "feedback_recorded", "removal_verified",
                       "takedown_closed"]  # fmt: skip
    before = _cache(db)
    db.execute("UPDATE takedowns SET state = 'closed'")  # a cache edited by hand …
    assert takedowns.rebuild(db) == 3
    assert _cache(db) == before  # … is what the ledger says again
    assert ledger.verify(db).ok


def test_overdue_is_still_open_after_the_last_day_in_china_time(db):
    a, b = _confirmed(db, 2)
    _dispatch(db, [a, b], deadline="2027-01-15")
    takedowns.record_recheck(db, a, outcome="removed", detail="410", evidence=None, actor="recheck")
    assert takedowns.listing(db, overdue=True, today=date(2027, 1, 15)) == []
    late = takedowns.listing(db, overdue=True, today=date(2027, 1, 16))
    assert [t.id for t in late] == [b]  # removed is not overdue
    assert [t.id for t in takedowns.listing(db, today=date(2027, 1, 16))][0] == b  # overdue listed first


def test_steps_a_takedown_cannot_take_are_refused_with_the_reason_and_change_nothing(db):
    a, b = _confirmed(db, 2)
    head = ledger.head(db)
    with pytest.raises(TakedownError, match="requested .*cannot record feedback"):
        takedowns.record_feedback(db, a, result="已删除", by="x", at=None, actor="s1")
    with pytest.raises(TakedownError, match="cannot re-check"):
        takedowns.record_recheck(db, a, outcome="removed", detail="", evidence=None, actor="r")
    with pytest.raises(TakedownError, match="in the past"):
        _dispatch(db, [a], deadline="2027-01-01", today=date(2027, 1, 5))
    with pytest.raises(TakedownError, match="YYYY-MM-DD"):
        _dispatch(db, [a], deadline="next week")
    with pytest.raises(TakedownError, match="no takedown 999"):
        takedowns.get(db, 999)
    with pytest.raises(TakedownError, match="removed, online or unknown"):
        takedowns.record_recheck(db, a, outcome="gone", detail="", evidence=None, actor="r")
    assert ledger.head(db) == head
    _dispatch(db, [a])
    with pytest.raises(TakedownError, match="say why"):
        takedowns.close(db, a, actor="s1", note="")
    takedowns.close(db, a, actor="s1", note="移送公安")
    with pytest.raises(TakedownError, match="closed .*cannot record feedback"):
        takedowns.record_feedback(db, a, result="已删除", by="x", at=None, actor="s1")
    with pytest.raises(TakedownError, match="only deadline"):
        takedowns.correct(db, b, field="state", value="closed", reason="x", actor="s1")
    assert takedowns.get(db, b).state == "requested"


def test_a_reappearance_is_recorded_once_and_listed(db):
    [a] = _confirmed(db)
    _dispatch(db, [a])
    takedowns.record_recheck(db, a, outcome="removed", detail="404", evidence=None, actor="recheck")
    again = add_ad(db, "保本理财再发", "本平台保本保息，年化收益10%，五万起投", url="http://other.test/9")
    assert takedowns.record_reappearance(db, a, again, distance=3, actor="crawl") is not None
    assert takedowns.record_reappearance(db, a, again, distance=3, actor="crawl") is None
    [t] = takedowns.listing(db, reappeared=True)
    assert (t.id, t.reappeared_ad_id, t.state) == (a, again, "removed")


def test_the_migration_carries_takedowns_requested_before_it(db_path):
    """A database from before the lifecycle: its requests become takedowns, a reversed one cancelled."""
    db = connect(db_path)
    a, b = _confirmed(db, 2)
    ad_b = takedowns.get(db, b).ad_id
    reverse(db, ad_b, reviewer="r2", reason="误判")
    expected = _cache(db)
    with immediate(db):
        for table in ("rechecks", "takedowns", "dispatch_batches"):
            db.execute(f"DROP TABLE {table}")
        _run(Database(db.conn), M007_TAKEDOWNS_SQL)
    assert _cache(db) == expected


def _cli(db_path, *args):
    return CliRunner().invoke(main, ["--db", str(db_path), *map(str, args)])


def test_the_command_line_records_feedback_with_attachments_lists_overdue_and_closes(db, db_path, tmp_path):
    add_user(db, "s1", "supervisor", PASSWORD)
    add_user(db, "r9", "reviewer", PASSWORD)
    a, b = _confirmed(db, 2)
    _dispatch(db, [a, b], deadline="2027-01-15")
    letter = tmp_path / "回函.pdf"
    letter.write_bytes(b"%PDF-1.4 reply")
    r = _cli(db_path, "takedown", "feedback", a, "--result", "已删除", "--by", "平台客服", "--at", "2027-01-08 15:30",
             "--attach", letter, "--as", "r9")  # fmt: skip
    assert r.exit_code == 0, r.output
    entry = ledger.entries(db)[-1]
    digest = hashlib.sha256(b"%PDF-1.4 reply").hexdigest()
    assert entry.payload["attachments"] == [{"name": "回函.pdf", "sha256": digest}]
    assert entry.payload["at"] == "2027-01-08T07:30:00+00:00"  # China time, stored as UTC
    assert (db_path.parent / "attachments" / digest).read_bytes() == b"%PDF-1.4 reply"
    r = _cli(db_path, "takedown", "list", "--overdue", "--today", "2027-01-16")
    assert r.exit_code == 0 and "逾期" in r.output
    assert [line.split()[0] for line in r.output.splitlines()[1:]] == [str(a), str(b)]
    r = _cli(db_path, "takedown", "close", a, "--as", "r9")
    assert r.exit_code == 1 and "supervisor" in r.output  # a reviewer cannot close
    r = _cli(db_path, "takedown", "close", a, "--as", "s1")
    assert r.exit_code == 1 and "say why" in r.output
    assert _cli(db_path, "takedown", "close", a, "--note", "平台已删除并书面反馈", "--as", "s1").exit_code == 0
    r = _cli(db_path, "takedown", "feedback", a, "--result", "x", "--by", "y", "--as", "r9")
    assert r.exit_code == 1 and "closed (已办结): cannot record feedback" in r.output
    assert "Traceback" not in r.output
    r = _cli(db_path, "takedown", "show", a)
    assert [w for w in ("takedown_requested", "takedown_dispatched", "feedback_recorded", "takedown_closed")
            if w not in r.output] == []  # fmt: skip
    assert _cli(db_path, "takedown", "show", 42).output.strip().endswith("no takedown 42 (see `adclear takedown list`)")
    r = _cli(db_path, "takedown", "list", "--today", "2027-13-01")
    assert r.exit_code == 1 and "YYYY-MM-DD" in r.output
