"""The reviewers' web app: Flask + Jinja2, Chinese by default, keyboard-first, no front-end build.

``create_app(db_path)`` returns the WSGI app; ``adclear serve`` runs it (``review.web.serve``). Views call
``review`` functions and hold no SQL; templates escape every bit of crawled text (autoescape, never
``|safe`` on it); ``review.web.security`` checks sessions, roles and CSRF tokens on every request. Only the
command line (``adclear``) imports this package; it passes the settings down in ``app.config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g

from core.classifiers import load_classifier
from core.db import check_before_writing, connect
from review import queue
from review.sessions import Limits
from review.settings import ReviewSettings
from review.web import (
    i18n,
    params,
    security,
    views_accounts,
    views_alerts,
    views_auth,
    views_clusters,
    views_review,
    views_schedule,
    views_search,
    views_stats,
    views_supervise,
    views_takedowns,
    views_tips,
)
from review.web.cache import StaleWhileRefresh

__all__ = ["create_app"]


def create_app(db_path: str | Path, **config: Any) -> Flask:
    """The app for the database at ``db_path`` (migrated on the way); ``config`` overrides settings.

    Settings: ``LIMITS`` (``review.sessions.Limits``: rate limit and session timeouts), ``LEASE_SECONDS``
    (a claim's lease), ``MAX_CLAIMS`` (ads one reviewer may hold at once, default 1), ``FORCE_SECURE_COOKIES``
    (mark cookies Secure even over http: behind a TLS proxy that does not send X-Forwarded-Proto),
    ``COUNTS_TTL`` (seconds the queue page's totals may be old; 0: never), ``REVIEW`` (``ReviewSettings``: the
    rule packs and the anchor webhook decisions use), ``SCORE_BANDS`` (the queue's score bands; default: those
    of ``REVIEW``'s rule pack), ``DISPATCH`` (``review.dispatch.Setup``, or a function returning one: receivers,
    office, mail server for the 处置 pages), ``TIPS`` (``review.tips.Setup``, or a function returning one: the
    office that numbers tips, and how a tip's URL is checked and fetched).
    """
    db_path = Path(db_path)
    first = connect(db_path)  # create, check and migrate before the first request
    try:
        check_before_writing(first)  # quick_check now rather than in the first reviewer's request
    finally:
        first.close()
    app = Flask(__name__)
    app.url_map.converters["id"] = params.IdConverter
    app.config.update(
        SECRET_KEY=security.load_secret_key(db_path.parent),
        DB_PATH=db_path,
        DATA_DIR=db_path.parent,
        LIMITS=Limits(),
        LEASE_SECONDS=queue.DEFAULT_LEASE_SECONDS,
        MAX_CLAIMS=1,
        FORCE_SECURE_COOKIES=False,
        COUNTS_TTL=5.0,
        JSON_AS_ASCII=False,
        REVIEW=ReviewSettings(),
    )
    app.config.update(config)
    if "SCORE_BANDS" not in app.config:
        scoring = load_classifier(app.config["REVIEW"].rules_dir, False).scoring
        app.config["SCORE_BANDS"] = queue.score_bands(scoring.queue_bands)
    _connections(app, security.ConnectionPool(db_path))
    security.install(app)
    i18n.install(app)
    app.register_blueprint(views_auth.bp)
    app.register_blueprint(views_review.bp)
    app.register_blueprint(views_supervise.bp)
    app.register_blueprint(views_accounts.bp)
    app.register_blueprint(views_clusters.bp)
    app.register_blueprint(views_alerts.bp)
    app.register_blueprint(views_stats.bp)
    app.register_blueprint(views_search.bp)
    app.register_blueprint(views_schedule.bp)
    views_takedowns.install(app)
    views_tips.install(app)
    views_auth.install_errors(app)
    return app


def _connections(app: Flask, pool: security.ConnectionPool) -> None:
    """A connection from the pool for every request, and the queue's totals kept fresh in the background."""
    app.extensions["adclear_pool"] = pool

    def queue_totals() -> dict[str, int]:
        db = pool.get()
        try:
            return queue.totals(db)
        finally:
            pool.put(db)

    app.extensions["adclear_totals"] = StaleWhileRefresh(queue_totals, app.config["COUNTS_TTL"])

    @app.before_request
    def _db() -> None:
        g.db = pool.get()

    @app.teardown_request
    def _db_back(_exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            pool.put(db)
