"""adclear crawl, adclear sites, adclear demo-site."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import click

from adclear.cli import ID, Config
from adclear.cli.term import echo, fit
from adclear.crawl import log_file_for, run_crawl
from adclear.monitor import after_crawl
from adclear.recheck import record_reappearances
from core.adimages import unread_pictures
from core.classifiers import load_classifier
from core.db import explain
from core.errors import AdclearError, CrawlFailed
from core.fingerprints import recluster
from core.seeds import Seeds
from core.sites import site_overview
from core.timeutil import local, now_utc
from crawler.extensions import RunResult
from crawler.reading import PictureReading, ReadingOptions, ReadingReport
from crawler.stream import connect
from demo.server import serve

__all__ = ["COMMANDS", "after_runs", "format_reading", "format_result", "reading_options", "report_pictures",
           "run_and_report"]  # fmt: skip


def format_result(result: RunResult) -> str:
    f = result.figures
    if not f:
        return f"{result.site}: {result.status}: {result.reason}"
    ads = f["ads_new"] + f["ads_seen"] + f["ads_changed"]
    line = (
        f"{result.site}: {result.status} (run {result.run_id}): {f['pages']} pages fetched, {ads} ads "
        f"({f['ads_new']} new, {f['ads_seen']} seen again, {f['ads_changed']} changed), {f['errors']} errors"
    )
    if result.status != "ok":
        line += f": {result.reason}"
    return line


DEFAULT_READING = ReadingOptions()


def format_reading(report: ReadingReport | None, unread: dict[str, int], options: ReadingOptions) -> str:
    """The summary line of the pictures: what was read beside the crawl, and what is left for later."""
    left = [f"{unread[k]} {k}{'s' if unread[k] != 1 else ''}" for k in ("image", "screenshot") if unread.get(k)]
    rest = f"{' and '.join(left)} left for `adclear images read`" if left else "none left for `adclear images read`"
    if report is None:
        return f"pictures: not read during the crawl (--read-workers 0); {rest}"
    line = (
        f"pictures: {report.pictures} read beside the crawl ({report.ok} ok, {report.skipped} skipped, "
        f"{report.error} errors"
    )
    if report.known:
        line += f"; {report.known} read before, not again"
    line += f"), {report.ads} ads classified again, {report.contacts} contacts from QR codes"
    if report.pictures:
        memory = f"peak memory {report.peak_memory_mb:.0f} MB"
        line += f"; read on {report.waited:g} s after the crawl, {_workers(options)} {memory}"
    line += f"; {rest}"
    if report.cut_short:
        line += f" (not read within --read-wait {options.wait:g} s)"
    elif unread.get("screenshot") and not unread.get("image"):
        line += " (seeds.yml images.read_screenshots is off)"
    return line


def _workers(options: ReadingOptions) -> str:
    return "one worker," if options.workers == 1 else f"{options.workers} workers, the largest"


def reading_options(beside: str, after: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The --read-* options of a command that reads pictures beside ``beside`` for at most --read-wait seconds
    after ``after``; the command gets read_workers, read_wait, read_timeout and read_memory_mb."""
    options = [
        click.option(
            "--read-workers",
            default=1,
            show_default=True,
            type=click.IntRange(0, 16),
            help=f"Processes reading pictures beside {beside} (0: leave them all for `adclear images read`).",
        ),
        click.option(
            "--read-wait",
            default=30.0,
            show_default=True,
            type=click.FloatRange(0),
            help=f"Seconds the reading may go on after {after}; what is not read by then is left for `images read`.",
        ),
        click.option(
            "--read-timeout", default=30.0, show_default=True, type=click.FloatRange(0.1), help="Seconds per picture."
        ),
        click.option(
            "--read-memory-mb", default=3000, show_default=True, type=ID, help="Address-space limit of each worker."
        ),
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def run_and_report(
    cfg: Config,
    names: tuple[str, ...],
    *,
    verbose: bool = False,
    reading: ReadingOptions = DEFAULT_READING,
    redis_url: str | None = None,
) -> list[RunResult]:
    seeds = cfg.seeds()
    load_classifier(cfg.rules_dir)  # a broken rule pack stops us here, before any fetch
    cfg.alerts()  # so does a broken alerts.yml: the runs' alerts could not be sent
    sites = seeds.select(names)
    if not sites:
        raise CrawlFailed(f"no enabled site in {cfg.seeds_path}: enable one or name it")
    if redis_url:
        connect(redis_url).close()  # unreachable: one line and exit 1 before any crawl starts
    log_file = None if verbose else log_file_for(cfg.db_path)
    started = now_utc()
    # a node writes nothing here: its pictures go to the ingest writer with its pages, and are read there
    reading_here = reading.workers > 0 and not redis_url
    reader = PictureReading(cfg.db_path, reading, rules_dir=cfg.rules_dir) if reading_here else None
    report = None
    try:
        results = run_crawl(
            seeds,
            sites,
            db_path=cfg.db_path,
            seeds_path=cfg.seeds_path,
            log_file=log_file,
            rules_dir=cfg.rules_dir,
            overrides=cfg.crawl_overrides(),
            redis_url=redis_url,
        )
        for result in results:  # said before the pictures are waited for
            echo(format_result(result))
        if log_file is not None:
            echo(f"Scrapy's log: {log_file}")
        if reader is not None:  # a crawl stopped by Ctrl-C does not wait for its pictures
            report = reader.finish(0 if any(r.status == "interrupted" for r in results) else reading.wait)
    finally:
        if reader is not None:
            reader.close()
    if redis_url:
        return results  # a node: the ingest writer stores, clusters and checks the runs
    report_pictures(cfg, results, report, reading)
    after_runs(cfg, seeds, results, started)
    return results


def report_pictures(
    cfg: Config, results: list[RunResult], report: ReadingReport | None, reading: ReadingOptions
) -> None:
    try:
        unread = unread_pictures(cfg.db(), [r.run_id for r in results if r.run_id is not None])
    except (AdclearError, sqlite3.Error):  # a database the runs could not write: their lines said why
        unread = {}
    if (report is not None and (report.pictures or report.known)) or unread:
        echo(format_reading(report, unread, reading))


def after_runs(cfg: Config, seeds: Seeds, results: list[RunResult], started: str) -> None:
    """Near-duplicates, reappearances (of ads seen since ``started``), health checks and alerts, each said in a
    line: after a local crawl, and after each run the ingest writer of a distributed crawl finishes."""
    reappeared = []
    if any(r.figures.get("ads_new") or r.figures.get("ads_changed") for r in results):
        counts = recluster(cfg.db())
        echo(f"near-duplicates: {counts['in_clusters']} ads in {counts['clusters']} clusters")
        reappeared = record_reappearances(cfg.db(), since=started, settings=cfg.review_settings())
        for r in reappeared:
            echo(
                f"再现 reappeared: ad {r.new_ad_id} is a near-duplicate of ad {r.original_ad_id} "
                f"(takedown {r.takedown_id}); queued first"
            )
    try:
        lines = after_crawl(cfg, seeds, results, reappeared)  # health checks, alerts, their delivery
    except (AdclearError, sqlite3.Error) as e:  # a full disk: the runs' own outcome above still stands
        why = explain(e, cfg.db_path) if isinstance(e, sqlite3.Error) else e
        lines = [f"health checks or alerts failed: {why}"]
    for line in lines:
        echo(line)


@click.command()
@click.argument("sites", nargs=-1)
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log here instead of in a file under logs/.")
@click.option(
    "--redis",
    "redis_url",
    envvar="ADCLEAR_REDIS",
    default=None,
    help="Crawl as a node of a distributed crawl through this Redis, redis://HOST:PORT/DB (also $ADCLEAR_REDIS): "
    "the frontier is shared, pages and ads go to `adclear ingest`, nothing is written here.",
)
@reading_options("the crawl", "the crawl")
@click.pass_obj
def crawl(
    cfg: Config,
    sites: tuple[str, ...],
    verbose: bool,
    read_workers: int,
    read_wait: float,
    read_timeout: float,
    read_memory_mb: int,
    redis_url: str | None,
) -> None:
    """Crawl the sites of seeds.yml (all enabled sites by default); a summary line per site.

    The text and QR codes in the ads' pictures are read beside the crawl (seeds.yml images.read, on by default;
    screenshots with images.read_screenshots), in --read-workers processes, and the ads classified again; a
    last line says how many pictures were read and how many are left for `adclear images read`.

    Exits 1 when a site's run failed (nothing fetched) or was interrupted.
    """
    logging.raiseExceptions = False  # a log file on a full disk: the summary says so, not a traceback per line
    reading = ReadingOptions(read_workers, read_timeout, read_memory_mb, read_wait)
    results = run_and_report(cfg, sites, verbose=verbose, reading=reading, redis_url=redis_url)
    bad = [r for r in results if r.status != "ok"]
    if bad:
        raise CrawlFailed(
            f"{len(bad)} of {len(results)} site(s) did not crawl: " + ", ".join(f"{r.site} ({r.status})" for r in bad)
        )


@click.command()
@click.pass_obj
def sites(cfg: Config) -> None:
    """The configured sites, their last run and its figures."""
    seeds = cfg.seeds()
    rows = site_overview(cfg.db(), seeds)
    header = (
        f"{'site':<22} {'kind':<12} {'platform':<14} {'last run':<17} {'status':<12} {'pages':>6} "
        f"{'new':>5} {'seen':>5} {'errors':>6}"
    )
    echo(header)
    for row in rows:
        run = row["last_run"]
        if run is None:
            tail = f"{'never':<17} {'':<12}"
            figures = ""
        else:
            tail = f"{local(run['started_at']):<17} {run['status']:<12}"
            figures = f" {run['pages']:>6} {run['ads_new']:>5} {run['ads_seen']:>5} {run['errors']:>6}"
        enabled = "" if row["enabled"] else " (disabled)"
        echo(f"{row['name']:<22} {row['kind']:<12} {fit(row['platform'], 14)} {tail}{figures}{enabled}")


@click.command("demo-site")
@click.option("--port", default=8731, show_default=True, help="Port on 127.0.0.1.")
def demo_site(port: int) -> None:
    """Serve the bundled demo sites on loopback until Ctrl-C."""
    echo(f"Serving the demo sites at http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    try:
        serve(port)
    except OSError as e:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {e.strerror}; try --port") from None
    except KeyboardInterrupt:
        pass


COMMANDS = [crawl, sites, demo_site]
