"""Run crawls in this process: one Scrapy crawler per site, all in one reactor, results read back after.

Twisted's reactor cannot restart in a process: call ``run_crawl`` once per process. Tests and the scheduler run
``adclear crawl`` as a subprocess.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from core.seeds import Seeds, Site
from crawler.extensions import RunRecorder, RunResult
from crawler.node import node_settings
from crawler.reaper import become_subreaper, own_processes, reap_children
from crawler.spiderloader import spider_class

__all__ = ["crawl_settings", "log_file_for", "run_crawl"]


def crawl_settings(
    db_path: Path,
    seeds_path: Path,
    *,
    log_file: Path | None,
    rules_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    redis_url: str | None = None,
) -> Settings:
    """crawler/settings.py, with what the command line says: the database, seeds.yml, the rule packs, the log,
    and the crawler settings the environment gives (``adclear.config.crawl_overrides``)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="project")
    if redis_url:  # a crawler node of a distributed crawl (crawler/node.py, crawler/frontier.py)
        for name, value in node_settings(redis_url, settings).items():
            settings.set(name, value, priority="cmdline")
    settings.set("ADCLEAR_DB", str(db_path), priority="cmdline")
    settings.set("ADCLEAR_SEEDS", str(seeds_path), priority="cmdline")
    if rules_dir is not None:
        settings.set("ADCLEAR_RULES", str(rules_dir), priority="cmdline")
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        settings.set("LOG_FILE", str(log_file), priority="cmdline")
    return settings


def log_file_for(db_path: Path) -> Path:
    """Where a crawl's Scrapy log goes: ``logs/crawl-<UTC time>.log`` beside the database."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return db_path.parent / "logs" / f"crawl-{stamp}.log"


@contextmanager
def own_signal_handlers() -> Iterator[None]:
    """Give SIGINT and SIGTERM back to their handlers once the crawl has ended.

    Scrapy installs its own (the first Ctrl-C stops the crawl gracefully, the second at once) and leaves them
    installed after the reactor has stopped: a command that goes on after a crawl (``adclear demo`` serving the
    web app) then ignored Ctrl-C for good.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread has signal handlers, and Scrapy installs none elsewhere
        return
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


@contextmanager
def signals_noted() -> Iterator[list[int]]:
    """SIGINT and SIGTERM noted, not raised, until Scrapy installs its own handlers.

    Scrapy starts each crawler's setup in ``CrawlerProcess.crawl`` and installs its handlers only once its
    reactor runs; Python's Ctrl-C (a KeyboardInterrupt raised wherever the main thread is) would land inside a
    crawler's setup in between, fail that site as "did not start" and let the others crawl on. Noted instead,
    the caller stops before crawling (``run_crawl`` raises KeyboardInterrupt once setup is done).
    """
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda signum, _frame: noted.append(signum))
    yield noted


def run_crawl(
    seeds: Seeds,
    sites: list[Site],
    *,
    db_path: Path,
    seeds_path: Path,
    log_file: Path | None,
    rules_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    redis_url: str | None = None,
) -> list[RunResult]:
    """Crawl ``sites``; returns one ``RunResult`` per site, in order. ``log_file=None`` logs to stderr.
    ``redis_url``: as a node of a distributed crawl, through that Redis (nothing written here)."""
    subreaper = become_subreaper()  # Chromium's orphans come back to this process, which reaps them below
    settings = crawl_settings(
        db_path, seeds_path, log_file=log_file, rules_dir=rules_dir, overrides=overrides, redis_url=redis_url
    )
    process = CrawlerProcess(settings)
    crawlers = []
    with own_signal_handlers(), signals_noted() as noted:
        for site in sites:
            crawler = process.create_crawler(spider_class(site, seeds.operator))
            process.crawl(crawler)  # starts the crawler's setup: a KeyboardInterrupt here would fail it silently
            crawlers.append((site, crawler))
        if noted:
            raise KeyboardInterrupt  # stopped before anything was crawled: as a Ctrl-C to the caller
        process.start()  # Scrapy installs its own handlers once its reactor runs (they replace these)
        if noted:  # a signal in the moment before they were in place: the crawl went on; honour it now
            raise KeyboardInterrupt
    if subreaper:
        reap_children(keep=own_processes())  # the workers reading pictures beside the crawl read on
    results = []
    for site, crawler in crawlers:
        recorder = crawler.get_extension(RunRecorder) if crawler.extensions else None
        result = recorder.result if recorder is not None and recorder.result else None
        if result is None:
            reason = (
                recorder.setup_error if recorder is not None and recorder.setup_error else "the crawl did not start"
            )
            result = RunResult(site=site.name, status="failed", reason=reason)
        results.append(result)
    return results
