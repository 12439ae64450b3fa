"""What a command loads to start: `adclear stats` (and every command that records who acted, `--as`) needs neither
the review commands nor the classifier's engine, nor the libraries only some of its steps use; each of those once
cost it tens of milliseconds before it could print anything (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

HEAVY = ("adclear.cli.review_cmds", "classifier.engine", "classifier.neardup", "zxcvbn", "parsel", "urllib.request")


def loaded_by(statement: str) -> list[str]:
    """The modules of ``HEAVY`` that ``statement`` loads, in a fresh interpreter."""
    code = f"import sys; {statement}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_stats_command_starts_without_what_it_does_not_use():
    assert loaded_by("from adclear.cli import stats_cmds; from core.db import connect") == []


def test_the_classifier_still_answers_by_its_package_names():
    assert loaded_by("import classifier.normalize") == []
    assert loaded_by("from classifier import Classifier, classify, normalize") == [
        "classifier.engine",
        "classifier.neardup",
    ]
