"""adclear model train|promote|status, and ``adclear eval --cv``: the learned scorer, trained and measured honestly."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from adclear.cli import Config
from adclear.cli.accounts import acting_account
from classifier.evaluate import evaluate, labelled_summary, summary_text
from classifier.model import DEFAULT_MODEL_PATH, ModelError, load_model, version_of
from classifier.taxonomy import text_kind
from classifier.training import (
    DataError,
    Trainer,
    TrainParams,
    card,
    describe_files,
    read_labelled,
    read_negatives,
)
from core.classifiers import classifier_for, load_classifier
from core.errors import AdclearError
from core.models import active_model, models_dir, store_candidate
from review.learning import decision_rows
from review.models import promote as promote_model

__all__ = ["COMMANDS", "data_options", "read_data"]

DATA_HELP = "Labelled rows, JSON lines with text, label (1 = promotion), kind, source, note (repeatable)."
NEG_HELP = (
    "A corpus of ordinary text, every row a negative: TSV (text last) or CSV (a content/text column) (repeatable)."
)
MODEL_HELP = "Without --cv: 'bundled' (classifier/models/default.npz, not the promoted one), 'none' or a model file."

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
RULES_DIR = click.Path(file_okay=False, path_type=Path)


def data_options(f: Any) -> Any:
    f = click.option("--negatives", "negatives", multiple=True, type=FILE, help=NEG_HELP)(f)
    f = click.option("--data", "data", multiple=True, type=FILE, help=DATA_HELP)(f)
    return f


def read_data(
    data: tuple[Path, ...], negatives: tuple[Path, ...], *, required: bool = True
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The rows of every file and a description of each (name, SHA-256) for the model card."""
    if not data and required:
        raise AdclearError("give at least one --data FILE of labelled rows (JSON lines with text and label)")
    rows: list[Any] = []
    try:
        for path in data:
            rows.extend(read_labelled(path))
        for path in negatives:
            rows.extend(read_negatives(path))
    except DataError as e:
        raise AdclearError(str(e)) from None
    return rows, describe_files([*data, *negatives])


def _progress(message: str) -> None:
    click.echo(message, err=True)


def trainer_for(rows: list[Any], classifier: Any, params: Any) -> Any:
    """A ``classifier.training.Trainer``; data it cannot train on is one line for the user."""
    try:
        return Trainer(rows, classifier, params)
    except DataError as e:
        raise AdclearError(f"cannot train on these rows: {e}") from None


def cross_validated(rows: list[Any], classifier: Any, params: Any, k: int) -> dict[str, Any]:
    """Grouped ``k``-fold figures of the rules, the model on text alone, and the model with the rules."""
    trainer = trainer_for(rows, classifier, params)
    try:
        combined = trainer.cross_validate(k, progress=_progress)
        trainer.params = dataclasses.replace(params, use_rules=False)
        text_only = trainer.cross_validate(k, progress=_progress)
    except DataError as e:
        raise AdclearError(f"cannot cross-validate these rows: {e}") from None
    trainer.params = params
    return {
        "folds": k,
        "seed": params.seed,
        "rules": labelled_summary(rows, combined.rules.tolist()),
        "model": labelled_summary(rows, text_only.model.tolist()),
        "combined": labelled_summary(rows, combined.classifier.tolist()),
        "thresholds": combined.thresholds,
        "_labels": {
            "rules": combined.rules,
            "model": text_only.model,
            "combined": combined.classifier,
            "score": combined.score.round(4),
        },
    }


def print_cv(cv: dict[str, Any]) -> None:
    titles = {
        "rules": "rules only (the rule pack; nothing to fit)",
        "model": "model only (character n-grams, no rule features)",
        "combined": "combined (the classifier: model reading the text and the rules' findings)",
    }
    click.echo(f"grouped {cv['folds']}-fold cross-validation by source (seed {cv['seed']}); only flag counts")
    for key in ("rules", "model", "combined"):
        click.echo("")
        click.echo(summary_text(titles[key], cv[key]))
    click.echo("")
    click.echo(
        "thresholds fitted per fold: " + ", ".join(f"{t['flag']:.3f}/{t['watch']:.3f}" for t in cv["thresholds"])
    )


@click.command("eval")
@click.argument("paths", nargs=-1, type=FILE)
@click.option("--negatives", multiple=True, type=FILE, help=NEG_HELP)
@click.option(
    "--cv",
    "folds",
    type=click.IntRange(min=0),
    default=0,
    help="Grouped K-fold cross-validation (train and test per fold).",
)
@click.option("--seed", type=int, default=13, show_default=True, help="Seed of the folds and of training.")
@click.option(
    "--rules",
    "rules_dir",
    type=RULES_DIR,
    envvar="ADCLEAR_RULES",
    help="Rule-pack directory (default: the bundled one).",
)
@click.option("--model", default="bundled", show_default=True, help=MODEL_HELP)
@click.option("--wrong", default=50, show_default=True, help="Without --cv: how many wrongly classified rows to list.")
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --cv: write each row's out-of-fold labels and score here (JSON lines).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def eval_(
    paths: tuple[Path, ...],
    negatives: tuple[Path, ...],
    folds: int,
    seed: int,
    rules_dir: Path | None,
    model: str,
    wrong: int,
    predictions: Path | None,
    as_json: bool,
) -> None:
    """Precision, recall and F1 (only flag counts) and false positives per kind.

    With --cv K: grouped K-fold cross-validation (rows of one source never on both sides) of the rules, the
    model on the text alone and the two combined, each with 95% intervals; every learned number is fitted
    on the training folds only. Without it: the classifier as it is (the bundled model unless --model names
    another, not the promoted one), on rows it may have been made from.
    """
    if not paths:
        raise AdclearError("give at least one file of labelled rows (JSON lines with text and label)")
    model_arg: Path | bool = {"bundled": True, "none": False}.get(model, Path(model))  # type: ignore[arg-type]
    if folds:
        rules = load_classifier(rules_dir, False)
        _eval_cv(paths, negatives, rules, TrainParams(seed=seed), folds, predictions, as_json)
        return
    rows_in: list[dict[str, Any]] = []
    for path in paths:
        rows_in.extend(_plain_rows(path))
    classifier = load_classifier(rules_dir, model_arg)
    if classifier.model_error:
        raise AdclearError(classifier.model_error)
    report = evaluate(rows_in, classifier)
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else report.to_text(wrong))


def _eval_cv(
    paths: tuple[Path, ...],
    negatives: tuple[Path, ...],
    rules: Any,
    params: TrainParams,
    folds: int,
    predictions: Path | None,
    as_json: bool,
) -> None:
    rows, _ = read_data(paths, negatives)
    cv = cross_validated(rows, rules, params, folds)
    labels = cv.pop("_labels")
    if predictions is not None:
        _write_predictions(predictions, rows, labels)
    click.echo(json.dumps(cv, ensure_ascii=False, indent=2)) if as_json else print_cv(cv)


def _write_predictions(path: Path, rows: list[Any], labels: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            line = {"id": r.id, "origin": r.origin, "group": r.group, "kind": r.kind, "label": r.label}
            line.update({name: str(values[i]) for name, values in labels.items()})
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def _plain_rows(path: Path) -> list[dict[str, Any]]:
    try:
        return [
            {"id": r.id, "text": r.text, "title": r.title, "label": r.label, "kind": r.kind,
             "note": "borderline" if r.borderline else ""}
            for r in read_labelled(path)
        ]  # fmt: skip
    except DataError as e:
        raise AdclearError(str(e)) from None


@click.group()
def model() -> None:
    """The learned scorer: train a candidate, promote it into use, see which one classifies."""


@model.command()
@data_options
@click.option(
    "--with-decisions", is_flag=True, help="Add the reviewers' decisions from the ledger (reversals applied)."
)
@click.option(
    "--cv", "folds", type=click.IntRange(min=0), default=5, show_default=True, help="Grouped K-fold figures (0: none)."
)
@click.option("--seed", type=int, default=13, show_default=True, help="Seed of the folds and of training.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the artifact here.")
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write each row's out-of-fold labels and score here (JSON lines).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def train(
    cfg: Config,
    data: tuple[Path, ...],
    negatives: tuple[Path, ...],
    with_decisions: bool,
    folds: int,
    seed: int,
    out: Path | None,
    predictions: Path | None,
    as_json: bool,
) -> None:
    """Train a candidate model; it changes nothing until `adclear model promote` puts it into use.

    The candidate is measured with grouped cross-validation and, with --with-decisions, compared with the model
    in use on the reviewers' decisions. It is kept beside the database in models/<version>.npz.
    """
    if not data and not with_decisions:
        raise AdclearError(
            "give --data FILE (labelled rows, JSON lines with text and label), --with-decisions, or both"
        )
    rows, files = read_data(data, negatives, required=False)
    db = cfg.db() if with_decisions or out is None else None
    decided_through = _add_decisions(db, rows, files, alone=not data) if with_decisions else None
    params = TrainParams(seed=seed)
    rules = load_classifier(None, False)
    cv = _train_cv(db, rows, rules, params, folds, predictions, with_decisions) if folds else {}
    candidate = _fit(rows, rules, params)
    candidate.meta = card(
        params, files, rows, {"cv": _cv_card(cv), "decisions_through": decided_through}, _build_time()
    )
    data_bytes = candidate.to_bytes()
    version = version_of(data_bytes)
    if out is not None:
        candidate.save(out)
    if db is not None:
        where = store_candidate(db, data_bytes, version)
        click.echo(f"candidate {version} written to {where}", err=True)
    if as_json:
        click.echo(json.dumps({"version": version, "cv": cv}, ensure_ascii=False, indent=2))
    else:
        _print_candidate(version, candidate, cv, stored=db is not None)


def _fit(rows: list[Any], rules: Any, params: TrainParams) -> Any:
    """The candidate, trained on every row."""
    try:
        return trainer_for(rows, rules, params).fit().model
    except DataError as e:
        raise AdclearError(f"cannot train on these rows: {e}") from None


def _train_cv(
    db: Any, rows: list[Any], rules: Any, params: TrainParams, folds: int, predictions: Path | None, decisions: bool
) -> dict[str, Any]:
    """The candidate's grouped cross-validation, and with ``decisions`` its comparison with the model in use."""
    cv = cross_validated(rows, rules, params, folds)
    labels = cv.pop("_labels")
    if predictions is not None:
        _write_predictions(predictions, rows, labels)
    if decisions:
        cv["decisions"] = _compare_on_decisions(db, rows, labels["combined"], active_model(db))
    return cv


def _add_decisions(db: Any, rows: list[Any], files: list[dict[str, Any]], *, alone: bool) -> int | None:
    """Add the reviewers' decisions (reversals applied) to ``rows``; returns the ledger entry they run to."""
    extra, decided_through = decision_rows(db)
    click.echo(f"{len(extra)} reviewed ads from the ledger (through entry {decided_through})", err=True)
    if alone:
        click.echo(
            "warning: trained on the decisions alone, without the labelled rows of the bundled model: compare "
            "the figures below with the model in use before you promote it",
            err=True,
        )
    rows.extend(extra)
    files.append({"file": "decisions", "ledger_through": decided_through})
    return decided_through


def _print_candidate(version: str, candidate: Any, cv: dict[str, Any], *, stored: bool) -> None:
    if cv:
        print_cv(cv)
        if "decisions" in cv:
            _print_decisions(cv["decisions"])
    click.echo(f"\ncandidate {version}: flag at {candidate.flag:.3f}, watch at {candidate.watch:.3f}")
    if stored:
        click.echo(f"put it into use with: adclear model promote {version} --as NAME")


def _build_time() -> datetime | None:
    """``$SOURCE_DATE_EPOCH`` (the reproducible-builds convention), so that one data set gives one file."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    if not epoch.isdigit():
        raise AdclearError(f"SOURCE_DATE_EPOCH must be seconds since 1970, not {epoch!r}")
    return datetime.fromtimestamp(int(epoch), UTC)


def _cv_card(cv: dict[str, Any]) -> dict[str, Any]:
    """The figures the model card keeps: per system, overall and without borderline."""
    out: dict[str, Any] = {"folds": cv.get("folds"), "seed": cv.get("seed")}
    for key in ("rules", "model", "combined"):
        if key in cv:
            s = cv[key]
            out[key] = {
                name: {
                    "precision": s[name]["precision"]["rate"],
                    "recall": s[name]["recall"]["rate"],
                    "f1": s[name]["f1"],
                }
                for name in ("all", "without borderline")
            }
            out[key]["fp_rate"] = {k: v["rate"] for k, v in s["kinds"].items() if v["positives"] == 0}
    return out


def _compare_on_decisions(db: Any, rows: list[Any], candidate_labels: Any, active: Any) -> dict[str, Any]:
    """The candidate (out of fold) and the model in use, on the rows that are reviewers' decisions."""
    idx = [i for i, r in enumerate(rows) if r.origin == "decisions"]
    sub = [rows[i] for i in idx]
    current = classifier_for(db)
    current_labels = [current.classify(r.text, title=r.title).label for r in sub]
    return {
        "rows": len(sub),
        "active": active.version,
        "candidate": labelled_summary(sub, [candidate_labels[i] for i in idx]),
        "current": labelled_summary(sub, current_labels),
    }


def _print_decisions(d: dict[str, Any]) -> None:
    click.echo(f"\non the {d['rows']} reviewed ads (the model in use, {d['active']}, may have been trained on them):")
    click.echo(summary_text("candidate (out of fold)", d["candidate"]))
    click.echo(summary_text("model in use", d["current"]))


@model.command()
@click.argument("version")
@click.option("--as", "actor", help="The operator's account, an admin (default $ADCLEAR_USER, else the login name).")
@click.option("--note", default="", help="Why (kept in the ledger entry).")
@click.pass_obj
def promote(cfg: Config, version: str, actor: str | None, note: str) -> None:
    """Put a candidate model (or 'bundled') into use; a ledger entry records it. Then `adclear reclassify`."""
    db = cfg.db()
    who = acting_account(db, actor, "admin")
    entry = promote_model(db, version, actor=who, note=note, settings=cfg.review_settings())
    click.echo(f"{version} is in use from ledger entry {entry.seq}; run `adclear reclassify` to score the open queue")


@model.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def status(cfg: Config, as_json: bool) -> None:
    """The model in use (and the ledger entry that chose it), its card, and the candidates."""
    db = cfg.db()
    active = active_model(db)
    info: dict[str, Any] = {"in_use": active.version, "promoted_seq": active.promoted_seq, "problem": active.problem}
    try:
        m = load_model(active.path or DEFAULT_MODEL_PATH)
        info.update(
            version=m.version, flag=m.flag, watch=m.watch, trained_at=m.meta.get("trained_at"), cv=m.meta.get("cv")
        )
        info["contrasts"] = list(m.contrasts)
    except ModelError as e:
        info["problem"] = info["problem"] or str(e)
    info["candidates"] = sorted(p.stem for p in models_dir(db).glob("model.*.npz"))
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    where = "the bundled model" if active.version == "bundled" else f"{active.path}"
    click.echo(
        f"in use: {info.get('version', active.version)} ({where})"
        + (f", ledger entry {active.promoted_seq}" if active.promoted_seq else "")
    )
    if info["problem"]:
        click.echo(f"problem: {info['problem']} — the rules alone classify until this is fixed")
    if "flag" in info:
        click.echo(
            f"thresholds: flag at {info['flag']:.3f}, watch at {info['watch']:.3f}; trained {info['trained_at']}"
        )
        click.echo("tells a promotion from: " + ", ".join(text_kind(k, english=True) for k in info["contrasts"]))
    click.echo("candidates: " + (", ".join(info["candidates"]) or "none"))


COMMANDS = [model, eval_]
