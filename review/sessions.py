"""Logging in to the web app: the password check, the rate limit, and server-side sessions.

The rate limit counts wrong passwords in a sliding window, per user name (since that name's last successful
login) and per client address (every failure but those of a name that later logged in from there: another
account's success does not reset it). The check and the record of the attempt are one write transaction, and
the attempt counts as a failure until its password proved right, so parallel guesses cannot slip past the
limit. At the limit, logins are refused until the oldest counted failure leaves the window, and the refusal
says when that is; refused attempts are not counted, so waiting always works.

A session is a random token in the browser's cookie; the database keeps only its SHA-256, the user, a CSRF
token, and when it was last used. A session ends at logout, after ``idle_seconds`` without a request,
``absolute_seconds`` after login, or when the account is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

from core.db import immediate
from core.errors import LoginRefused
from review import audit, users

__all__ = ["Limits", "LoginRefused", "Session", "load", "locked_names", "login", "logout", "unlock"]


@dataclass(frozen=True, slots=True)
class Limits:
    user_failures: int = 5  # wrong passwords for one name …
    address_failures: int = 20  # … or from one address …
    window_seconds: int = 15 * 60  # … within this window lock it out
    idle_seconds: int = 30 * 60
    absolute_seconds: int = 12 * 3600
    touch_seconds: int = 30  # how often a request refreshes last_seen_at


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user: users.User
    csrf_token: str
    created_at: str
    last_seen_at: str
    expires_at: str


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds")


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# a hash to check against when the name is unknown, so that timing does not tell which names exist
_DUMMY: str | None = None


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = users.hasher().hash(secrets.token_urlsafe(16))
    return _DUMMY


def _lockout(db: sqlite_utils.Database, kind: str, value: str, limit: int, window: int, now: datetime) -> str | None:
    """When the lockout of a name (``kind`` ``name``) or an address ends (UTC), or None when it is not locked.

    A name's count starts again at its own successful login. An address's count keeps every failure in the
    window but those of a name that logged in from that address afterwards (a user's own typos): another
    account's success does not reset it."""
    since = _iso(now - timedelta(seconds=window))
    if kind == "name":  # an admin's unlock (users.unlocked_at) starts the count again too
        sql = """SELECT at FROM login_attempts
                 WHERE name = ? AND ok = 0 AND at > ?
                   AND at > coalesce((SELECT max(at) FROM login_attempts WHERE name = ? AND ok = 1), '')
                   AND at > coalesce((SELECT unlocked_at FROM users WHERE name = ?), '')
                 ORDER BY at DESC LIMIT ?"""
    else:
        sql = """SELECT f.at FROM login_attempts f
                 WHERE f.address = ? AND f.ok = 0 AND f.at > ?
                   AND NOT EXISTS (SELECT 1 FROM login_attempts s
                                   WHERE s.name = f.name AND s.address = f.address AND s.ok = 1 AND s.at > f.at)
                 ORDER BY f.at DESC LIMIT ?"""
    args = [value, since, value, value, limit] if kind == "name" else [value, since, limit]
    found = db.execute(sql, args).fetchall()
    if len(found) < limit:
        return None
    return _iso(datetime.fromisoformat(found[-1][0]) + timedelta(seconds=window))


def locked_until(db: sqlite_utils.Database, name: str, address: str, limits: Limits) -> tuple[str, str] | None:
    """(``locked_user`` or ``locked_address``, retry time in UTC) while logins are refused, else None."""
    now = _now()
    for kind, column, value, limit in (
        ("locked_address", "address", address, limits.address_failures),
        ("locked_user", "name", name, limits.user_failures),
    ):
        until = _lockout(db, column, value, limit, limits.window_seconds, now)
        if until is not None:
            return kind, until
    return None


def locked_names(db: sqlite_utils.Database, names: list[str], limits: Limits) -> dict[str, str]:
    """The accounts among ``names`` locked by wrong passwords now, with when each lock ends (UTC)."""
    now = _now()
    out = {}
    for name in names:
        until = _lockout(db, "name", name, limits.user_failures, limits.window_seconds, now)
        if until is not None:
            out[name] = until
    return out


def unlock(db: sqlite_utils.Database, name: str, *, actor: str, address: str) -> None:
    """An admin lifts the lock on an account: its wrong passwords so far no longer count (the attempts stay
    recorded). A lock on the client's address is not lifted: it waits out its window."""
    user = users.find(db, name)
    if user is None:
        raise users.UserError(f"no user '{name}'; `adclear user list` shows the accounts", zh=f"没有用户“{name}”")
    with immediate(db):
        db.execute("UPDATE users SET unlocked_at = ?, failed_logins = 0 WHERE id = ?", [_iso(_now()), user.id])
        audit.record(db, actor=actor, action="user_unlock", target=f"user:{user.name}", address=address)


def _reserve(db: sqlite_utils.Database, name: str, address: str, limits: Limits, locked_action: str | None) -> int:
    """In one write transaction: refuse a locked name or address, else record the attempt as a failure before
    the password is checked (so that parallel attempts count each other); returns the attempt's id."""
    with immediate(db):
        locked = locked_until(db, name, address, limits)
        if locked is None:
            cursor = db.execute(
                "INSERT INTO login_attempts (at, name, address, ok) VALUES (?, ?, ?, 0)", [_iso(_now()), name, address]
            )
            return int(cursor.lastrowid or 0)
        if locked_action:
            audit.record(
                db,
                actor=name or "?",
                action=locked_action,
                target=f"user:{name}",
                detail={"kind": locked[0], "retry_at": locked[1]},
                address=address,
            )
    raise LoginRefused(*locked)


def _check(db: sqlite_utils.Database, name: str, password: str) -> tuple[bool, users.User | None, str | None]:
    """(right password, the account, a rehash to store): the same work whether the name exists or not."""
    found = users.password_hash(db, name) if name else None
    hasher = users.hasher()
    if found is None:
        hasher.verify(password, _dummy_hash())
        return False, None, None
    ok, new_hash = hasher.verify_and_update(password, found[1])
    return ok, found[0], new_hash


def _failed(db: sqlite_utils.Database, name: str, address: str, action: str, limits: Limits) -> LoginRefused:
    """A wrong password (its attempt is already recorded): the account's count and the audit log."""
    with immediate(db):
        db.execute("UPDATE users SET failed_logins = failed_logins + 1 WHERE name = ?", [name])
        audit.record(db, actor=name or "?", action=action, target=f"user:{name}", address=address)
    locked = locked_until(db, name, address, limits)
    return LoginRefused(*locked) if locked is not None else LoginRefused("bad_password")


def login(
    db: sqlite_utils.Database,
    name: str,
    password: str,
    *,
    address: str,
    user_agent: str = "",
    limits: Limits = Limits(),
) -> tuple[str, Session]:
    """Check the password; returns (cookie token, session) or raises ``LoginRefused``."""
    name = name.strip()[:80]
    attempt = _reserve(db, name, address, limits, "login_locked")
    ok, user, new_hash = _check(db, name, password)
    if not ok or user is None:
        raise _failed(db, name, address, "login_failed", limits)
    now = _iso(_now())
    with immediate(db):
        db.execute("UPDATE login_attempts SET ok = 1 WHERE id = ?", [attempt])
        if user.disabled:
            audit.record(db, actor=user.name, action="login_disabled", target=f"user:{user.name}", address=address)
        else:
            if new_hash:
                db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [new_hash, user.id])
            db.execute(
                "UPDATE users SET last_login_at = ?, last_login_address = ?, failed_logins = 0 WHERE id = ?",
                [now, address, user.id],
            )
            token = secrets.token_urlsafe(32)
            expires = _iso(datetime.fromisoformat(now) + timedelta(seconds=limits.absolute_seconds))
            session = Session(_digest(token), user, secrets.token_urlsafe(32), now, now, expires)
            db.execute(
                "INSERT INTO web_sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at, address, "
                "user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [session.id, user.id, session.csrf_token, now, now, expires, address, user_agent[:200]],
            )
            audit.record(db, actor=user.name, action="login", target=f"user:{user.name}", address=address)
            return token, session
    raise LoginRefused("disabled")  # the right password for a disabled account


def load(db: sqlite_utils.Database, token: str, *, limits: Limits = Limits()) -> tuple[Session | None, str]:
    """The live session of a cookie token, or (None, why: ``none``, ``idle``, ``expired``, ``ended``)."""
    if not token:
        return None, "none"
    sid = _digest(token)
    row = db.execute(
        f"""SELECT s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, s.ended_at,
                   {", ".join("u." + c.strip() for c in users.COLUMNS.split(","))}
            FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?""",
        [sid],
    ).fetchone()
    if row is None:
        return None, "none"
    csrf, created, seen, expires, ended = row[:5]
    user = users.from_row(row[5:])
    if ended is not None:
        return None, "ended"
    now = _now()
    reason = None
    if user.disabled:
        reason = "disabled"
    elif expires <= _iso(now):
        reason = "expired"
    elif datetime.fromisoformat(seen) + timedelta(seconds=limits.idle_seconds) <= now:
        reason = "idle"
    if reason is not None:
        _end(db, sid, reason)
        return None, reason
    if datetime.fromisoformat(seen) + timedelta(seconds=limits.touch_seconds) <= now:
        seen = _iso(now)
        with immediate(db):
            db.execute("UPDATE web_sessions SET last_seen_at = ? WHERE id = ?", [seen, sid])
    return Session(sid, user, csrf, created, seen, expires), "ok"


def _end(db: sqlite_utils.Database, sid: str, reason: str) -> None:
    with immediate(db):
        db.execute(
            "UPDATE web_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
            [_iso(_now()), reason, sid],
        )


def change_password(
    db: sqlite_utils.Database,
    session: Session,
    current: str,
    new: str,
    *,
    address: str,
    limits: Limits = Limits(),
) -> None:
    """A logged-in user changing their own password; raises ``LoginRefused`` or ``users.PasswordRejected``.

    The current password must be right: a wrong one counts as a failed login (so a stolen session cannot
    try passwords faster than the login page allows) and is audited. Then as ``users.set_password``: the
    policy applies and every session of the user ends, this one too.
    """
    name = session.user.name
    users.check_password(name, new)  # a refused new password costs no guess
    attempt = _reserve(db, name, address, limits, None)
    ok, _, _ = _check(db, name, current)
    if not ok:
        raise _failed(db, name, address, "password_change_failed", limits)
    with immediate(db):
        db.execute("UPDATE login_attempts SET ok = 1 WHERE id = ?", [attempt])
    users.set_password(db, name, new, actor=name, address=address)


def logout(db: sqlite_utils.Database, session: Session, *, address: str) -> None:
    with immediate(db):
        db.execute(
            "UPDATE web_sessions SET ended_at = ?, end_reason = 'logout' WHERE id = ? AND ended_at IS NULL",
            [_iso(_now()), session.id],
        )
        audit.record(db, actor=session.user.name, action="logout", target=f"user:{session.user.name}", address=address)
