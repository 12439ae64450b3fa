"""Accounts beyond add and disable (issue 19): unlock, enable, a temporary password that must be changed; from
the library and the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from adclear.cli import main
from core.errors import LoginRefused
from review import sessions
from review.users import add_user, disable_user, find, set_password

PASSWORD = "Kiwi-Harbor-2041"


def wrong(db, name: str, times: int) -> None:
    for n in range(times):
        with pytest.raises(LoginRefused):
            sessions.login(db, name, f"wrong-password-{n}", address="10.0.0.1")


def test_unlock_lifts_the_lock_of_wrong_passwords_from_the_command_line(db, db_path):
    add_user(db, "zhang", "reviewer", PASSWORD)
    wrong(db, "zhang", 5)
    with pytest.raises(LoginRefused) as refused:
        sessions.login(db, "zhang", PASSWORD, address="10.0.0.2")
    assert refused.value.kind == "locked_user"
    assert list(sessions.locked_names(db, ["zhang"], sessions.Limits())) == ["zhang"]
    r = CliRunner().invoke(main, ["--db", str(db_path), "user", "unlock", "zhang"])
    assert r.exit_code == 0 and r.output == "user zhang unlocked\n"
    assert sessions.locked_names(db, ["zhang"], sessions.Limits()) == {}
    sessions.login(db, "zhang", PASSWORD, address="10.0.0.2")
    # the attempts stay recorded, and new failures count again from the unlock
    assert db.execute("SELECT count(*) FROM login_attempts WHERE name = 'zhang' AND ok = 0").fetchone()[0] == 5
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE target = 'user:zhang' ORDER BY id")]
    assert "user_unlock" in actions
    r = CliRunner().invoke(main, ["--db", str(db_path), "user", "unlock", "nobody"])
    assert r.exit_code == 1 and "no user 'nobody'" in r.output


def test_enable_after_disable_and_a_temporary_password(db, db_path):
    add_user(db, "wang", "reviewer", PASSWORD)
    disable_user(db, "wang")
    with pytest.raises(LoginRefused):
        sessions.login(db, "wang", PASSWORD, address="10.0.0.3")
    r = CliRunner().invoke(main, ["--db", str(db_path), "user", "enable", "wang"])
    assert r.exit_code == 0 and r.output == "user wang enabled\n"
    _, session = sessions.login(db, "wang", PASSWORD, address="10.0.0.3")
    assert not session.user.must_change_password
    set_password(db, "wang", "Reset-Pebble-5934", actor="root", address="10.0.0.9", must_change=True)
    assert find(db, "wang").must_change_password
    _, session = sessions.login(db, "wang", "Reset-Pebble-5934", address="10.0.0.3")
    assert session.user.must_change_password
    sessions.change_password(db, session, "Reset-Pebble-5934", "Quartz-Violin-8823", address="10.0.0.3")
    assert not find(db, "wang").must_change_password
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE target = 'user:wang' ORDER BY id")]
    assert "user_enable" in actions and actions.count("user_password_reset") == 1


def test_corrections_are_for_supervisors_and_accounts_for_admins(tmp_path):
    """The new forms keep the role checks: a reviewer cannot reverse, a supervisor cannot manage accounts, and
    nothing changes when they try."""
    from tests.test_web import logged_in, make_app, rows
    from tests.webdata import build

    db_path = tmp_path / "data" / "adclear.db"
    ids = build(db_path)
    app = make_app(db_path)
    for endpoint, role in (("review.reverse", "supervisor"), ("accounts.change", "admin"), ("accounts.add", "admin")):
        assert app.view_functions[endpoint].required_role == role
    assert app.view_functions["clusters.decide"].required_role == "reviewer"
    reviewer, token = logged_in(app, "rev1")
    answer = reviewer.post(f"/ad/{ids['promo0']}/reverse", data={"reason": "x", "csrf_token": token})
    assert answer.status_code == 403
    boss, token = logged_in(app, "boss")
    (rev1,) = rows(db_path, "SELECT id FROM users WHERE name = 'rev1'")[0]
    assert boss.post(f"/users/{rev1}/disable", data={"csrf_token": token}).status_code == 403
    answer = boss.post("/users/add", data={"name": "x2", "role": "admin", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 403
    assert rows(db_path, "SELECT disabled FROM users WHERE name = 'rev1'") == [(0,)]
    assert rows(db_path, "SELECT count(*) FROM users WHERE name = 'x2'") == [(0,)]
    assert rows(db_path, "SELECT count(*) FROM ledger") == [(0,)]
