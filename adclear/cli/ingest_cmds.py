"""adclear ingest: the one writer of a distributed crawl (docs/operations.md, distributed crawling)."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType

import click
from redis.exceptions import RedisError

from adclear.cli import Config
from adclear.cli.crawl_cmds import format_result
from adclear.cli.term import echo
from core.errors import RedisUnavailable
from core.fingerprints import recluster
from crawler.extensions import RunResult
from crawler.ingest import IngestWriter
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
@click.pass_obj
def ingest(
    cfg: Config, redis_url: str, batch: int, claim_after: float, until_idle: float | None, verbose: bool
) -> None:
    """Archive, classify and store what the crawler nodes send (adclear crawl --redis): the only writer of the
    database and the WARC files in a distributed crawl. Each batch is acknowledged once committed; entries a
    killed writer left are handled again, and handling one twice changes nothing. A line per finished run."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    seeds = cfg.seeds()
    client = connect(redis_url, retry_seconds=cfg.crawl_overrides().get("ADCLEAR_REDIS_RETRY_SECONDS", 60))
    stopping = _stop_on_signals()
    writer: IngestWriter | None = None
    try:
        options = {"rules_dir": cfg.rules_dir, "batch": batch, "claim_idle": claim_after, "on_run_end": _finished(cfg)}
        writer = IngestWriter(client, cfg.db_path, seeds, **options)
        figures = writer.run(until_idle=until_idle, stop=lambda: bool(stopping))
    except RedisError as e:  # lost for longer than the client's retries: systemd starts the writer again
        raise RedisUnavailable(f"lost Redis at {safe_url(redis_url)} ({e}); unacknowledged entries wait") from None
    finally:
        if writer is not None:
            writer.close()
        client.close()
    assessed = writer.classification  # made before the run: a writer that could not be made raised
    echo(
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


def _finished(cfg: Config) -> Callable[[RunResult], None]:
    """What is done when a run ends: its line, as `adclear crawl` prints it, and its near-duplicates grouped."""

    def finished(result: RunResult) -> None:
        echo(format_result(result))
        if result.figures.get("ads_new") or result.figures.get("ads_changed"):
            counts = recluster(cfg.db())
            echo(f"near-duplicates: {counts['in_clusters']} ads in {counts['clusters']} clusters")

    return finished


COMMANDS = [ingest]
