"""People who use the web app: reviewers, supervisors, admins; argon2id password hashes; the password policy.

Roles rank ``reviewer`` < ``supervisor`` < ``admin``: a page open to reviewers is open to the ranks above.
Reviewers claim and decide ads and escalate the hard ones; supervisors also resolve escalations, read the
audit log and export takedown lists; admins also manage the accounts (the users page: add, disable, enable,
unlock, reset a password). From the command line: ``adclear user add|disable|list``.

A password an admin sets for someone else (a new account made in the web app, a reset) is temporary:
``must_change_password`` sends its owner to the password page until they chose their own.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlite_utils
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from core.db import immediate
from core.errors import NotAnAccount, PasswordRejected, UserError
from core.timeutil import now_utc
from review import audit

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "ROLE_NAMES_ZH",
    "PasswordRejected",
    "User",
    "UserError",
    "add_user",
    "check_password",
    "ensure_demo_users",
    "disable_user",
    "enable_user",
    "find",
    "has_role",
    "list_users",
    "require",
    "password_hasher",
    "set_password",
]

ROLES: tuple[str, ...] = ("reviewer", "supervisor", "admin")
ROLE_NAMES_ZH = {"reviewer": "审核员", "supervisor": "主管", "admin": "管理员"}  # as refusals name them
ROLE_LABELS = {"reviewer": "审核员", "supervisor": "主管", "admin": "管理员"}
MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"^[\w.\-@\u4e00-\u9fff]{2,40}$")
MAX_PASSWORD_LENGTH = 256
# zxcvbn's score (0–4) a password needs: 3 is "safely unguessable" (at least 10⁸ guesses by its estimate)
MIN_STRENGTH = 3
ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; what lies beyond only adds strength
COMMON_FILE = "common-passwords-zh.txt"


@functools.cache
def _common() -> tuple[frozenset[str], tuple[str, ...]]:
    """(every common password, lower case: zxcvbn's 30,000 and the Chinese list shipped here; the Chinese words,
    for zxcvbn's dictionary)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # here, as zxcvbn below: only setting a password needs them

    text = resources.files("review").joinpath(COMMON_FILE).read_text(encoding="utf-8")
    words = tuple(line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#")
    return frozenset(words) | frozenset(FREQUENCY_LISTS["passwords"]), words


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool
    created_at: str
    last_login_at: str | None
    last_login_address: str | None
    failed_logins: int
    must_change_password: bool = False

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


COLUMNS = "id, name, role, disabled, created_at, last_login_at, last_login_address, failed_logins, must_change_password"


def from_row(row: Any) -> User:
    return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6], row[7], bool(row[8]))


def password_hasher() -> PasswordHash:
    """argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane): about 0.1 s on a small server."""
    return PasswordHash((Argon2Hasher(memory_cost=19456, time_cost=2, parallelism=1),))


_HASHER: PasswordHash | None = None


def hasher() -> PasswordHash:
    global _HASHER
    if _HASHER is None:
        _HASHER = password_hasher()
    return _HASHER


def has_role(role: str, needed: str) -> bool:
    """Whether ``role`` ranks at least as high as ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_password(name: str, password: str) -> None:
    """Raise ``PasswordRejected`` naming the first rule ``password`` breaks."""
    from zxcvbn import zxcvbn  # here: 20 ms of tables that every command naming an account (--as) would load

    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(
            f"password too short: at least {MIN_PASSWORD_LENGTH} characters (密码至少 {MIN_PASSWORD_LENGTH} 位)",
            zh=f"密码至少 {MIN_PASSWORD_LENGTH} 位",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected(
            f"password too long: at most {MAX_PASSWORD_LENGTH} characters (密码最多 {MAX_PASSWORD_LENGTH} 位)",
            zh=f"密码最多 {MAX_PASSWORD_LENGTH} 位",
        )
    folded = password.casefold()
    if name.casefold() in folded or folded in name.casefold():
        raise PasswordRejected("password must not contain the user name (密码不能包含用户名)", zh="密码不能包含用户名")
    common, words = _common()
    if folded in common or len(set(folded)) <= 2:
        raise PasswordRejected(
            "password is too common; choose another (密码过于常见，请另选)", zh="密码过于常见，请另选"
        )
    estimate = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[name, "adclear", *words])
    if estimate["score"] < MIN_STRENGTH:
        raise PasswordRejected(
            "password is too easy to guess; use a longer one, e.g. three unrelated words and a number "
            "(密码太容易被猜中，请换一个更长的密码，如三个不相关的词加数字)",
            zh="密码太容易被猜中，请换一个更长的密码，如三个不相关的词加数字",
        )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UserError(
            f"'{name}' is not a user name: 2–40 letters, digits, Chinese characters, '.', '-', '_' or '@'",
            zh=f"“{name}”不能用作用户名：须为 2 至 40 个字母、数字、汉字或“.”“-”“_”“@”",
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(
            f"unknown role '{role}'; one of: {', '.join(ROLES)}", zh=f"未知的角色“{role}”，可选：{'、'.join(ROLES)}"
        )


def add_user(
    db: sqlite_utils.Database,
    name: str,
    role: str,
    password: str,
    *,
    actor: str = "cli",
    address: str = "cli",
    must_change: bool = False,
) -> User:
    """Create an account; the password must pass ``check_password``; ``must_change``: a temporary one, which
    its owner must change at the first login."""
    name = name.strip()
    _check_name(name)
    _check_role(role)
    check_password(name, password)
    digest = hasher().hash(password)
    now = now_utc()
    with immediate(db):
        if db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
            raise UserError(
                f"user '{name}' already exists; `adclear user list` shows the accounts", zh=f"用户“{name}”已存在"
            )
        db.execute(
            "INSERT INTO users (name, role, password_hash, created_at, created_by, password_changed_at, "
            "must_change_password) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [name, role, digest, now, actor, now, int(must_change)],
        )
        detail = {"role": role, **({"must_change_password": True} if must_change else {})}
        audit.record(db, actor=actor, action="user_add", target=f"user:{name}", detail=detail, address=address)
    user = find(db, name)
    assert user is not None
    return user


def set_password(
    db: sqlite_utils.Database,
    name: str,
    password: str,
    *,
    actor: str = "cli",
    address: str = "cli",
    must_change: bool = False,
) -> None:
    """Give ``name`` a new password and end its sessions; ``must_change``: a temporary password set by an admin
    (an admin's reset, audited as ``user_password_reset``), which its owner must change at the next login."""
    user = _existing(db, name)
    check_password(user.name, password)
    digest = hasher().hash(password)
    now = now_utc()
    with immediate(db):
        db.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0, "
            "must_change_password = ? WHERE id = ?",
            [digest, now, int(must_change), user.id],
        )
        _end_sessions(db, user.id, "password")
        action = "user_password_reset" if must_change else "user_password"
        audit.record(db, actor=actor, action=action, target=f"user:{user.name}", address=address)


def disable_user(db: sqlite_utils.Database, name: str, *, actor: str = "cli", address: str = "cli") -> User:
    """Disable an account: it cannot log in, its sessions end at once; its past decisions stay."""
    user = _existing(db, name)
    with immediate(db):
        db.execute("UPDATE users SET disabled = 1 WHERE id = ?", [user.id])
        _end_sessions(db, user.id, "disabled")
        audit.record(db, actor=actor, action="user_disable", target=f"user:{user.name}", address=address)
    again = find(db, name)
    assert again is not None
    return again


def enable_user(db: sqlite_utils.Database, name: str, *, actor: str = "cli", address: str = "cli") -> User:
    """Enable a disabled account again: it can log in with its password."""
    user = _existing(db, name)
    with immediate(db):
        db.execute("UPDATE users SET disabled = 0 WHERE id = ?", [user.id])
        audit.record(db, actor=actor, action="user_enable", target=f"user:{user.name}", address=address)
    again = find(db, name)
    assert again is not None
    return again


def _end_sessions(db: sqlite_utils.Database, user_id: int, reason: str) -> None:
    db.execute(
        "UPDATE web_sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL",
        [now_utc(), reason, user_id],
    )


def _existing(db: sqlite_utils.Database, name: str) -> User:
    user = find(db, name)
    if user is None:
        raise UserError(f"no user '{name}'; `adclear user list` shows the accounts", zh=f"没有用户“{name}”")
    return user


def require(db: sqlite_utils.Database, name: str, role: str) -> User:
    """The active account ``name`` holding at least ``role`` (for a name given on the command line), or
    ``NotAnAccount`` saying what is missing."""
    user = find(db, name) if name.strip() else None
    if user is None:
        raise NotAnAccount(
            f"'{name}' is no account: --as (or $ADCLEAR_USER) must name one with the {role} role "
            f"(`adclear user list`; `adclear user add NAME --role {role}`)",
            zh=f"“{name}”不是有效账号：须为具有{ROLE_NAMES_ZH.get(role, role)}权限的账号",
        )
    if user.disabled:
        raise NotAnAccount(f"the account '{user.name}' is disabled", zh=f"账号“{user.name}”已停用")
    if not has_role(user.role, role):
        raise NotAnAccount(
            f"'{user.name}' is a {user.role}: this needs the {role} role",
            zh=f"账号“{user.name}”的角色不够：此操作须{ROLE_NAMES_ZH.get(role, role)}权限",
        )
    return user


def find(db: sqlite_utils.Database, name: str) -> User | None:
    row = db.execute(f"SELECT {COLUMNS} FROM users WHERE name = ?", [name.strip()]).fetchone()
    return from_row(row) if row else None


def list_users(db: sqlite_utils.Database) -> list[User]:
    return [from_row(r) for r in db.execute(f"SELECT {COLUMNS} FROM users ORDER BY name")]


def password_hash(db: sqlite_utils.Database, name: str) -> tuple[User, str] | None:
    """The account and its stored hash (for the login check only)."""
    row = db.execute(f"SELECT {COLUMNS}, password_hash FROM users WHERE name = ?", [name.strip()]).fetchone()
    return (from_row(row), row[9]) if row else None


# The accounts `adclear demo` creates on its demo database (and prints): never use them on real data.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("reviewer", "reviewer", "shenhe-2026-demo"),
    ("supervisor", "supervisor", "zhuguan-2026-demo"),
    ("admin", "admin", "guanli-2026-demo"),
)


def ensure_demo_users(db: sqlite_utils.Database) -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing; returns every demo login (name, role, password)."""
    for name, role, password in DEMO_USERS:
        if find(db, name) is None:
            add_user(db, name, role, password, actor="demo")
    return list(DEMO_USERS)
