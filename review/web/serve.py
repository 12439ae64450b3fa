"""Serving the app: waitress (a production WSGI server, pure Python) on one host and port.

Behind a TLS-terminating reverse proxy, ``behind_proxy`` trusts one proxy's ``X-Forwarded-For`` (the client
address in the audit log and the rate limit) and ``X-Forwarded-Proto`` (cookies marked Secure, HSTS).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from waitress import serve as waitress_serve  # type: ignore[import-untyped]
from werkzeug.middleware.proxy_fix import ProxyFix

from review.web import create_app

__all__ = ["build", "serve"]


def build(db_path: Path, *, behind_proxy: bool = False, secure_cookies: bool = False, **config: Any) -> Flask:
    app = create_app(db_path, FORCE_SECURE_COOKIES=secure_cookies, **config)
    if behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    return app


def serve(app: Flask, host: str, port: int, *, threads: int = 8) -> None:
    """Serve until interrupted (Ctrl-C)."""
    waitress_serve(app, host=host, port=port, threads=threads, ident="adclear", clear_untrusted_proxy_headers=False)
