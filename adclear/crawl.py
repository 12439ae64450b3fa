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
) -> Settings:
    """crawler/settings.py, with what the command line says: the database, seeds.yml, the rule packs, the log,
    and the crawler settings the environment gives (``adclear.config.crawl_overrides``)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="project")
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


def run_crawl(
    seeds: Seeds,
    sites: list[Site],
    *,
    db_path: Path,
    seeds_path: Path,
    log_file: Path | None,
    rules_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[RunResult]:
    """Crawl ``sites``; returns one ``RunResult`` per site, in order. ``log_file=None`` logs to stderr."""
    subreaper = become_subreaper()  # Chromium's orphans come back to this process, which reaps them below
    settings = crawl_settings(db_path, seeds_path, log_file=log_file, rules_dir=rules_dir, overrides=overrides)
    process = CrawlerProcess(settings)
    crawlers = []
    for site in sites:
        crawler = process.create_crawler(spider_class(site, seeds.operator))
        process.crawl(crawler)
        crawlers.append((site, crawler))
    with own_signal_handlers():
        process.start()
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
