"""Dispatch batches: one 交办单 per receiver, four-eyes approval, delivery by e-mail (or by hand) confirmed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from adclear.cli import main
from core.errors import AdclearError
from review import delivery, dispatch, ledger, takedowns
from review.decisions import confirm
from review.delivery import DeliveryFailed
from review.dispatch import DispatchError, FourEyes, Office, Setup
from review.mail import SmtpSettings
from review.receivers import UnknownReceiver, load_receivers
from review.users import add_user
from review.workdays import today_china
from tests.smtpinbox import smtp_server
from tests.webdata import add_ad

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "Tr0ub4dor&3-horse-battery"
OFFICE = Office(code="SFX", name="示范县处非办", reply_to="chufei@sfx.example")
TODAY = date(2026, 3, 2)  # a Monday the calendar knows; deadlines: 7 working days → 11 March
RECEIVERS = """\
version: 1
receivers:
  - key: tongcheng
    name: 示范同城网运营有限公司
    kind: platform
    email: takedown@tongcheng.example
  - key: quan
    name: 示范圈网络科技有限公司
    kind: platform
    email: report@quan.example
    deadline_days: 5
  - key: amr
    name: 示范县市场监督管理局
    kind: department
routes:
  - site: site-a
    receiver: tongcheng
  - platform: 示范圈
    receiver: quan
default: amr
"""


@pytest.fixture
def receivers(tmp_path: Path) -> Setup:
    path = tmp_path / "receivers.yml"
    path.write_text(RECEIVERS, encoding="utf-8")
    return Setup(receivers=load_receivers(path), office=OFFICE, notices_dir=tmp_path / "notices")


@pytest.fixture
def people(db):
    add_user(db, "r1", "reviewer", PASSWORD)
    add_user(db, "s1", "supervisor", PASSWORD)
    add_user(db, "s2", "supervisor", PASSWORD)


_serial = iter(range(1, 10_000))


def confirmed(db, n: int, *, site: str, platform: str, by: str = "r1") -> list[int]:
    ids = []
    for _ in range(n):
        i = next(_serial)
        ad = add_ad(
            db, f"保本理财{site}{i}号", f"本平台保本保息，年化收益1{i}%，五万起投，第{i}期<script>x</script>",
            url=f"http://example.test/{site}/{i}", site=site, platform=platform,
        )  # fmt: skip
        confirm(db, ad, reviewer=by, category="投资理财/P2P网贷", reason="保本承诺")
        ids.append(takedowns.for_ad(db, ad)[0].id)
    return ids


def test_create_makes_one_batch_per_receiver_with_serial_numbers(db, people, receivers):
    a = confirmed(db, 2, site="site-a", platform="示范同城网")
    b = confirmed(db, 1, site="site-b", platform="示范圈")
    c = confirmed(db, 1, site="site-c", platform="别的网")
    made = dispatch.create(db, receivers, actor="r1", today=TODAY)
    assert [(x.receiver, x.number, x.takedown_ids) for x in made] == [
        ("amr", "〔2026〕SFX交字第0001号", tuple(c)),
        ("quan", "〔2026〕SFX交字第0002号", tuple(b)),
        ("tongcheng", "〔2026〕SFX交字第0003号", tuple(a)),
    ]
    assert all(x.state == "draft" for x in made)
    created = [e for e in ledger.entries(db) if e.action == "batch_created"]
    assert [e.payload["number"] for e in created] == [x.number for x in made]
    assert created[2].payload["takedowns"] == a and created[2].ad_id is None
    # nothing is dispatched before delivery; and a takedown is in one open batch at most
    assert {takedowns.get(db, t).state for t in a + b + c} == {"requested"}
    with pytest.raises(DispatchError, match="nothing to dispatch: no requested takedown outside a batch"):
        dispatch.create(db, receivers, actor="r1", today=TODAY)
    with pytest.raises(DispatchError, match=rf"takedown {a[0]} is already in the batch 〔2026〕SFX交字第0003号"):
        dispatch.create(db, receivers, actor="r1", takedown_ids=[a[0]], today=TODAY)
    # the serial goes on within the office's year, and starts again in a new year
    d = confirmed(db, 1, site="site-a", platform="示范同城网")
    [again] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    assert again.number == "〔2026〕SFX交字第0004号" and again.takedown_ids == tuple(d)
    e = confirmed(db, 1, site="site-a", platform="示范同城网")
    [next_year] = dispatch.create(db, receivers, actor="r1", today=date(2027, 1, 4))
    assert next_year.number == "〔2027〕SFX交字第0001号" and next_year.takedown_ids == tuple(e)
    assert ledger.verify(db).ok


def test_unknown_receiver_and_office_are_clear_errors_that_write_nothing(db, people, receivers):
    confirmed(db, 1, site="site-a", platform="示范同城网")
    before = ledger.head(db)
    with pytest.raises(UnknownReceiver, match="no receiver 'tongchen' .*did you mean 'tongcheng'"):
        dispatch.create(db, receivers, actor="r1", receiver="tongchen", today=TODAY)
    with pytest.raises(DispatchError, match="set operator.code in seeds.yml"):
        dispatch.create(db, replace(receivers, office=Office(code="", name="x")), actor="r1", today=TODAY)
    with pytest.raises(DispatchError, match="nothing to dispatch: .* is routed to 'quan'"):
        dispatch.create(db, receivers, actor="r1", receiver="quan", today=TODAY)
    assert ledger.head(db) == before
    assert db.execute("SELECT count(*) FROM dispatch_batches").fetchone()[0] == 0


def test_four_eyes(db, people, receivers):
    confirmed(db, 1, site="site-a", platform="示范同城网", by="s1")  # a supervisor who confirmed an ad herself
    [batch] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    with pytest.raises(FourEyes, match=r"s1 confirmed ad \d+ of 〔2026〕SFX交字第0001号: four eyes"):
        dispatch.approve(db, batch.id, supervisor="s1")
    with pytest.raises(FourEyes, match="'r1' is a reviewer: this needs the supervisor role"):
        dispatch.approve(db, batch.id, supervisor="r1")
    assert dispatch.get(db, batch.id).state == "draft"
    done = dispatch.approve(db, batch.number, supervisor="s2")
    assert (done.state, done.approved_by) == ("approved", "s2")
    assert ledger.entries(db, last=1)[0].action == "approved"
    assert ledger.entries(db, last=1)[0].payload == {"number": batch.number}
    with pytest.raises(DispatchError, match="is 已审核, not awaiting approval"):
        dispatch.approve(db, batch.id, supervisor="s2")


def test_a_batch_not_sent_can_be_voided_and_its_takedowns_batched_again(db, people, receivers):
    a = confirmed(db, 2, site="site-a", platform="示范同城网")
    [batch] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    with pytest.raises(DispatchError, match="say why"):
        dispatch.cancel(db, batch.id, supervisor="s2", reason=" ")
    with pytest.raises(AdclearError, match="supervisor role"):
        dispatch.cancel(db, batch.id, supervisor="r1", reason="错建")
    voided = dispatch.cancel(db, batch.number, supervisor="s2", reason="接收单位选错")
    assert voided.state == "cancelled" and voided.state_label == "已作废"
    entry = ledger.entries(db, last=1)[0]
    assert (entry.action, entry.payload["takedowns"], entry.payload["reason"]) == ("batch_cancelled", a, "接收单位选错")
    [again] = dispatch.create(db, receivers, actor="r1", today=TODAY)  # no longer spoken for
    assert again.takedown_ids == tuple(a) and again.number == "〔2026〕SFX交字第0002号"
    with pytest.raises(DispatchError, match="only one not sent can be voided"):
        dispatch.cancel(db, batch.id, supervisor="s2", reason="again")
    assert ledger.verify(db).ok


def _send(db, receivers, batch, port, tmp_path):
    smtp = SmtpSettings(host="127.0.0.1", port=port, sender="chufei@sfx.example", timeout=10)
    return delivery.send(db, batch, replace(receivers, smtp=smtp), actor="s2", today=TODAY)


@pytest.mark.slow
def test_send_delivers_the_notice_and_dispatches_its_takedowns(db, people, receivers, tmp_path):
    ids = confirmed(db, 2, site="site-a", platform="示范同城网")
    [batch] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    with pytest.raises(DispatchError, match=r"is 待审核: it cannot be sent \(approve it first"):
        _send(db, receivers, batch.id, 9, tmp_path)
    dispatch.approve(db, batch.id, supervisor="s2")
    with smtp_server() as (inbox, port):
        done = _send(db, receivers, batch.id, port, tmp_path)
    assert done.state == "delivered" and done.delivery == "email"
    [message] = inbox.messages
    assert message["To"] == "takedown@tongcheng.example" and message["Message-ID"] == done.delivery_detail
    assert message["Subject"] == "删除通知 〔2026〕SFX交字第0001号"
    [pdf] = list(message.iter_attachments())
    content = pdf.get_content()
    assert content.startswith(b"%PDF-") and pdf.get_filename() == "〔2026〕SFX交字第0001号.pdf"
    import hashlib

    assert hashlib.sha256(content).hexdigest() == done.notice_sha256
    assert (tmp_path / done.notice_file).read_bytes() == content  # notices/… beside the database
    for t in map(lambda i: takedowns.get(db, i), ids):
        assert (t.state, t.deadline, t.receiver, t.number) == ("dispatched", "2026-03-11", "tongcheng", batch.number)
    issued = [e for e in ledger.entries(db) if e.action == "notice_issued"]
    assert issued[0].payload["message_id"] == done.delivery_detail
    assert issued[0].payload["deadline"] == "2026-03-11" and issued[0].payload["to"] == "takedown@tongcheng.example"
    assert [e.action for e in ledger.entries(db, last=2)] == ["takedown_dispatched"] * 2
    cache = db.execute("SELECT * FROM takedowns ORDER BY id").fetchall()
    takedowns.rebuild(db)
    assert db.execute("SELECT * FROM takedowns ORDER BY id").fetchall() == cache
    assert ledger.verify(db).ok
    with pytest.raises(DispatchError, match="is 已送达: it cannot be sent"):
        _send(db, receivers, batch.id, 9, tmp_path)


@pytest.mark.slow
def test_a_refused_delivery_is_failed_never_sent_and_can_be_sent_again(db, people, receivers, tmp_path):
    ids = confirmed(db, 1, site="site-b", platform="示范圈")
    [batch] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    dispatch.approve(db, batch.id, supervisor="s2")
    with smtp_server() as (inbox, port):
        inbox.refuse.add("report@quan.example")
        with pytest.raises(DeliveryFailed, match="refused the recipient report@quan.example: 550"):
            _send(db, receivers, batch.id, port, tmp_path)
        failed = dispatch.get(db, batch.id)
        assert failed.state == "failed" and "550" in (failed.delivery_detail or "")
        assert takedowns.get(db, ids[0]).state == "requested"
        assert ledger.entries(db, last=1)[0].action == "delivery_failed"
        # its takedowns stay spoken for: no second batch takes them meanwhile
        with pytest.raises(DispatchError, match="nothing to dispatch"):
            dispatch.create(db, receivers, actor="r1", today=TODAY)
        inbox.refuse.clear()
        done = _send(db, receivers, batch.id, port, tmp_path)
    assert done.state == "delivered" and len(inbox.messages) == 1
    assert takedowns.get(db, ids[0]).deadline == "2026-03-09"  # this receiver's 5 working days
    assert ledger.verify(db).ok


@pytest.mark.slow
def test_handover_when_there_is_no_email(db, people, receivers, tmp_path):
    ids = confirmed(db, 1, site="site-c", platform="别的网")
    [batch] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    dispatch.approve(db, batch.id, supervisor="s2")
    with pytest.raises(DispatchError, match="示范县市场监督管理局 has no e-mail in .*hand it over and record it"):
        _send(db, receivers, batch.id, 9, tmp_path)
    with pytest.raises(DispatchError, match=r"say who received the notice \(--to NAME\)"):
        delivery.handover(db, batch.id, receivers, to=" ", actor="s2", today=TODAY)
    done = delivery.handover(db, batch.id, receivers, to="县市场监管局 王五", note="当面送达", actor="s2", today=TODAY)
    assert (done.state, done.delivery, done.delivery_detail) == ("handed_over", "hand", "县市场监管局 王五")
    entry = [e for e in ledger.entries(db) if e.action == "handed_over"][0]
    assert entry.payload["to"] == "县市场监管局 王五" and entry.payload["notice_sha256"] == done.notice_sha256
    assert takedowns.get(db, ids[0]).state == "dispatched"


@pytest.mark.slow
def test_a_takedown_still_online_is_dispatched_again_by_name(db, people, receivers, tmp_path):
    [t] = confirmed(db, 1, site="site-c", platform="别的网")
    [first] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    dispatch.approve(db, first.id, supervisor="s2")
    delivery.handover(db, first.id, receivers, to="平台 张三", actor="s2", today=TODAY)
    with pytest.raises(DispatchError, match=f"takedown {t} is dispatched: only requested ones, or ones a re-check"):
        dispatch.create(db, receivers, actor="r1", takedown_ids=[t], today=TODAY)
    takedowns.record_recheck(db, t, outcome="online", detail="still there", evidence=None, actor="recheck")
    with pytest.raises(DispatchError, match="nothing to dispatch"):
        dispatch.create(db, receivers, actor="r1", today=TODAY)  # never re-batched unasked
    [again] = dispatch.create(db, receivers, actor="r1", takedown_ids=[t], receiver="amr", today=TODAY)
    dispatch.approve(db, again.id, supervisor="s2")
    delivery.handover(db, again.id, receivers, to="县市场监管局 王五", actor="s2", today=TODAY)
    done = takedowns.get(db, t)
    assert (done.state, done.receiver, done.number) == ("dispatched", "amr", again.number)
    assert [e.payload["number"] for e in takedowns.history(db, t) if e.action == "takedown_dispatched"] == [
        first.number, again.number]  # fmt: skip


def _cli(db_path: Path, receivers_path: Path, *args: object, env: dict | None = None):
    seeds = REPO / "seeds.yml"
    argv = ["--db", str(db_path), "--seeds", str(seeds), "--receivers", str(receivers_path), *map(str, args)]
    return CliRunner().invoke(main, argv, env=env)


@pytest.mark.slow
def test_the_command_line(db, db_path, people, receivers, tmp_path):
    ids = confirmed(db, 1, site="site-a", platform="示范同城网", by="s1")
    path = receivers.receivers.path
    r = _cli(db_path, path, "dispatch", "create", "--receiver", "nobody", "--as", "r1")
    assert r.exit_code == 1 and "Error: no receiver 'nobody' in" in r.output
    r = _cli(db_path, path, "dispatch", "create", "--as", "r1")
    assert r.exit_code == 0, r.output
    year = today_china().year
    number = f"〔{year}〕SFX交字第0001号"
    assert number in r.output
    listed = _cli(db_path, path, "takedown", "list").output.splitlines()[1]  # waiting in the batch, not sent
    assert listed.split()[2] == "待交办" and number in listed and listed.endswith("交办单待发")
    assert listed.split()[3] == "tongcheng"  # the batch's receiver, before it is sent
    r = _cli(db_path, path, "dispatch", "approve", number, "--as", "s1")
    assert r.exit_code == 1 and "four eyes, another supervisor approves it" in r.output
    assert _cli(db_path, path, "dispatch", "approve", number, "--as", "s2").exit_code == 0
    past = (today_china() - timedelta(days=1)).isoformat()
    r = _cli(db_path, path, "dispatch", "send", number, "--deadline", past, "--as", "s2")
    assert r.exit_code == 1 and f"Error: the deadline {past} is already past" in r.output
    soon = (today_china() + timedelta(days=10)).isoformat()
    out, head = tmp_path / "to-hand-over.pdf", ledger.head(db)
    r = _cli(db_path, path, "dispatch", "notice", number, "--out", out, "--deadline", soon)
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"%PDF-") and f"deadline {soon}, sha256 " in r.output
    assert ledger.head(db) == head  # printing records nothing
    r = _cli(db_path, path, "dispatch", "send", number, "--deadline", soon, "--as", "s2", env={"ADCLEAR_SMTP_HOST": ""})
    assert r.exit_code == 1 and "no mail server is configured" in r.output
    with smtp_server() as (inbox, port):
        env = {"ADCLEAR_SMTP_HOST": "127.0.0.1", "ADCLEAR_SMTP_PORT": str(port), "ADCLEAR_SMTP_FROM": "a@sfx.example"}
        r = _cli(db_path, path, "dispatch", "send", number, "--deadline", soon, "--as", "s2", env=env)
    assert r.exit_code == 0, r.output
    assert len(inbox.messages) == 1 and f"deadline {soon}" in r.output
    assert takedowns.get(db, ids[0]).deadline == soon
    r = _cli(db_path, path, "dispatch", "show", number)
    assert "已送达(delivered)" in r.output and "notice: notices/" in r.output
    assert (db_path.parent / "notices" / f"{year}-SFX-0001.pdf").exists()


@pytest.mark.slow
def test_a_takedown_cancelled_in_a_batch_is_neither_printed_nor_dispatched(db, people, receivers, tmp_path):
    from review.decisions import reverse

    kept, dropped = confirmed(db, 2, site="site-a", platform="示范同城网")
    [batch] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    dispatch.approve(db, batch.id, supervisor="s2")
    reverse(db, takedowns.get(db, dropped).ad_id, reviewer="s1", reason="误判")
    with smtp_server() as (inbox, port):
        done = _send(db, receivers, batch.id, port, tmp_path)
    assert done.state == "delivered"
    assert takedowns.get(db, kept).state == "dispatched" and takedowns.get(db, dropped).state == "cancelled"
    issued = [e for e in ledger.entries(db) if e.action == "notice_issued"][0]
    assert issued.payload["takedowns"] == [kept]
    [pdf] = list(inbox.messages[0].iter_attachments())
    assert pdf.get_content().startswith(b"%PDF-")
    assert ledger.verify(db).ok


def test_serials_are_unique_when_two_operators_create_at_once(db_path, db, people, receivers):
    import threading

    from core.db import connect

    ids = confirmed(db, 8, site="site-a", platform="示范同城网")
    made: list[str] = []
    errors: list[Exception] = []

    def make(takedown_id: int) -> None:
        own = connect(db_path)
        try:
            made.extend(b.number for b in dispatch.create(own, receivers, actor="r1", takedown_ids=[takedown_id],
                                                          today=TODAY))  # fmt: skip
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            own.close()

    threads = [threading.Thread(target=make, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(made) == [f"〔2026〕SFX交字第{n:04d}号" for n in range(1, 9)]
    assert ledger.verify(db).ok


@pytest.mark.slow
def test_two_supervisors_sending_at_once_send_one_email(db_path, db, people, receivers, tmp_path, monkeypatch):
    """The batch is claimed ("sending") before the message leaves: a second sender is refused while the first
    one's mail is on its way, instead of e-mailing the platform a second notice."""
    import threading

    from core.db import connect
    from review import mail

    confirmed(db, 1, site="site-a", platform="示范同城网")
    [batch] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    dispatch.approve(db, batch.id, supervisor="s2")
    on_its_way, go_on = threading.Event(), threading.Event()
    real_send = mail.send

    def slow_send(*args, **kwargs):
        on_its_way.set()
        assert go_on.wait(30)
        return real_send(*args, **kwargs)

    monkeypatch.setattr(mail, "send", slow_send)
    with smtp_server() as (inbox, port):
        smtp = SmtpSettings(host="127.0.0.1", port=port, sender="chufei@sfx.example", timeout=10)
        setup = replace(receivers, smtp=smtp)
        first: list[object] = []
        sender = threading.Thread(
            target=lambda: first.append(delivery.send(connect(db_path), batch.id, setup, actor="s2", today=TODAY))
        )
        sender.start()
        assert on_its_way.wait(60)
        assert dispatch.get(db, batch.id).state == "sending"
        with pytest.raises(DispatchError, match=r"is being sent by s2 since .*: wait for it"):
            delivery.send(db, batch.id, setup, actor="s1", today=TODAY)
        with pytest.raises(DispatchError, match="is 发送中: only one not sent can be voided"):
            dispatch.cancel(db, batch.id, supervisor="s1", reason="两人同时点了发送")
        go_on.set()
        sender.join(60)
    assert dispatch.get(db, batch.id).state == "delivered" and len(inbox.messages) == 1
    assert [e.action for e in ledger.entries(db)].count("notice_issued") == 1


@pytest.mark.slow
def test_a_send_cut_off_long_ago_may_be_taken_over(db, people, receivers, tmp_path):
    confirmed(db, 1, site="site-a", platform="示范同城网")
    [batch] = dispatch.create(db, receivers, actor="r1", today=TODAY)
    dispatch.approve(db, batch.id, supervisor="s2")
    # the process that claimed it 16 minutes ago stopped before recording the outcome
    stamp = (datetime.now(UTC) - timedelta(minutes=16)).isoformat()
    db.execute(
        "UPDATE dispatch_batches SET state = 'sending', delivery_detail = ? WHERE id = ?", [f"s1 {stamp}", batch.id]
    )
    db.conn.commit()
    with smtp_server() as (inbox, port):
        done = _send(db, receivers, batch.id, port, tmp_path)
    assert done.state == "delivered" and len(inbox.messages) == 1
