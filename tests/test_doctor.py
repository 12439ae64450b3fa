# ruff: noqa: F811 (pytest fixtures imported from tests.test_web are arguments here)
"""adclear doctor: a verdict per check, on a sound database and on damaged copies (issue 14)."""

from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from adclear.cli import main
from tests.conftest import run_adclear
from tests.test_hostile_db import damage, settle
from tests.test_web import site, template  # noqa: F401


def doctor(db_path, *args):
    return CliRunner().invoke(main, ["--db", str(db_path), "doctor", "--sample", "100", *args])


def lines(output: str) -> dict[str, tuple[str, str]]:
    found = {}
    for line in output.splitlines():
        check, status, detail = line.split(None, 2)
        found[check] = (status, detail)
    return found


def test_a_sound_database_passes_every_check(site):
    db_path, _ = site
    result = doctor(db_path)
    assert result.exit_code == 0, result.output
    found = lines(result.output)
    assert list(found) == ["integrity", "schema", "ledger", "evidence", "disk"]
    assert found["integrity"] == ("ok", "PRAGMA integrity_check found every page and index sound")
    assert found["schema"][0] == "ok" and found["schema"][1].startswith("version ")
    assert found["ledger"] == ("ok", "empty")
    assert found["evidence"] == ("ok", "6 of 6 archived pages and screenshots match their SHA-256")
    assert found["disk"][0] in ("ok", "warning") and "GB free beside the database" in found["disk"][1]


def test_a_damaged_copy_fails_integrity_in_one_line_and_is_not_written(site):
    db_path, _ = site
    damage(db_path, "verdicts")
    before = db_path.read_bytes()
    result = run_adclear("doctor", db=db_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    found = lines(result.stdout)
    assert found["integrity"][0] == "failed"
    assert found["integrity"][1].endswith(": restore the database from a backup (docs/operations.md)")
    assert result.stderr.startswith("Error: ") and "check(s) failed: integrity" in result.stderr
    assert db_path.read_bytes() == before


def test_evidence_that_no_longer_matches_is_named(site):
    db_path, ids = site
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE evidence SET sha256 = ? WHERE ad_id = ?", ["0" * 64, ids["promo2"]])
        warc_file, offset = conn.execute(
            "SELECT warc_file, warc_offset FROM evidence WHERE ad_id = ?", [ids["promo2"]]
        ).fetchone()
    result = doctor(db_path)
    assert result.exit_code == 1
    assert lines(result.output)["evidence"] == (
        "failed",
        f"ad {ids['promo2']}'s page (evidence 3, {warc_file}@{offset}) has SHA-256 "
        f"{lines(result.output)['evidence'][1].split('SHA-256 ')[1][:64]}, not the recorded {'0' * 64}",
    )
    assert result.output.endswith("Error: 1 check(s) failed: evidence\n")


def test_a_cut_ledger_and_a_newer_schema_fail_their_checks(site):
    from core.db import connect
    from review import decisions

    db_path, ids = site
    db = connect(db_path)
    decisions.confirm(db, ids["promo0"], reviewer="rev1", category="养老投资", reason="保本保息")
    db.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER ledger_no_delete")
        conn.execute("DELETE FROM ledger WHERE seq = 2")
        conn.execute("PRAGMA user_version = 99")
    settle(db_path)
    found = lines(doctor(db_path).output)
    assert found["integrity"][0] == "ok"
    assert found["schema"][0] == "failed" and "written by a newer adclear (schema version 99)" in found["schema"][1]
    assert found["ledger"][0] == "failed"
    assert found["ledger"][1].startswith("the ledger ends at entry 1 but its anchor file recorded entry 2 at ")
    assert found["ledger"][1].endswith(": entry 2 was cut from its tail")


def test_disk_space_verdicts(site, monkeypatch):
    from review import health

    db_path, _ = site
    monkeypatch.setattr(health, "DISK_FAILED_BYTES", 2**62)
    verdict = health._disk(db_path)
    assert verdict.status == "failed"
    assert verdict.detail.endswith(": free space before the next crawl (old WARC files, logs)")
    monkeypatch.setattr(health, "DISK_FAILED_BYTES", 0)
    monkeypatch.setattr(health, "DISK_WARNING_BYTES", 2**62)
    assert health._disk(db_path).status == "warning"
