"""Logging in and out, the language switch, and the error pages."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for

from core.db import explain
from core.errors import DatabaseError, LoginRefused, PasswordRejected
from core.timeutil import local
from review import sessions, users
from review.web.i18n import LANGUAGES, error_text, t
from review.web.params import DATE_PARAMS
from review.web.security import client_address, public, requires, safe_next

__all__ = ["bp", "install_errors"]

bp = Blueprint("auth", __name__)


def _refusal(e: LoginRefused, key: str) -> str:
    """What the page says to a refused password: until when a lockout lasts, else the message ``key``."""
    if e.kind in ("locked_user", "locked_address"):
        return t(f"login.{e.kind}", when=local(e.retry_at, "%H:%M:%S"))
    return t(key)


def _fresh_cookie() -> None:
    """Empty the session cookie but for the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    target = safe_next(request.values.get("next"), url_for("review.queue"))
    if g.web_session is not None:
        return redirect(target)
    error = ""
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        try:
            token, _ = sessions.login(
                g.db,
                name,
                password,
                address=client_address(),
                user_agent=request.headers.get("User-Agent", ""),
                limits=current_app.config["LIMITS"],
            )
        except LoginRefused as e:
            error = _refusal(e, f"login.{e.kind}")
        else:
            _fresh_cookie()  # nothing from before the login survives
            session["sid"] = token
            return redirect(target)
    return render_template("login.html", error=error, name=name, target=target), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Any:
    if g.web_session is not None:
        sessions.logout(g.db, g.web_session, address=client_address())
    _fresh_cookie()
    flash(t("login.logged_out"), "ok")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@requires("reviewer")
def password() -> Any:
    """Change one's own password; afterwards every session of the user ends and they log in again."""
    error = ""
    if request.method == "POST":
        current = request.form.get("current", "")
        new = request.form.get("new", "")
        if new != request.form.get("again", ""):
            error = t("password.mismatch")
        else:
            try:
                sessions.change_password(
                    g.db,
                    g.web_session,
                    current,
                    new,
                    address=client_address(),
                    limits=current_app.config["LIMITS"],
                )
            except LoginRefused as e:
                error = _refusal(e, "password.wrong_current")
            except PasswordRejected as e:
                error = error_text(e)
            else:
                _fresh_cookie()
                flash(t("password.changed"), "ok")
                return redirect(url_for("auth.login"))
    return render_template("password.html", error=error, min_length=users.MIN_PASSWORD_LENGTH), (400 if error else 200)


@bp.route("/lang/<code>")
@public
def language(code: str) -> Any:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), "/"))


@bp.route("/")
@public
def home() -> Any:
    return redirect(url_for("review.queue"))


def install_errors(app: Flask) -> None:
    def page(code: int, key: str) -> Any:
        def handler(error: Any) -> Any:
            detail = getattr(error, "description", "")
            if code == 400 and detail == "csrf":
                message = t("err.csrf")
            elif code == 400 and str(detail).startswith("param:"):
                name, _, message = str(detail)[6:].partition(":")
                message = message or t("err.bad_date" if name in DATE_PARAMS else "err.bad_number", name=name)
            elif code == 403 and detail in ("supervisor", "admin"):
                message = t("err.role", role=t(f"role.{detail}"))
            else:
                message = t(key)
            return render_template("error.html", code=code, message=message), code

        return handler

    def database(error: Exception) -> Any:
        """The database failed under the request (damaged, read-only, full disk): 503 with what happened."""
        if isinstance(error, sqlite3.Error):
            error = explain(error, app.config.get("DB_PATH"))
        app.logger.error("database error: %s", error)
        return render_template("error.html", code=503, message=t("err.database", detail=error_text(error))), 503

    app.register_error_handler(sqlite3.DatabaseError, database)
    app.register_error_handler(DatabaseError, database)
    for code, key in ((400, "err.bad_request"), (403, "err.forbidden"), (404, "err.not_found"), (413, "err.too_big")):
        app.register_error_handler(code, page(code, key))
    app.register_error_handler(405, page(405, "err.bad_request"))
