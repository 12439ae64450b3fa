"""adclear ingest: the one writer of a distributed crawl (docs/operations.md, distributed crawling)."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import click
from redis.exceptions import RedisError

from adclear.cli import Config
from adclear.cli.crawl_cmds import after_runs, format_result, reading_options, report_pictures
from adclear.cli.term import echo
from core.errors import RedisUnavailable
from core.seeds import Seeds
from core.timeutil import now_utc
from crawler.extensions import RunResult
from crawler.ingest import IngestFigures, IngestWriter
from crawler.reading import PictureReading, ReadingOptions
from crawler.stream import connect, safe_url

__all__ = ["COMMANDS"]


@click.command()
@click.option(
    "--redis",
    "redis_url",
    required=True,
    envvar="ADCLEAR_REDIS",
    help="The Redis the crawler nodes write to, redis://HOST:PORT/DB (also $ADCLEAR_REDIS).",
)
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000), help="Entries per commit.")
@click.option(
    "--claim-after",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds an entry taken by a writer that died stays unacknowledged before it is handled again.",
)
@click.option(
    "--until-idle",
    type=click.FloatRange(0.1),
    default=None,
    help="Stop once the stream stayed empty this many seconds (default: run until Ctrl-C or SIGTERM).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log each batch and every entry moved aside.")
@reading_options("the writer", "the stream stayed empty --until-idle seconds (Ctrl-C and SIGTERM do not wait)")
@click.pass_obj
def ingest(
    cfg: Config,
    redis_url: str,
    batch: int,
    claim_after: float,
    until_idle: float | None,
    verbose: bool,
    **read: Any,
) -> None:
    """Archive, classify and store what the crawler nodes send (adclear crawl --redis): the only writer of a
    distributed crawl. A batch is acknowledged once committed; handling an entry twice changes nothing. Pictures
    are read beside it; each finished run gets its line, health checks and alerts, as after adclear crawl."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    seeds = cfg.seeds()
    client = connect(redis_url, retry_seconds=cfg.crawl_overrides().get("ADCLEAR_REDIS_RETRY_SECONDS", 60))
    stopping = _stop_on_signals()
    writer: IngestWriter | None = None
    reading = ReadingOptions(read["read_workers"], read["read_timeout"], read["read_memory_mb"], read["read_wait"])
    reader = PictureReading(cfg.db_path, reading, rules_dir=cfg.rules_dir, group_seconds=0) if reading.workers else None
    try:
        options = {"rules_dir": cfg.rules_dir, "batch": batch, "claim_idle": claim_after, "reading": reader}
        writer = IngestWriter(client, cfg.db_path, seeds, on_run_end=_finished(cfg, seeds), **options)
        writer.settle()
        figures = writer.run(until_idle=until_idle, stop=lambda: bool(stopping))
    except RedisError as e:  # lost for longer than the client's retries: systemd starts the writer again
        raise RedisUnavailable(f"lost Redis at {safe_url(redis_url)} ({e}); unacknowledged entries wait") from None
    finally:
        # the reading wrote between batches, in its own transactions
        report = reader.finish(0 if stopping else None) if reader is not None else None
        if writer is not None:
            writer.close()
        client.close()
    echo(_summary(writer, figures))  # the writer was made before the run: one that could not be made raised
    if figures.runs_finished or report is not None and report.pictures:
        report_pictures(cfg, figures.runs_finished, report, reading)


def _summary(writer: IngestWriter, figures: IngestFigures) -> str:
    assessed = writer.classification
    return (
        f"ingest: {figures.entries} entries in {figures.batches} batches: {figures.pages} pages, {figures.ads} ads, "
        f"{figures.errors} errors, {figures.repeats} handled before, {figures.malformed} moved aside; verdicts: "
        f"{assessed.concluded} from the nodes' assessments, {assessed.classified} classified here"
    )


def _stop_on_signals() -> list[int]:
    """Ctrl-C and SIGTERM noted in the list returned: the writer stops after the batch in hand."""
    stopping: list[int] = []

    def stop(number: int, frame: FrameType | None) -> None:
        stopping.append(number)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, stop)
    return stopping


def _finished(cfg: Config, seeds: Seeds) -> Callable[[RunResult], None]:
    """What is done when a run ends, as after `adclear crawl`: its line, its near-duplicates grouped, the ads
    that reappeared since it started, its health checks and alerts (``adclear.cli.crawl_cmds.after_runs``)."""

    def finished(result: RunResult) -> None:
        echo(format_result(result))
        row = cfg.db().execute("SELECT started_at FROM crawl_runs WHERE id = ?", [result.run_id]).fetchone()
        after_runs(cfg, seeds, [result], row[0] if row else now_utc())

    return finished


COMMANDS = [ingest]
