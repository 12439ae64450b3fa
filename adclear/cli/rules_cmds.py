"""adclear rules lint|test|stats, adclear reclassify: keeping the rule packs honest (``eval``: model_cmds)."""

from __future__ import annotations

from pathlib import Path

import click

from adclear.cli import Config
from classifier import lint as lint_pack
from classifier import run_rule_tests
from classifier.rules import DEFAULT_RULES_DIR
from core.classifiers import classifier_for, load_classifier
from core.errors import AdclearError
from core.reclassify import reclassify as do_reclassify
from review.stats import rule_stats

__all__ = ["COMMANDS"]

RULES_OPTION = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ADCLEAR_RULES",
    help="Rule-pack directory (default: the bundled classifier/rules; also $ADCLEAR_RULES).",
)


def _dir(rules_dir: Path | None) -> Path:
    return rules_dir or DEFAULT_RULES_DIR


@click.group()
def rules() -> None:
    """Check the rule packs: lint them, run their examples, see how each rule fares with reviewers."""


@rules.command()
@RULES_OPTION
def lint(rules_dir: Path | None) -> None:
    """Every problem of the rule pack; exits 1 when one stops it from loading."""
    problems = lint_pack(_dir(rules_dir))
    errors = [p for p in problems if ": warning: " not in p]
    for problem in problems:
        click.echo(problem)
    if errors:
        raise AdclearError(f"{len(errors)} error(s) in {_dir(rules_dir)}: the rule pack does not load")
    click.echo(f"rule pack {_dir(rules_dir)} loads; {len(problems)} warning(s)")


@rules.command("test")
@RULES_OPTION
def test_rules(rules_dir: Path | None) -> None:
    """Run every rule's match / no_match examples; exits 1 on a failure."""
    classifier = load_classifier(rules_dir)
    failures = run_rule_tests(_dir(rules_dir))
    for failure in failures:
        click.echo(failure)
    examples = sum(len(r.tests_match) + len(r.tests_no_match) for r in classifier.rules)
    if failures:
        raise AdclearError(f"{len(failures)} of {examples} rule examples failed")
    click.echo(f"{len(classifier.rules)} rules, {examples} examples: all pass")


@rules.command()
@RULES_OPTION
@click.option("--min-support", default=5, show_default=True, help="Decided hits a rule needs before a re-fit.")
@click.pass_obj
def stats(cfg: Config, rules_dir: Path | None, min_support: int) -> None:
    """Per rule: hits on confirmed and on rejected ads, precision, and a proposed weight (changes nothing)."""
    rows = rule_stats(cfg.db(), load_classifier(rules_dir).rules, min_support=min_support)
    click.echo(
        f"{'rule':<34} {'kind':<11} {'status':<7} {'weight':>6} {'confirmed':>9} {'rejected':>8} {'precision':>9} "
        f"{'proposed':>8}"
    )
    for r in sorted(rows, key=lambda r: (-r.support, r.rule_id)):
        precision = f"{r.precision:.2f}" if r.precision is not None else "—"
        proposed = f"{r.proposed:g}" if r.proposed is not None else "—"
        flag = " *" if r.proposed is not None and r.proposed != r.weight else ""
        click.echo(
            f"{r.rule_id:<34} {r.kind:<11} {r.status:<7} {r.weight:>6g} {r.confirmed:>9} {r.rejected:>8} "
            f"{precision:>9} {proposed:>8}{flag}"
        )
    decided = sum(1 for r in rows if r.support)
    click.echo(
        f"{decided} of {len(rows)} rules hit a decided ad. * = a proposed weight differs: review it and edit "
        "the rule pack by hand; nothing was changed. Rules in shadow score nothing: their hits are counted here "
        "so that you can make them active once their precision holds."
    )


@click.command()
@RULES_OPTION
@click.option("--all", "everything", is_flag=True, help="Every ad, not only those classified by another version.")
@click.pass_obj
def reclassify(cfg: Config, rules_dir: Path | None, everything: bool) -> None:
    """Classify stored ads again with the current rules; the queue follows (decided ads keep their decision)."""
    db = cfg.db()
    classifier = classifier_for(db, rules_dir)
    counts = do_reclassify(db, classifier, everything=everything)
    if classifier.model_error:
        click.echo(f"warning: no model used, the rules alone decided: {classifier.model_error}", err=True)
    click.echo(
        f"{counts['ads']} ads classified again: {counts['flag']} flag, {counts['watch']} watch, "
        f"{counts['clear']} clear; {counts['changed']} changed label"
    )


COMMANDS = [rules, reclassify]
