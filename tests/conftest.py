"""Shared fixtures: a temporary database, the demo sites on a free loopback port, adclear as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ADCLEAR = [sys.executable, "-m", "adclear"]
# `adclear crawl` options for a test whose checks do not depend on the ads' pictures: they are left for
# `adclear images read`. Reading them beside the crawl (a spawned OCR worker) adds 6-8 s to every crawl of the
# demo classifieds; test_reading, test_crawl_demo, test_review_path, test_contacts and test_images read them.
NO_READING = ("--read-workers", "0")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "adclear.db"


@pytest.fixture
def db(db_path: Path):
    from core.db import connect

    database = connect(db_path)
    yield database
    database.close()


def _serving():
    from demo.server import start

    server = start(0)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def demo_server():
    """The demo sites served on a free port of 127.0.0.1 for the whole session."""
    yield from _serving()


@pytest.fixture(scope="module")
def own_demo_server():
    """The demo sites on a free port for one module that changes them (takes ads down, reposts them)."""
    yield from _serving()


@pytest.fixture(scope="session")
def demo_site(demo_server) -> Iterator[str]:
    """The base URL of the demo sites."""
    return demo_server.base_url


def seeds_for(base_url: str, target: Path, source: Path = REPO / "seeds.yml") -> Path:
    """The repository's seeds.yml, pointed at the demo sites on ``base_url``."""
    text = source.read_text(encoding="utf-8").replace("http://127.0.0.1:8731", base_url)
    target.write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def demo_seeds(demo_site: str, tmp_path: Path) -> Path:
    return seeds_for(demo_site, tmp_path / "seeds.yml")


def run_adclear(
    *args: str | os.PathLike,
    db: Path | None = None,
    seeds: Path | None = None,
    timeout: float = 300,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``adclear ARGS`` in a fresh process (Twisted's reactor cannot restart inside pytest)."""
    cmd = [*ADCLEAR]
    if db is not None:
        cmd += ["--db", str(db)]
    if seeds is not None:
        cmd += ["--seeds", str(seeds)]
    cmd += [str(a) for a in args]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("ADCLEAR_DB", None)
    env.pop("ADCLEAR_SEEDS", None)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    if check and result.returncode != 0:
        raise AssertionError(
            f"adclear {' '.join(map(str, args))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture
def adclear():
    return run_adclear


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the real evaluation data is not here ({SHARED_DATA}); it lives outside the repository")
    return SHARED_DATA


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, launched as the crawler launches it (crawler.browser), driven by Playwright's sync API
    (module scope: the sync API holds an event loop while it runs)."""
    from playwright.sync_api import sync_playwright

    from crawler.browser import DEFAULT_CHROMIUM, launch_options

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(**launch_options(os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM)))
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """Debian's redis-server on a free loopback port for the session (tests/redisserver.py); skipped, with the
    reason, where it is not installed."""
    from tests.redisserver import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's Redis, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
