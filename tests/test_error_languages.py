"""Every refusal the web app can show speaks its reader's language (core/errors.py, review/web/i18n.py).

An ``AdclearError`` carries its Chinese beside its English message (``zh=``); the web app shows the Chinese to a
Chinese reader and the message to an English one, and the command line keeps printing the message. The first
test reads the source (``ast``) of every module the web app imports, ours, and fails on an error made there
without its Chinese; the others make the web app refuse and read what it says in each language.
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import re
import sqlite3
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from adclear.tips import web_setup
from core.db import connect
from core.errors import AdclearError, HeldByOther, LoginRefused
from core.seeds import Seeds
from review import campaigns, users
from tests.test_web import logged_in, login, make_app, rows, site, template, token_of  # noqa: F401 (fixtures)
from tests.test_web_tips import OFFICE as TIP_OFFICE
from tests.test_web_tips import SEEDS as TIP_SEEDS

REPO = Path(__file__).resolve().parents[1]
OURS = ("core", "review")
# What the command line hands the web app (``DISPATCH``, ``TIPS``): read while a request is served.
WEB_SETUP = ("adclear.config", "adclear.tips")
# Code the web app imports but never runs while it serves a request, and why; a raise there may stay English.
NOT_FROM_THE_WEB: dict[str, str] = {
    "review.alertconfig:load_alerts_config": "alerts.yml is read by `adclear alerts` and after crawls, not by a view",
    "review.alertsend:send_message": "alerts are sent by `adclear alerts deliver`; the 告警 page only re-queues",
    "review.alertsend:_post": "alerts are sent by `adclear alerts deliver`; the 告警 page only re-queues",
}


def _module_path(name: str) -> Path | None:
    for path in (REPO / f"{name.replace('.', '/')}.py", REPO / name.replace(".", "/") / "__init__.py"):
        if path.is_file():
            return path
    return None


def web_modules() -> dict[str, Path]:
    """Our modules the web app imports, directly or through each other (core/ and review/, the views' own too),
    and the setup the command line hands it."""
    found: dict[str, Path] = {name: REPO / f"{name.replace('.', '/')}.py" for name in WEB_SETUP}
    todo = [f"review.web.{p.stem}" for p in (REPO / "review" / "web").glob("*.py")]
    while todo:
        name = todo.pop()
        path = _module_path(name)
        if name in found or path is None or name.split(".")[0] not in OURS:
            continue
        found[name] = path
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names]
    return found


def _resolve(node: ast.expr, namespace: dict[str, object]) -> object:
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)  # a module or a class: not ``g`` or ``request``
        return getattr(owner, node.attr, None) if inspect.ismodule(owner) or inspect.isclass(owner) else None
    return None


def _is_error_class(found: object) -> bool:
    return inspect.isclass(found) and issubclass(found, AdclearError)


def _speaks_for_itself(cls: type) -> bool:
    """A class that writes its own Chinese (``LoginRefused``): its constructor takes no ``zh``."""
    return "zh" not in inspect.signature(cls.__init__).parameters


def _in_readers_language(node: ast.Call) -> bool:
    """The web app's own refusal, its message from its strings table: ``ReviewError(t("err.bad_choice"))``."""
    first = node.args[0] if node.args else None
    return isinstance(first, ast.Call) and isinstance(first.func, ast.Name) and first.func.id == "t"


class _Finder(ast.NodeVisitor):
    """Each making of an ``AdclearError`` without ``zh=``, with the function it is in."""

    def __init__(self, namespace: dict[str, object]):
        self.namespace = namespace
        self.scope: list[str] = []
        self.class_params: list[set[str]] = [set()]  # parameters annotated type[...]: an error class passed in
        self.missing: list[tuple[int, str]] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        params = {a.arg for a in (*node.args.args, *node.args.kwonlyargs) if a.annotation is not None
                  and ast.unparse(a.annotation).startswith("type[")}  # fmt: skip
        self.class_params.append(params)
        self.generic_visit(node)
        self.class_params.pop()
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_Call(self, node: ast.Call) -> None:
        found = _resolve(node.func, self.namespace)
        passed_in = isinstance(node.func, ast.Name) and node.func.id in self.class_params[-1]
        makes_error = passed_in or (_is_error_class(found) and not _speaks_for_itself(found))  # type: ignore[arg-type]
        if makes_error and not any(k.arg == "zh" for k in node.keywords) and not _in_readers_language(node):
            self.missing.append((node.lineno, ".".join(self.scope)))
        self.generic_visit(node)


def _exempt(module: str, where: str) -> bool:
    """``module:function`` (or ``module:Class.method``) exempts a function and what it holds; ``module:`` all."""
    place = f"{module}:{where}"
    return any(
        place.startswith(key) and (key.endswith(":") or place[len(key) :][:1] in ("", ".")) for key in NOT_FROM_THE_WEB
    )


def test_every_error_the_web_app_can_meet_carries_its_chinese():
    modules = web_modules()
    assert {"review.decisions", "review.tips", "review.campaigns", "review.users", "core.db"} <= set(modules)
    missing = []
    for name, path in sorted(modules.items()):
        finder = _Finder(vars(importlib.import_module(name)))
        finder.visit(ast.parse(path.read_text(encoding="utf-8")))
        missing += [f"{path.relative_to(REPO)}:{line} ({where})" for line, where in finder.missing
                    if not _exempt(name, where)]  # fmt: skip
    assert not missing, f"{len(missing)} errors without their Chinese (zh=...):\n" + "\n".join(missing)


def test_the_views_show_a_caught_error_through_error_text():
    """``str(e)`` on a caught error in a view would show the English message on a Chinese page."""
    found = []
    for path in sorted((REPO / "review" / "web").glob("*.py")):
        for handler in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(handler, ast.ExceptHandler) or handler.name is None:
                continue
            for node in ast.walk(handler):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str"
                        and any(isinstance(a, ast.Name) and a.id == handler.name for a in node.args)):  # fmt: skip
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, "use review.web.i18n.error_text(e): " + ", ".join(found)


def test_the_exemptions_name_code_that_exists():
    for dotted in NOT_FROM_THE_WEB:
        module, _, rest = dotted.partition(":")
        found: object = importlib.import_module(module)
        for part in filter(None, rest.split(".")):
            found = getattr(found, part)


def test_an_error_keeps_its_english_message_and_carries_its_chinese():
    e = HeldByOther("ad 3 is claimed by li", zh="广告 3 已由 li 认领")
    assert str(e) == "ad 3 is claimed by li" and e.args == ("ad 3 is claimed by li",)
    assert e.zh == "广告 3 已由 li 认领"
    assert AdclearError("only English").zh is None
    assert str(LoginRefused("disabled")) == "login refused: disabled"
    assert LoginRefused("disabled").zh == "该账号已停用，请联系管理员"


# --- the web app's refusals, in each language ------------------------------------------------------------------


BOTH_LANGUAGES = pytest.mark.parametrize("lang", ["zh", "en"])


def _in(client, lang: str) -> None:
    client.get(f"/lang/{lang}")


def _post(client, token, path, **data):
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)


def _flashes(page) -> str:
    return " ".join(html.unescape(m) for m in re.findall(r"<p class=\"flash flash-error\">(.*?)</p>", page.text, re.S))


@BOTH_LANGUAGES
def test_a_tip_to_a_private_address_is_refused_in_the_readers_language(site, tmp_path, lang):  # noqa: F811
    expected = {
        "zh": "未连接即拒绝：10.20.30.40 是内网地址",
        "en": "refused before connecting: 10.20.30.40 is a private address",
    }[lang]
    db_path, _ = site
    setup = web_setup(Seeds.model_validate(TIP_SEEDS), TIP_OFFICE, db_path=db_path, seeds_path=tmp_path / "seeds.yml")
    client, token = logged_in(make_app(db_path, TIPS=setup), "rev1")
    _in(client, lang)
    page = _post(client, token, "/tips", channel="web", summary="网友举报内部理财", url="http://10.20.30.40/admin")
    said = _flashes(page)
    assert expected in said
    assert ("refused before connecting" in said) == (lang == "en")  # no English on the Chinese page
    recorded = rows(db_path, "SELECT fetch_outcome, fetch_detail FROM tips")
    assert recorded[0][0] == "refused" and "refused before connecting" in recorded[0][1]  # the record stays English


@BOTH_LANGUAGES
def test_a_campaign_period_that_ends_before_it_starts_is_refused_in_the_readers_language(site, lang):  # noqa: F811
    expected = {"zh": "统计时段 2027-01-10 至 2026-12-31 的结束日期早于开始日期", "en": "ends before it starts"}[lang]
    db_path, _ = site
    with closing(connect(db_path)) as db:
        campaigns.create(db, campaigns.CampaignSpec("冬季专项", date(2026, 11, 16), date(2026, 12, 31)), actor="boss")
    client, _ = logged_in(make_app(db_path), "boss")
    _in(client, lang)
    page = client.get("/dashboard", query_string={"campaign": "冬季专项", "from": "2027-01-10"})
    said = _flashes(page)
    assert expected in said and ("ends before it starts" in said) == (lang == "en")


@pytest.mark.parametrize(
    ("lang", "alone", "in_cluster"),
    [
        ("zh", "该广告已被 rev2 认领", "近似广告组 1 中的广告 2 已由 rev2 认领"),
        ("en", "rev2 holds this ad", "ad 2 of cluster 1 is claimed by rev2"),
    ],
)
def test_deciding_an_ad_another_reviewer_holds_is_refused_in_the_readers_language(site, lang, alone, in_cluster):  # noqa: F811
    db_path, ids = site
    cluster, held = ids["promo0"], ids["promo1"]
    assert (cluster, held) == (1, 2)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE ads SET cluster_id = ? WHERE id IN (?, ?)", [cluster, cluster, held])
    app = make_app(db_path)
    other, other_token = logged_in(app, "rev2")
    _post(other, other_token, f"/ad/{held}/claim")
    client, token = logged_in(app, "rev1")
    _in(client, lang)
    reject = {"reject_reason": "其他", "note": "正常招聘广告"}
    said = _flashes(_post(client, token, f"/cluster/{cluster}/decide", decision="reject", ad=str(held), **reject))
    assert in_cluster in said and ("is claimed by" in said) == (lang == "en")
    said = _flashes(_post(client, token, f"/ad/{held}/reject", reason="其他", note="正常招聘广告"))
    assert alone in said
    assert rows(db_path, "SELECT count(*) FROM decisions") == [(0,)]


@BOTH_LANGUAGES
def test_a_disabled_accounts_login_is_refused_in_the_readers_language(site, lang):  # noqa: F811
    expected = {"zh": "该账号已停用，请联系管理员", "en": "This account is disabled: ask an administrator."}[lang]
    db_path, _ = site
    with closing(connect(db_path)) as db:
        users.disable_user(db, "rev2")
    client = make_app(db_path).test_client()
    _in(client, lang)
    page = login(client, "rev2")
    assert page.status_code == 401 and expected in page.text


@BOTH_LANGUAGES
def test_an_account_that_exists_already_is_refused_in_the_readers_language(site, lang):  # noqa: F811
    expected = {"zh": "用户“rev1”已存在", "en": "user 'rev1' already exists"}[lang]
    db_path, _ = site
    with closing(connect(db_path)) as db:
        users.add_user(db, "chief", "admin", "Cedar-Lantern-7781")
    client = make_app(db_path).test_client()
    assert login(client, "chief", "Cedar-Lantern-7781").status_code == 302
    _in(client, lang)
    token = token_of(client.get("/users").text)
    page = client.post("/users/add", data={"csrf_token": token, "name": "rev1", "role": "reviewer",
                                           "password": "Walnut-Meadow-4417"})  # fmt: skip
    assert page.status_code == 400 and expected in html.unescape(page.text)
