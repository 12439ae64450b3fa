"""A run's health (core.runhealth): each check on runs written as a crawl writes them, the minimum learnt from the
site's healthy runs, the checks recorded beside the run."""

from __future__ import annotations

import pytest

from core.runhealth import check_run, expected_items
from core.seeds import HealthOptions, Site

AT = "2026-12-03T01:00:00+00:00"


def site(**health) -> Site:
    return Site.model_validate(
        {
            "name": "demo-classifieds",
            "platform": "示范同城网",
            "kind": "classifieds",
            "start_urls": ["http://127.0.0.1:8731/classifieds/"],
            "allowed_domains": ["127.0.0.1"],
            "list": {"items": "a"},
            "detail": {"title": "h1", "body": "div"},
            "health": health,
        }
    )


def run(
    db,
    *,
    ads: int,
    pages: int = 20,
    errors: int = 0,
    status: str = "ok",
    reason: str = "finished",
    spider="classifieds",
) -> int:
    db.execute(
        "INSERT OR IGNORE INTO sites (name, platform, kind, config, updated_at) "
        "VALUES ('demo-classifieds', 'p', 'classifieds', '{}', ?)",
        [AT],
    )
    cur = db.execute(
        "INSERT INTO crawl_runs (site, spider, started_at, finished_at, status, reason, pages, ads_new, errors) "
        "VALUES ('demo-classifieds', ?, ?, ?, ?, ?, ?, ?, ?)",
        [spider, AT, AT, status, reason, pages, ads, errors],
    )
    db.conn.commit()
    return cur.lastrowid


def names(problems) -> list[str]:
    return sorted(p.name for p in problems)


def test_a_healthy_run_passes_every_check_and_is_marked(db):
    run_id = run(db, ads=40)
    assert check_run(db, run_id, site()) == []
    assert db.execute("SELECT health FROM crawl_runs WHERE id = ?", [run_id]).fetchone() == ("ok",)
    rows = db.execute("SELECT name, ok FROM run_health WHERE run_id = ? ORDER BY name", [run_id]).fetchall()
    assert rows == [("browser", 1), ("error_rate", 1), ("finished", 1), ("items", 1), ("layout", 1)]


def test_the_minimum_is_learnt_from_the_median_of_healthy_runs(db):
    for ads in (40, 44, 10, 42):  # median 41
        check_run(db, run(db, ads=ads), site())
    assert expected_items(HealthOptions(), [42, 10, 44, 40]) == (20, "0.5 × median 41 of the last 4 healthy runs")
    low = run(db, ads=15)
    (problem,) = check_run(db, low, site())
    assert problem.name == "items" and problem.threshold == 20 and problem.value == 15
    assert "expected at least 20" in problem.message
    assert db.execute("SELECT health FROM crawl_runs WHERE id = ?", [low]).fetchone() == ("unhealthy",)
    # the unhealthy run does not lower the bar for the next one
    (again,) = check_run(db, run(db, ads=15), site())
    assert again.threshold == 20


def test_re_checks_and_tip_fetches_of_the_site_are_not_its_history(db):
    """A re-check or a tip fetch sees a handful of ads: counted in the site's history, they pulled the bar down."""
    for ads in (40, 44, 42):
        check_run(db, run(db, ads=ads), site())
    for spider in ("recheck", "tip", "recheck"):
        run(db, ads=1, pages=1, spider=spider)
    (problem,) = check_run(db, run(db, ads=15), site())
    assert problem.name == "items" and problem.threshold == 21  # 0.5 × median 42 of the crawls alone


def test_without_enough_history_the_minimum_is_not_guessed(db):
    run_id = run(db, ads=0)
    assert check_run(db, run_id, site()) == []  # a new site that yields nothing: nothing to compare with yet
    message = db.execute("SELECT message FROM run_health WHERE run_id = ? AND name = 'items'", [run_id]).fetchone()
    assert "not learnt yet (0 of 3 healthy runs)" in message[0]


def test_a_minimum_written_in_seeds_yml_wins(db):
    (problem,) = check_run(db, run(db, ads=5), site(min_items=10))
    assert problem.name == "items" and "health.min_items in seeds.yml" in problem.message


def test_pages_without_ads_where_there_were_some_is_a_changed_layout(db):
    check_run(db, run(db, ads=30), site())
    problems = check_run(db, run(db, ads=0, pages=12), site())
    assert names(problems) == ["layout"]
    assert problems[0].severity == "critical"
    assert "12 pages fetched but no ad read, where the last healthy run read 30" in problems[0].message


def test_errors_above_the_health_threshold(db):
    problems = check_run(db, run(db, ads=30, pages=60, errors=40), site(error_rate=0.3))
    assert names(problems) == ["error_rate"]
    assert problems[0].value == pytest.approx(0.4)


FAILED = "no page fetched (refused http://127.0.0.1:8731/classifieds/: connection refused: is the site down?)"


@pytest.mark.parametrize(
    ("status", "reason", "zh"),
    [
        (
            "failed",
            FAILED,
            "运行失败：未抓到任何页面（连接被拒绝 http://127.0.0.1:8731/classifieds/：连接被拒绝：网站是否已关闭？）",
        ),
        ("interrupted", "shutdown", "运行中断：已停止，下次运行从断点继续"),
        ("failed", "a reason nobody wrote down before", "运行失败：a reason nobody wrote down before"),
    ],
)
def test_a_run_that_did_not_finish(db, status, reason, zh):
    """Its reason in English for the command line, in Chinese for the alert where core.reasons knows it."""
    (problem,) = check_run(db, run(db, ads=0, pages=0, status=status, reason=reason), site())
    assert problem.name == "finished" and f"the run {status}: {reason}" == problem.message
    assert problem.zh == zh
    assert problem.severity == ("critical" if status == "failed" else "warning")


def test_a_browser_that_did_not_start(db):
    run_id = run(db, ads=0, pages=0, status="failed", reason="no page fetched (browser …)")
    db.execute(
        "INSERT INTO crawl_errors (run_id, at, url, kind, message) VALUES (?, ?, 'http://x/', 'browser', ?)",
        [run_id, AT, "the browser could not start (/bin/false): BrowserType.launch: …"],
    )
    db.conn.commit()
    assert names(check_run(db, run_id, site())) == ["browser", "finished"]


def test_a_running_run_is_not_checked(db):
    run_id = run(db, ads=0, status="running", reason="")
    assert check_run(db, run_id, site()) == []
    assert db.execute("SELECT health FROM crawl_runs WHERE id = ?", [run_id]).fetchone() == (None,)
