"""The ledger's hash chain: append-only by trigger, and every kind of tampering named by verify."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from adclear.cli import main
from adclear.db import immediate
from review import ledger


@pytest.fixture
def chained(db):
    with immediate(db):
        for i in range(1, 6):
            ledger.append(db, actor=f"审核员{i}", action="confirmed", ad_id=None, payload={"n": i, "理由": "保本保息"})
    return db


def verify_cli(db_path, *extra):
    return CliRunner().invoke(main, ["--db", str(db_path), "ledger", "verify", *extra])


def test_a_clean_chain_verifies_and_prints_its_head(chained, db_path):
    head = ledger.head(chained)
    assert head.seq == 5
    result = verify_cli(db_path)
    assert result.exit_code == 0
    assert result.output == f"ledger ok: 5 entries, head 5:{head.hash}\n"


def test_entries_link_to_their_predecessor(chained):
    rows = ledger.entries(chained)
    assert rows[0].prev_hash == ledger.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert rows[2].payload == {"n": 3, "理由": "保本保息"}


def test_append_needs_a_write_transaction(db):
    with pytest.raises(ledger.LedgerError, match="BEGIN IMMEDIATE"):
        ledger.append(db, actor="a", action="confirmed", ad_id=None, payload={})


def test_unknown_action_is_refused(db):
    with pytest.raises(ledger.LedgerError, match="unknown ledger action 'deleted'"), immediate(db):
        ledger.append(db, actor="a", action="deleted", ad_id=None, payload={})


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE ledger SET actor = 'x' WHERE seq = 2", "append-only: corrections are new entries"),
        ("DELETE FROM ledger WHERE seq = 5", "append-only: entries cannot be deleted"),
        ("INSERT INTO ledger VALUES (9, 't', 'a', 'confirmed', NULL, '{}', 'x', 'y')", "must extend the chain"),
        (
            "INSERT INTO ledger VALUES (6, 't', 'a', 'confirmed', NULL, '{}', 'not-the-head', 'y')",
            "must extend the chain",
        ),
    ],
)
def test_triggers_refuse_changes(chained, sql, message):
    with pytest.raises(sqlite3.IntegrityError, match=message):
        chained.execute(sql)


def drop_triggers(db):
    for name in ("ledger_no_update", "ledger_no_delete", "ledger_extends_chain"):
        db.execute(f"DROP TRIGGER {name}")


def test_an_edited_entry_is_named(chained, db_path):
    drop_triggers(chained)
    chained.execute('UPDATE ledger SET payload = \'{"n":3,"理由":"无"}\' WHERE seq = 3')
    chained.conn.commit()
    result = verify_cli(db_path)
    assert result.exit_code == 1
    assert result.output == "Error: ledger broken: entry 3: its content does not match its hash (edited)\n"


def test_a_deleted_entry_is_named_as_a_gap(chained, db_path):
    drop_triggers(chained)
    chained.execute("DELETE FROM ledger WHERE seq = 2")
    chained.conn.commit()
    result = verify_cli(db_path)
    assert result.exit_code == 1
    assert result.output == "Error: ledger broken: entry 2 missing: the chain jumps from 1 to 3\n"


def test_a_rehashed_entry_breaks_the_next_link(chained, db_path):
    drop_triggers(chained)
    row = chained.execute(
        "SELECT seq, at, actor, action, ad_id, payload, prev_hash FROM ledger WHERE seq = 2"
    ).fetchone()
    payload = '{"n":2,"理由":"改过"}'
    new_hash = ledger.entry_hash(row[0], row[1], row[2], row[3], row[4], payload, row[6])
    chained.execute("UPDATE ledger SET payload = ?, hash = ? WHERE seq = 2", [payload, new_hash])
    chained.conn.commit()
    result = verify_cli(db_path)
    assert result.output == "Error: ledger broken: entry 3: prev_hash does not match entry 2's hash\n"


def test_a_full_rewrite_is_caught_only_by_a_checkpoint(chained, db_path):
    old_head = ledger.head(chained)
    drop_triggers(chained)
    rows = chained.execute("SELECT seq, at, actor, action, ad_id, payload FROM ledger ORDER BY seq").fetchall()
    chained.execute("DELETE FROM ledger")
    prev = ledger.GENESIS
    for seq, at, actor, action, ad_id, payload in rows:
        if seq == 2:
            payload = '{"n":2,"理由":"篡改"}'
        digest = ledger.entry_hash(seq, at, actor, action, ad_id, payload, prev)
        chained.execute(
            "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [seq, at, actor, action, ad_id, payload, prev, digest]
        )
        prev = digest
    chained.conn.commit()
    assert verify_cli(db_path).exit_code == 0  # on its own, a consistent rewrite verifies
    result = verify_cli(db_path, "--checkpoint", str(old_head))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: ledger broken: entry 5: hash differs from the checkpoint {old_head}: the chain was rewritten\n"
    )


def test_a_checkpoint_past_the_end_is_reported(chained, db_path):
    result = verify_cli(db_path, "--checkpoint", f"9:{'a' * 64}")
    assert result.exit_code == 1
    assert result.output == "Error: ledger broken: checkpoint entry 9 is not in the ledger (it ends at 5)\n"
