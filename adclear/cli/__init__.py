"""The ``adclear`` command: parses arguments, calls library functions, prints results.

Errors a user can cause (``AdclearError``) become one line on stderr and exit code 1, never a traceback; so do
SQLite's errors about the database (damaged, read-only, disk full: ``adclear.db.explain``) and the system's about
files. Everything printed goes through ``adclear.cli.term``: crawled text cannot drive the terminal.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import click

from adclear import __version__
from adclear.errors import AdclearError

__all__ = ["ID", "Config", "main"]


@dataclass
class Config:
    db_path: Path
    seeds_path: Path

    def db(self):  # noqa: ANN201 (sqlite_utils.Database, imported lazily)
        from adclear.db import connect

        return connect(self.db_path)

    def seeds(self):  # noqa: ANN201
        from adclear.seeds import load_seeds

        return load_seeds(self.seeds_path)


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}

# Ids as SQLite stores them: 1 … 2⁶³−1 (a larger number is an error message, not an overflow).
ID = click.IntRange(1, 2**63 - 1)


class AdclearGroup(click.Group):
    def invoke(self, ctx: click.Context):  # noqa: ANN201
        from adclear.cli.term import visible

        try:
            return super().invoke(ctx)
        except AdclearError as e:
            raise click.ClickException(visible(e)) from None
        except sqlite3.DatabaseError as e:
            from adclear.db import explain

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
@click.pass_context
def main(ctx: click.Context, db_path: Path, seeds_path: Path) -> None:
    """adclear: find ads promoting illegal fundraising (非法集资), review them, keep the clearance ledger."""
    ctx.obj = Config(db_path=db_path, seeds_path=seeds_path)
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")


def _register() -> None:
    from adclear.cli import crawl_cmds, demo_cmd, doctor_cmd, model_cmds, review_cmds, rules_cmds, web_cmds

    for module in (crawl_cmds, demo_cmd, doctor_cmd, model_cmds, review_cmds, rules_cmds, web_cmds):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
