"""Every command says what it does (docs/ rely on it)."""

from __future__ import annotations

import click
from click.testing import CliRunner

from adclear.cli import main


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    """Every command and subcommand, as (path, command): the top level's are loaded on demand."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help_text():
    commands = list(all_commands(main))
    assert {"crawl", "sites", "demo-site", "demo"} <= {path[0] for path, _ in commands}
    for path, command in commands:
        assert command.help and len(command.help.strip()) > 15, path
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        first_line = " ".join(command.help.strip().splitlines()[0].split())
        assert first_line in " ".join(result.output.split())
