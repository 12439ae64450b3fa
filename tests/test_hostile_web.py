# ruff: noqa: F811 (pytest fixtures imported from tests.test_web are arguments here)
"""Hostile requests to the web app: every parameter checked (400 with a message, never a 500), and the database's
own failures (damaged, read-only) answered with a page that says so (issue 14, finding 9); a fuzz run over every
route's parameters."""

from __future__ import annotations

import os
import re
import sqlite3
import string
from html import unescape
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.sessions import Limits
from tests.test_hostile_db import damage, make_immutable, release, settle
from tests.test_web import logged_in, make_app, site, template  # noqa: F401


def bad_param(name: str) -> str:
    if name in ("from", "to"):
        return f"参数“{name}”无效：须为 2000-01-01 至 2099-12-31 之间的日期（YYYY-MM-DD）。"
    return f"参数“{name}”无效：须为 1 至 9223372036854775807 的整数。"


def bad_param_en(name: str) -> str:
    if name in ("from", "to"):
        return f"The parameter '{name}' is not valid: it must be a date (YYYY-MM-DD) from 2000-01-01 to 2099-12-31."
    return f"The parameter '{name}' is not valid: it must be a whole number from 1 to 9223372036854775807."


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/ad/9223372036854775808", "id"),
        ("GET", "/ad/0", "id"),
        ("GET", "/ad/%C2%B2", "id"),  # ² passes str.isdigit() but is no number
        ("GET", "/ad/%D9%A1", "id"),  # an Arabic-Indic 1: int() reads it, a URL should not
        ("GET", "/ad/9223372036854775808/evidence/page", "id"),
        ("POST", "/ad/9223372036854775808/claim", "id"),
        ("POST", "/ad/9223372036854775808/confirm", "id"),
        ("POST", "/escalations/9223372036854775808/resolve", "id"),
        ("POST", "/escalations/99999999999999999999999/return", "id"),
        ("GET", "/ledger?before=9223372036854775808", "before"),
        ("GET", "/ledger?before=%C2%B2", "before"),
        ("GET", "/audit?before=9223372036854775808", "before"),
        ("GET", "/audit?before=%C2%B2", "before"),
        ("GET", "/queue?from=0001-01-01", "from"),
        ("GET", "/queue?to=9999-12-31", "to"),
        ("GET", "/queue?from=2026-02-30", "from"),
        ("GET", "/queue?page=%C2%B2", "page"),
        ("GET", "/queue?page=-1", "page"),
    ],
)
def test_a_bad_parameter_is_a_400_that_names_it(site, method, path, name):
    app = make_app(site[0])
    client, token = logged_in(app, "boss")
    answer = client.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
    assert answer.status_code == 400, answer.text[:300]
    assert bad_param(name) in answer.text
    english = client.get("/lang/en")
    assert english.status_code == 302
    answer = client.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
    assert bad_param_en(name) in unescape(answer.text)
    assert 'href="/logout"' in answer.text or "Log out" in answer.text  # the page knows who is logged in


def test_good_parameters_still_work(site):
    db_path, ids = site
    app = make_app(db_path)
    client, _ = logged_in(app, "boss")
    assert client.get(f"/ad/{ids['promo0']}").status_code == 200
    assert client.get("/ad/9223372036854775807").status_code == 404
    assert client.get("/queue?from=2000-01-01&to=2099-12-31&page=2").status_code == 200
    assert client.get("/ledger?before=9223372036854775807").status_code == 200
    assert client.get("/audit?before=1").status_code == 200


def test_a_damaged_database_is_a_page_that_says_so(site):
    db_path, _ = site
    app = make_app(db_path)
    client, _ = logged_in(app, "boss")
    app.extensions["adclear_pool"].close()
    damage(db_path, "verdicts")
    answer = client.get("/queue")
    assert answer.status_code == 503
    assert "数据库暂时无法使用，操作未执行：" in answer.text
    assert "已损坏（database disk image is malformed）：请运行 adclear doctor" in answer.text


def test_an_immutable_database_refuses_a_decision_with_a_page_not_a_traceback(site):
    db_path, ids = site
    app = make_app(db_path)
    client, token = logged_in(app, "rev1")
    app.extensions["adclear_pool"].close()
    settle(db_path)
    before = client.get(f"/ad/{ids['promo0']}")
    assert before.status_code == 200
    app.extensions["adclear_pool"].close()
    make_immutable(db_path)
    try:
        answer = client.post(
            f"/ad/{ids['promo0']}/reject", data={"csrf_token": token, "reason": "防非宣传"}, follow_redirects=False
        )
        assert answer.status_code == 503
        assert "只读（attempt to write a readonly database），未能写入" in answer.text
    finally:
        app.extensions["adclear_pool"].close()
        release(db_path)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM ledger").fetchone() == (0,)


# --- the fuzz run ----------------------------------------------------------------------------------------------------

ODD = [
    "",
    "0",
    "-1",
    "1",
    "2",
    "9223372036854775807",
    "9223372036854775808",
    "1" * 40,
    "²",
    "١",
    "１",
    "1e3",
    "0x10",
    " 1",
    "1.5",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "2026-13-01",
    "+2026-01-01",
    "2026-01-01T00:00",
    "\x00",
    "\x1b[2J",
    "../../etc/passwd",
    "//evil.test",
    "javascript:alert(1)",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%",
    "_",
    "\ud7ff",
    "投资理财/P2P网贷",
    "防非宣传",
    "其他",
    "通知删除",
    "confirm",
    "reject",
    "csv",
    "xlsx",
    "json",
    "flag",
    "high",
    "mine",
    "5:" + "a" * 64,
]
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(alphabet=string.digits + "-:", max_size=12),
)
KEYS = [
    "page", "from", "to", "platform", "site", "category", "band", "source", "state", "before", "actor", "action",
    "checkpoint", "next", "then", "reason", "note", "legal_basis", "decision", "format", "name", "password",
    "current", "new", "again",
]  # fmt: skip
FUZZ_SIZE = int(os.environ.get("ADCLEAR_FUZZ_EXAMPLES", "1500"))
_requests = {"count": 0, "by_status": {}}


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "auth.logout"):
            continue  # logging out would end the fuzzing session
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _path(rule, values) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<[^:>]+:{name}>|<{name}>", quote(values[name], safe=""), path)
    return path


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from review.users import add_user
    from tests.webdata import PASSWORDS, build

    data = tmp_path_factory.mktemp("fuzz") / "data"
    build(data / "adclear.db")
    from core.db import connect

    db = connect(data / "adclear.db")
    add_user(db, "admin1", "admin", "Quartz-Meadow-6620")
    db.close()
    PASSWORDS.setdefault("admin1", "Quartz-Meadow-6620")
    app = make_app(data / "adclear.db", LIMITS=Limits(user_failures=10**6, address_failures=10**6))
    return app


@settings(
    max_examples=FUZZ_SIZE,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def _fuzz(fuzz_app, data):
    routes = list(_routes(fuzz_app))
    rule, method = data.draw(st.sampled_from(routes), label="route")
    values = {name: data.draw(VALUES, label=name) for name in rule.arguments}
    query = data.draw(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), VALUES, max_size=5), label="query")
    client = getattr(fuzz_app, "_fuzz_client", None)
    if client is None:
        client, token = logged_in(fuzz_app, "admin1")
        fuzz_app._fuzz_client, fuzz_app._fuzz_token = client, token
    form = None
    if method == "POST":
        form = data.draw(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6), label="form")
        form["csrf_token"] = fuzz_app._fuzz_token
    url = _path(rule, values) + ("?" + urlencode(query) if query else "")
    answer = client.open(url, method=method, data=form)
    _requests["count"] += 1
    _requests["by_status"][answer.status_code] = _requests["by_status"].get(answer.status_code, 0) + 1
    assert answer.status_code < 500, (method, url, form, answer.text[:500])
    if answer.status_code == 302 and answer.headers["Location"].startswith("/login"):
        fuzz_app._fuzz_client = None  # the session ended (a password changed): log in again


def test_fuzz_every_route_and_parameter(fuzz_app):
    """Every route, every method, random path values, query strings and forms (with a valid CSRF token, so the
    views run): never an unhandled exception, never a 5xx. Then how large the run was (printed with -s; the
    report quotes it), counted in the same test: as a test of its own, pytest-xdist could run it in another
    worker, which had sent no request."""
    _requests.update(count=0, by_status={})
    _fuzz(fuzz_app)
    print(f"\nfuzz: {_requests['count']} requests, by status {dict(sorted(_requests['by_status'].items()))}")
    assert _requests["count"] >= min(FUZZ_SIZE, 100)
