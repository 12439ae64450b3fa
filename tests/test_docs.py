"""The docs say what the command line does (as sqlite-utils' test_docs.py keeps its own): docs/cli.md is what
the commands print today, every command and option is in it, and every command is also named in the prose
(README.md, docs/*.md) where a reader meets it."""

from __future__ import annotations

import re

import click
import pytest

from adclear.cli.reference import commands, markdown
from tests.conftest import REPO

REFERENCE = REPO / "docs" / "cli.md"
PROSE = "\n".join(
    p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))] if p != REFERENCE
)
COMMANDS = [(tuple(ctx.command_path.split()[1:]), command) for ctx, command in commands()][1:]


def test_the_reference_is_what_the_commands_print():
    assert REFERENCE.read_text(encoding="utf-8") == markdown(), "docs/cli.md is out of date: run `make cli-docs`"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_option_is_in_the_reference(path, command):
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split(f"\n## adclear {' '.join(path)}\n", 1)
    assert len(section) == 2, f"no section for adclear {' '.join(path)} in docs/cli.md"
    body = section[1].split("\n## ", 1)[0]
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", body), f"{opt} of {path}"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_is_named_in_the_prose(path):
    """``adclear review confirm`` counts, and so does ``adclear review confirm|reject`` or ``adclear rules
    lint|test|stats``: the words of the path, in order, on one line after ``adclear``."""
    words = r"\b.*?\b".join(re.escape(w) for w in path)
    assert re.search(rf"adclear\s+{words}\b", PROSE), f"adclear {' '.join(path)} is named nowhere in README/docs"


def test_the_reference_is_not_empty():
    assert len(COMMANDS) > 20 and "## adclear review confirm" in REFERENCE.read_text(encoding="utf-8")


def test_the_readme_gives_the_demo_logins_the_demo_makes():
    from review.users import DEMO_USERS

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, _role, password in DEMO_USERS:
        assert f"| {name} | {password} |" in readme, f"README.md does not give the demo login {name}"
