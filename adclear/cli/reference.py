"""docs/cli.md: every command and option of ``adclear``, written from the commands themselves.

``make cli-docs`` (``python -m adclear.cli.reference > docs/cli.md``) writes it; tests/test_docs.py fails when
the file is out of date, or when a command or option is missing from the docs.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from adclear.cli import main

__all__ = ["commands", "markdown"]

WIDTH = 100  # the help text is wrapped at this width, whatever the terminal

HEADER = """\
# Command-line reference

Every `adclear` command with its options, as `adclear … --help` prints them. This page is written by
`make cli-docs` from the commands themselves (tests/test_docs.py fails when it is out of date); how the commands
fit together is in the [README](../README.md), the [reviewer guide](reviewing.md) and
[operations](operations.md).
"""


def commands(
    group: click.Group = main, parent: click.Context | None = None
) -> Iterator[tuple[click.Context, click.Command]]:
    """Every command, top level first, each with the context its help is printed in."""
    # the root context as `adclear` makes it (its context_settings: -h as well as --help, for every command)
    settings = {"terminal_width": WIDTH, "max_content_width": WIDTH, **group.context_settings}
    ctx = parent or click.Context(group, info_name="adclear", **settings)
    if parent is None:
        yield ctx, group
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:
            continue
        sub = click.Context(command, info_name=name, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH)
        yield sub, command
        if isinstance(command, click.Group):
            yield from commands(command, sub)


def markdown() -> str:
    parts = [HEADER]
    for ctx, command in commands():
        parts.append(f"\n## {ctx.command_path}\n\n```\n{command.get_help(ctx).rstrip()}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    print(markdown(), end="")
