"""Admins manage the accounts on the users page: add, disable, enable, unlock, reset a password; each audited.

A password an admin types (a new account's, a reset) is temporary: its owner must change it at the next login
(``review.web.security`` sends them to the password page). An admin cannot disable or reset their own account
here (the password page changes one's own password), so that the last admin cannot lock everybody out.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from core.errors import UserError
from review import sessions, users
from review.web.i18n import error_text, t
from review.web.security import client_address, requires

__all__ = ["ACTIONS", "bp", "user_page"]

bp = Blueprint("accounts", __name__)
ACTIONS = ("disable", "enable", "unlock", "reset")


def user_page(error: str = "", status: int = 200) -> Any:
    """The users page: every account, its state and lock, the forms."""
    people = users.list_users(g.db)
    locks = sessions.locked_names(g.db, [u.name for u in people], current_app.config["LIMITS"])
    page = render_template(
        "users.html",
        people=people,
        locks=locks,
        roles=users.ROLES,
        min_length=users.MIN_PASSWORD_LENGTH,
        error=error,
        form=request.form if request.method == "POST" else {},
    )
    return page, status


def _account(user_id: int) -> users.User:
    found = next((u for u in users.list_users(g.db) if u.id == user_id), None)
    if found is None:
        abort(404)
    return found


@bp.route("/users/add", methods=["POST"])
@requires("admin")
def add() -> Any:
    name = request.form.get("name", "").strip()[:80]
    role = request.form.get("role", "")
    password = request.form.get("password", "")
    try:
        users.add_user(
            g.db, name, role, password, actor=g.web_session.user.name, address=client_address(), must_change=True
        )
    except UserError as e:
        return user_page(t("err.refused", detail=error_text(e)), 400)
    flash(t("users.added", name=name), "ok")
    return redirect(url_for("supervise.user_list"))


@bp.route("/users/<id:user_id>/<action>", methods=["POST"])
@requires("admin")
def change(user_id: int, action: str) -> Any:
    if action not in ACTIONS:
        abort(404)
    account = _account(user_id)
    me = g.web_session.user.name
    who = {"actor": me, "address": client_address()}
    if account.name.casefold() == me.casefold() and action in ("disable", "reset"):
        return user_page(t("users.not_yourself"), 400)
    try:
        if action == "disable":
            users.disable_user(g.db, account.name, **who)
        elif action == "enable":
            users.enable_user(g.db, account.name, **who)
        elif action == "unlock":
            sessions.unlock(g.db, account.name, **who)
        else:
            users.set_password(g.db, account.name, request.form.get("password", ""), must_change=True, **who)
    except UserError as e:
        return user_page(t("err.refused", detail=error_text(e)), 400)
    flash(t(f"users.{action}_done", name=account.name), "ok")
    return redirect(url_for("supervise.user_list"))
