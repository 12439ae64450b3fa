"""What keeps the web app safe: the secret key, sessions, CSRF tokens, role checks and response headers.

- The secret key (it signs the small session cookie) is generated once into ``web-secret.key`` beside the
  database, file mode 0600, and read from there on every start; it is never in the code or the repository.
- Every view declares who may use it: ``@requires("reviewer" | "supervisor" | "admin")`` or ``@public``. A view
  without a declaration answers 403 to everyone (fail closed), and a test walks the URL map to keep it so.
- A user whose password an admin set (a new account, a reset) is sent to the password page from every page
  until they chose their own.
- Every POST carries the CSRF token of its session (a form field ``csrf_token`` or the ``X-CSRF-Token``
  header); before login, the token lives in the signed cookie.
- Every response forbids framing, sniffing and referrers; app pages allow scripts, styles and images from the
  app only. The archived page sets its own, stricter policy (``views_review.evidence_page``).
"""

from __future__ import annotations

import functools
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils
from flask import Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from core.db import connect
from review import sessions as web_sessions
from review.users import has_role
from review.web.i18n import t

__all__ = [
    "ConnectionPool",
    "client_address",
    "csrf_token",
    "install",
    "load_secret_key",
    "login_redirect",
    "public",
    "requires",
    "safe_next",
]

SECRET_FILE = "web-secret.key"
# what a user whose password an admin set may open before changing it
PASSWORD_PAGES = ("auth.password", "auth.logout", "auth.language", "auth.home")
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def load_secret_key(data_dir: Path) -> bytes:
    """The app's secret key from ``data_dir/web-secret.key``, created (mode 0600) on first use."""
    path = data_dir / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(path, 0o600)  # someone loosened it: tighten it again
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise RuntimeError(f"{path} is too short to be a secret key: delete it and a new one is made") from None
        return key
    with os.fdopen(fd, "wb") as out:
        key = secrets.token_hex(32).encode("ascii")
        out.write(key + b"\n")
    return key


class ConnectionPool:
    """SQLite connections for request threads: one per request, reused, never shared at once."""

    def __init__(self, db_path: Path, size: int = 16):
        self.db_path = db_path
        self.size = size
        self._free: list[sqlite_utils.Database] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite_utils.Database:
        with self._lock:
            if self._free:
                return self._free.pop()
        return connect(self.db_path, migrate=False)

    def put(self, db: sqlite_utils.Database) -> None:
        if db.conn.in_transaction:
            db.conn.rollback()
        with self._lock:
            if len(self._free) < self.size:
                self._free.append(db)
                return
        db.close()

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free, []
        for db in free:
            db.close()


def public(view: Callable) -> Callable:
    """Open to everyone (login page, static files)."""
    view.required_role = None  # type: ignore[attr-defined]
    return view


def requires(role: str) -> Callable[[Callable], Callable]:
    """Only users whose role ranks at least ``role``."""

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs)

        inner.required_role = role  # type: ignore[attr-defined]
        return inner

    return wrap


def csrf_token() -> str:
    """The token every form and script request of this page must send back."""
    if getattr(g, "web_session", None) is not None:
        return g.web_session.csrf_token
    if "login_csrf" not in session:
        session["login_csrf"] = secrets.token_urlsafe(32)
    return session["login_csrf"]


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target only if it stays on this site (a path, not //host or a scheme)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def client_address() -> str:
    return request.remote_addr or "?"


def login_redirect() -> Any:
    """Send a visitor without a session to the login page (scripts get 401)."""
    if request.method != "GET" or request.headers.get("X-Requested-With"):
        return render_template("error.html", code=401, message=t("err.login_needed")), 401
    why = g.pop("session_end", None)
    if why in ("idle", "expired"):
        flash(t("login.timed_out"), "warn")
    elif why == "disabled":
        flash(t("login.disabled"), "error")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


class _SessionInterface(SecureCookieSessionInterface):
    """The signed cookie, marked Secure whenever the request came over https (or the app is told to)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("FORCE_SECURE_COOKIES")) or (request.is_secure if request else False)


def install(app: Flask) -> None:
    """Sessions, role checks, CSRF and headers for every request of ``app``."""
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="adclear",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _authenticate() -> Any:
        g.web_session = None
        if request.endpoint == "static":
            return None
        token = session.get("sid", "")
        if token:  # also for an error page (404, 405, a bad id): it shows who is logged in
            found, why = web_sessions.load(g.db, token, limits=current_app.config["LIMITS"])
            if found is None:
                session.pop("sid", None)
                g.session_end = why
            g.web_session = found
        view = current_app.view_functions.get(request.endpoint or "")
        if view is None:
            return None  # 404, 405 or a 400 from the URL's converter follows
        if not hasattr(view, "required_role"):
            abort(403)  # a view that forgot to say who may use it: nobody
        role: str | None = view.required_role  # type: ignore[union-attr]  # set by @requires or @public
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            if not sent or not hmac.compare_digest(sent, csrf_token()):
                abort(400, description="csrf")
        if role is None:
            return None
        if g.web_session is None:
            return login_redirect()
        if not has_role(g.web_session.user.role, role):
            abort(403, description=role)
        if g.web_session.user.must_change_password and request.endpoint not in PASSWORD_PAGES:
            flash(t("password.must_change"), "warn")  # a temporary password an admin set: nothing else first
            return redirect(url_for("auth.password"))
        return None

    @app.after_request
    def _headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", APP_CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        return response
