"""The ``adclear`` command: parses arguments, calls library functions, prints results.

Errors a user can cause (``AdclearError``) become one line on stderr and exit code 1, never a traceback; so do
SQLite's errors about the database (damaged, read-only, disk full: ``core.db.explain``) and the system's about
files. Everything printed goes through ``adclear.cli.term``: crawled text cannot drive the terminal.

Each command lives in a module of this package, which imports what it needs at its top; a command's module
is loaded when the command runs (``COMMAND_MODULES``, click's "lazily loading subcommands"), so that
``adclear queue`` does not start by importing Scrapy and Flask.
"""

from __future__ import annotations

import errno
import importlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import click

from adclear import __version__
from adclear.cli.term import visible
from adclear.config import Config
from core.db import explain
from core.errors import AdclearError

__all__ = ["COMMAND_MODULES", "ID", "Config", "main"]

_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}

# Ids as SQLite stores them: 1 … 2⁶³−1 (a larger number is an error message, not an overflow).
ID = click.IntRange(1, 2**63 - 1)

# The module of each command (every module lists its commands in COMMANDS).
COMMAND_MODULES = {
    "crawl": "crawl_cmds",
    "sites": "crawl_cmds",
    "demo-site": "crawl_cmds",
    "ingest": "ingest_cmds",
    "demo": "demo_cmd",
    "doctor": "doctor_cmd",
    "model": "model_cmds",
    "eval": "model_cmds",
    "classify": "review_cmds",
    "queue": "review_cmds",
    "show": "review_cmds",
    "review": "review_cmds",
    "ledger": "review_cmds",
    "export": "export_cmds",
    "evidence": "review_cmds",
    "recluster": "review_cmds",
    "categories": "review_cmds",
    "rules": "rules_cmds",
    "reclassify": "rules_cmds",
    "recheck": "recheck_cmds",
    "images": "images_cmds",
    "serve": "web_cmds",
    "scheduler": "scheduler_cmds",
    "user": "web_cmds",
    "takedown": "takedown_cmds",
    "dispatch": "dispatch_cmds",
    "tip": "tip_cmds",
    "alerts": "alerts_cmds",
    "report": "report_cmds",
    "campaign": "stats_cmds",
    "stats": "stats_cmds",
    "search": "search_cmds",
    "entity": "search_cmds",
}


def _commands(module: str) -> dict[str, click.Command]:
    loaded: Any = importlib.import_module(f"adclear.cli.{module}")
    return {command.name: command for command in loaded.COMMANDS}


class AdclearGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(self.commands)
        for module in sorted(set(COMMAND_MODULES.values())):
            names.update(_commands(module))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        module = COMMAND_MODULES.get(cmd_name)
        found = _commands(module).get(cmd_name) if module else None
        if found is None:  # a command added to a module but not to COMMAND_MODULES yet
            for other in sorted(set(COMMAND_MODULES.values())):
                found = found or _commands(other).get(cmd_name)
        return found

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AdclearError as e:
            raise click.ClickException(visible(e)) from None
        except sqlite3.DatabaseError as e:
            path = ctx.obj.db_path if isinstance(ctx.obj, Config) else None
            raise click.ClickException(visible(explain(e, path))) from None
        except OSError as e:
            if e.errno not in _DISK_ERRORS:
                raise
            where = f" {e.filename}" if e.filename else ""
            fix = "free space on that disk" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "check its permissions"
            raise click.ClickException(visible(f"cannot write{where}: {e.strerror}; {fix}")) from None


@click.group(cls=AdclearGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="adclear")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ADCLEAR_DB",
    default=Path("data") / "adclear.db",
    show_default=True,
    help="The SQLite database (also $ADCLEAR_DB); WARC files are kept beside it.",
)
@click.option(
    "--seeds",
    "seeds_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ADCLEAR_SEEDS",
    default=Path("seeds.yml"),
    show_default=True,
    help="The sites to crawl (also $ADCLEAR_SEEDS).",
)
@click.option(
    "--receivers",
    "receivers_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ADCLEAR_RECEIVERS",
    default=Path("receivers.yml"),
    show_default=True,
    help="Who receives takedowns, by site, platform or region (also $ADCLEAR_RECEIVERS).",
)
@click.option(
    "--alerts",
    "alerts_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ADCLEAR_ALERTS",
    default=Path("alerts.yml"),
    show_default=True,
    help="Where alerts are sent: webhooks, 企业微信 and 钉钉 robots, e-mail (also $ADCLEAR_ALERTS).",
)
@click.pass_context
def main(ctx: click.Context, db_path: Path, seeds_path: Path, receivers_path: Path, alerts_path: Path) -> None:
    """adclear: find ads promoting illegal fundraising (非法集资), review them, keep the clearance ledger."""
    ctx.obj = Config(db_path=db_path, seeds_path=seeds_path, receivers_path=receivers_path, alerts_path=alerts_path)
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
