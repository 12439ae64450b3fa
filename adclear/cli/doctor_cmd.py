"""adclear doctor: one verdict per check of the database, its ledger, its evidence and its disk."""

from __future__ import annotations

import click

from adclear.cli import Config
from adclear.cli.term import echo
from core.errors import AdclearError
from review.health import check_all

__all__ = ["COMMANDS"]


@click.command()
@click.option("--sample", default=20, show_default=True, type=click.IntRange(0, 100_000), help="Evidence to re-hash.")
@click.pass_obj
def doctor(cfg: Config, sample: int) -> None:
    """Check the database (PRAGMA integrity_check, schema), the ledger against its anchor, a sample of evidence
    against its SHA-256, and the free disk space; one line each. Exits 1 when a check failed. Writes nothing."""
    if not cfg.db_path.is_file():
        raise AdclearError(f"no database at {cfg.db_path}: give its path with --db (or $ADCLEAR_DB)")
    verdicts = check_all(cfg.db_path, sample=sample)
    for verdict in verdicts:
        echo(verdict.line())
    failed = [v.check for v in verdicts if v.status == "failed"]
    if failed:
        raise AdclearError(f"{len(failed)} check(s) failed: {', '.join(failed)}")


COMMANDS = [doctor]
