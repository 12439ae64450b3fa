"""Crawled text on the reviewer's terminal: escape sequences are shown, never sent (issue 14, finding 4)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from adclear.cli import main
from core.db import connect
from tests.webdata import add_ad

# clear the screen, hide text, set the window title, write the clipboard (OSC 52), overwrite the line, reorder it
HOSTILE = {
    "clear": "\x1b[2J\x1b[H",
    "hidden": "\x1b[8m看不见\x1b[0m",
    "title": "\x1b]0;pwned\x07",
    "clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "c1": "\x9b2J",
    "return": "\r",
    "bidi": "\u202e",
}
TITLE = "年化20% 保本保息" + HOSTILE["title"] + HOSTILE["clipboard"]
BODY = "高息理财" + HOSTILE["clear"] + HOSTILE["hidden"] + HOSTILE["c1"] + "保本保息，稳赚不赔" + HOSTILE["return"]
BODY += "加微信 evil2026" + HOSTILE["bidi"] + "千元起投"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


@pytest.fixture
def hostile_db(db_path):
    db = connect(db_path)
    ad_id = add_ad(db, TITLE, BODY, url="http://example.test/x\x1b]52;c;eA==\x07", platform="同城\x1b[2J网")
    db.close()
    return db_path, ad_id


def run(db_path, *args, env=None):
    result = CliRunner().invoke(main, ["--db", str(db_path), *args], env=env or {})
    return result


def assert_visible(output: str) -> None:
    assert not RAW.search(output), repr(output)


def test_show_prints_escape_codes_as_text(hostile_db):
    db_path, ad_id = hostile_db
    result = run(db_path, "show", str(ad_id))
    assert result.exit_code == 0, result.output
    assert_visible(result.output)
    assert "标题: 年化20% 保本保息\\x1b]0;pwned\\x07\\x1b]52;c;cm0gLXJmIH4=\\x07" in result.output
    body = "高息理财\\x1b[2J\\x1b[H\\x1b[8m看不见\\x1b[0m\\x9b2J保本保息，稳赚不赔\\r加微信 evil2026\\u202e千元起投"
    assert body in result.output
    assert "链接: http://example.test/x\\x1b]52;c;eA==\\x07" in result.output


def test_queue_prints_escape_codes_as_text(hostile_db):
    db_path, ad_id = hostile_db
    result = run(db_path, "queue")
    assert result.exit_code == 0, result.output
    assert_visible(result.output)
    assert "\\x1b]0;pwned" in result.output


def test_ledger_show_and_errors_print_escape_codes_as_text(hostile_db):
    from review.users import add_user

    db_path, ad_id = hostile_db
    db = connect(db_path)
    add_user(db, "张三", "reviewer", "Kiwi-Harbor-2041")
    db.close()
    result = run(db_path, "review", "confirm", str(ad_id), "--category", "养老投资", "--reason", "x", "--as", "张三")
    assert result.exit_code == 0, result.output
    result = run(db_path, "ledger", "show")
    assert result.exit_code == 0, result.output
    assert_visible(result.output)
    assert '"url": "http://example.test/x\\u001b]52;c;eA==\\u0007"' in result.output  # JSON's own escape
    # an error message that quotes the user's input quotes it visibly too
    result = run(db_path, "review", "reject", str(ad_id), "--reason", "\x1b]0;x\x07", "--as", "张三")
    assert result.exit_code == 1
    assert not RAW.search(result.output), repr(result.output)


def test_a_crawl_summary_line_shows_a_hostile_reason_as_text():
    from adclear.cli.crawl_cmds import format_result
    from adclear.cli.term import visible

    class Result:
        site, status, run_id = "demo", "failed", 3
        reason = "no page fetched (refused http://evil.test/\x1b]52;c;eA==\x07: connection refused)"
        figures = {"pages": 0, "ads_new": 0, "ads_seen": 0, "ads_changed": 0, "errors": 1}

    line = visible(format_result(Result()))
    assert line.endswith("no page fetched (refused http://evil.test/\\x1b]52;c;eA==\\x07: connection refused)")


def test_newlines_and_tabs_stay_and_everything_else_is_escaped():
    from adclear.cli.term import visible

    assert visible("第一行\n\t第二行") == "第一行\n\t第二行"
    assert visible("\x00\x07\x1b\x7f\x85\u2028\u2066") == "\\x00\\x07\\x1b\\x7f\\x85\\u2028\\u2066"
