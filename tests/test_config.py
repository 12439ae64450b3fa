# ruff: noqa: F811 (pytest fixtures imported from tests.test_web are arguments here)
"""One way to configure: the command line reads the environment (adclear/config.py) and hands what it read to
the library (Scrapy settings, ReviewSettings, app.config); magic numbers come from one place."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from adclear.cli import main
from adclear.config import crawl_overrides, review_settings
from adclear.crawl import crawl_settings
from classifier.rules import DEFAULT_RULES_DIR
from core.db import connect
from core.errors import AdclearError
from review.queue import BANDS, items, score_bands
from review.settings import ReviewSettings
from review.web import create_app
from tests.test_web import login, site, template  # noqa: F401

REPO = Path(__file__).resolve().parents[1]


def test_the_crawlers_settings_come_from_the_environment_checked():
    env = {"ADCLEAR_BROWSER_PAGES": " 6 ", "ADCLEAR_CHROMIUM_ARGS": "--a  --b", "ADCLEAR_CHROMIUM": "/opt/c"}
    assert crawl_overrides(env) == {
        "ADCLEAR_BROWSER_PAGES": 6,
        "ADCLEAR_CHROMIUM_ARGS": ["--a", "--b"],
        "ADCLEAR_CHROMIUM": "/opt/c",
    }
    assert crawl_overrides({"ADCLEAR_DB": "x", "HOME": "/root"}) == {}
    with pytest.raises(AdclearError) as e:
        crawl_overrides({"ADCLEAR_BROWSER_MEMORY_MB": "2GB"})
    assert str(e.value) == "$ADCLEAR_BROWSER_MEMORY_MB must be a whole number, not '2GB': fix or unset it"


def test_the_crawl_settings_carry_what_the_command_line_read(tmp_path):
    plain = crawl_settings(tmp_path / "a.db", tmp_path / "s.yml", log_file=None)
    assert plain.getint("ADCLEAR_BROWSER_PAGES") == 4 and plain["ADCLEAR_RULES"] == ""
    assert plain["ADCLEAR_DB"] == str(tmp_path / "a.db")
    given = crawl_settings(
        tmp_path / "a.db",
        tmp_path / "s.yml",
        log_file=None,
        rules_dir=tmp_path / "rules",
        overrides={"ADCLEAR_BROWSER_PAGES": 6, "ADCLEAR_RESOLVER": "demo.hostile.ssrf.resolve"},
    )
    assert given.getint("ADCLEAR_BROWSER_PAGES") == 6
    assert given["ADCLEAR_RESOLVER"] == "demo.hostile.ssrf.resolve"
    assert given["ADCLEAR_RULES"] == str(tmp_path / "rules")


def test_a_bad_number_stops_adclear_crawl_before_anything_is_fetched(tmp_path, monkeypatch):
    monkeypatch.setenv("ADCLEAR_BROWSER_PAGES", "four")
    db = tmp_path / "data" / "adclear.db"
    result = CliRunner().invoke(main, ["--db", str(db), "--seeds", str(REPO / "seeds.yml"), "crawl"])
    assert result.exit_code == 1
    assert result.output == "Error: $ADCLEAR_BROWSER_PAGES must be a whole number, not 'four': fix or unset it\n"
    assert not db.exists()


def test_review_settings_come_from_the_environment_and_an_option_wins():
    found = review_settings({"ADCLEAR_RULES": "/packs", "ADCLEAR_ANCHOR_URL": " https://anchor.example/h "})
    assert found == ReviewSettings(rules_dir=Path("/packs"), anchor_url="https://anchor.example/h")
    assert review_settings({"ADCLEAR_RULES": "/packs"}, Path("/given")).rules_dir == Path("/given")
    assert review_settings({}) == ReviewSettings()


def test_the_queues_score_bands_come_from_the_rule_pack(site, tmp_path):
    db_path, _ = site
    assert create_app(db_path).config["SCORE_BANDS"] == BANDS == score_bands({"high": 8.0, "mid": 5.0})
    pack = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, pack)
    with (pack / "_scoring.yml").open("a", encoding="utf-8") as f:
        f.write("\nqueue_bands: {high: 6, mid: 4}\n")
    app = create_app(db_path, REVIEW=ReviewSettings(rules_dir=pack))
    assert app.config["SCORE_BANDS"]["high"] == (1006.0, float("inf"))
    assert app.config["SCORE_BANDS"]["mid"] == (1004.0, 1006.0)
    client = app.test_client()
    login(client, "rev1")
    shown = client.get("/queue?band=high").get_data(as_text=True)
    db = connect(db_path)
    scores = {i["ad_id"]: i["score"] for i in items(db)}
    assert any(6 <= s < 8 for s in scores.values())  # ads that only the pack's bands put in "high"
    for ad_id, score in scores.items():
        assert (f'data-ad="{ad_id}"' in shown) == (score >= 6), (ad_id, score)


def test_exported_evidence_never_reads_outside_the_data_directory(site, tmp_path):
    """The export checks where a WARC file is before opening it, as the web app's reader always did."""
    db_path, ids = site
    outside = tmp_path / "outside.warc.gz"
    outside.write_bytes(b"not evidence")
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE evidence SET warc_file = ? WHERE ad_id = ?", ["../../outside.warc.gz", ids["promo1"]])
    out = tmp_path / "ev"
    result = CliRunner().invoke(main, ["--db", str(db_path), "evidence", str(ids["promo1"]), "--out", str(out)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: ad {ids['promo1']}'s page points outside the data directory: ../../outside.warc.gz\n"
    )
    assert not any(out.iterdir())
