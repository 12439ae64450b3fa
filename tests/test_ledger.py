"""The ledger's hash chain: append-only by trigger, and every kind of tampering named by verify."""

from __future__ import annotations

import re
import sqlite3

import pytest
from click.testing import CliRunner

from adclear.cli import main
from core.db import connect, immediate
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
        f"Error: ledger holds, but not against the checkpoint: entry 5: its hash differs from the checkpoint "
        f"{old_head}: either the checkpoint was copied wrong (hold it against the export it came from) or the ledger "
        "was rewritten after it was taken\n"
    )


def test_a_checkpoint_past_the_end_is_reported(chained, db_path):
    result = verify_cli(db_path, "--checkpoint", f"9:{'a' * 64}")
    assert result.exit_code == 1
    assert result.output == (
        "Error: ledger holds, but not against the checkpoint: checkpoint entry 9 is not in the ledger (it ends at 5)\n"
    )


def test_a_mistyped_checkpoint_is_not_called_a_rewrite(chained, db_path):
    """Once, a checkpoint with its number or a character written wrong was reported as a rewritten chain."""
    head = ledger.head(chained)
    wrong_number = verify_cli(db_path, "--checkpoint", f"4:{head.hash}")
    assert wrong_number.exit_code == 1
    assert wrong_number.output == (
        "Error: ledger holds, but not against the checkpoint: the checkpoint's hash is entry 5's, not entry 4's: "
        "its number was written wrong\n"
    )
    malformed = verify_cli(db_path, "--checkpoint", f"5:{head.hash[:-1]}g")  # g is no hexadecimal digit
    assert malformed.exit_code != 0 and "is not a checkpoint" in malformed.output
    assert "rewritten" not in wrong_number.output + malformed.output
    assert verify_cli(db_path, "--checkpoint", f" 5:{head.hash.upper()} ").exit_code == 0  # as pasted: still read


# --- the head anchored outside the database (issue 14, finding 10) -------------------------------------------------


@pytest.fixture
def decided(tmp_path):
    """A database with two confirmed ads (ledger entries 1–4), decided through the CLI."""
    from tests.webdata import build

    db_path = tmp_path / "data" / "adclear.db"
    ids = build(db_path)
    for key in ("promo0", "promo1"):
        result = CliRunner().invoke(
            main,
            ["--db", str(db_path), "review", "confirm", str(ids[key]), "--category", "养老投资", "--reason", "x"]
            + ["--as", "rev1"],
        )
        assert result.exit_code == 0, result.output
    return db_path, ids


def cut_tail(db_path, keep: int) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER ledger_no_delete")
        conn.execute("DELETE FROM ledger WHERE seq > ?", [keep])


def test_each_decision_batch_and_export_appends_the_head_beside_the_database(decided):
    from review import anchors

    db_path, _ = decided
    path = db_path.with_name("adclear.db.anchors")
    lines = path.read_text(encoding="utf-8").splitlines()
    with sqlite3.connect(db_path) as conn:
        hashes = dict(conn.execute("SELECT seq, hash FROM ledger"))
    assert [line.split("\t")[0] for line in lines] == [f"2:{hashes[2]}", f"4:{hashes[4]}"]
    assert [line.split("\t")[2] for line in lines] == ["decision", "decision"]
    result = CliRunner().invoke(
        main, ["--db", str(db_path), "export", "--out", str(db_path.parent / "t.csv"), "--as", "boss"]
    )
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8").splitlines()[-1].split("\t")[::2] == [f"4:{hashes[4]}", "export"]
    latest = anchors.latest(connect(db_path))
    assert (latest.seq, latest.hash) == (4, hashes[4])
    result = verify_cli(db_path)
    assert result.exit_code == 0
    assert result.output == f"ledger ok: 4 entries, head 4:{hashes[4]}; anchor 4 holds\n"


def test_a_ledger_cut_at_its_tail_fails_against_its_anchor(decided):
    db_path, ids = decided
    cut_tail(db_path, 2)
    result = verify_cli(db_path)
    assert result.exit_code == 1
    assert re.fullmatch(
        r"Error: ledger broken: the ledger ends at entry 2 but its anchor file recorded entry 4 at \S+: "
        r"entries 3–4 were cut from its tail\n",
        result.output,
    ), result.output
    # and nothing more is appended to it
    result = CliRunner().invoke(
        main,
        ["--db", str(db_path), "review", "reject", str(ids["promo2"]), "--reason", "防非宣传", "--as", "rev1"],
    )
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: the ledger fails its check (the ledger ends at entry 2 but its anchor file recorded entry 4 at "
    )
    assert result.output.endswith("); nothing was recorded: run `adclear ledger verify`\n")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT max(seq) FROM ledger").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (2,)


def test_without_its_anchor_file_a_cut_ledger_is_named_by_the_decisions(decided):
    db_path, _ = decided
    cut_tail(db_path, 2)
    db_path.with_name("adclear.db.anchors").unlink()
    result = verify_cli(db_path)
    assert result.exit_code == 1
    assert result.output == (
        "Error: ledger broken: decisions point at ledger entry 3, past its end at entry 2: entries were cut from "
        "its tail\n"
    )


def test_the_head_is_sent_to_a_webhook(decided, monkeypatch):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db_path, ids = decided
    monkeypatch.setenv("ADCLEAR_ANCHOR_URL", f"http://127.0.0.1:{server.server_port}/anchor")
    try:
        result = CliRunner().invoke(
            main, ["--db", str(db_path), "review", "reject", str(ids["promo2"]), "--reason", "防非宣传", "--as", "rev1"]
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db_path) as conn:
        head_hash = conn.execute("SELECT hash FROM ledger WHERE seq = 5").fetchone()[0]
    assert len(received) == 1
    assert received[0]["seq"] == 5 and received[0]["hash"] == head_hash and received[0]["why"] == "decision"
    assert received[0]["database"] == str(db_path)


def test_nothing_is_appended_to_a_ledger_whose_head_was_edited(decided):
    db_path, ids = decided
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER ledger_no_update")
        conn.execute("UPDATE ledger SET payload = replace(payload, '通知删除', '无需处置') WHERE seq = 4")
    result = CliRunner().invoke(
        main, ["--db", str(db_path), "review", "reject", str(ids["promo2"]), "--reason", "防非宣传", "--as", "rev1"]
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: the ledger fails its check (entry 4: its content does not match its hash (edited)); nothing was "
        "recorded: run `adclear ledger verify`\n"
    )
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT max(seq) FROM ledger").fetchone() == (4,)
        assert conn.execute("SELECT status FROM ads WHERE id = ?", [ids["promo2"]]).fetchone() != ("rejected",)
