"""adclear images: read the text and QR codes in ads' pictures (docs/images.md)."""

from __future__ import annotations

from pathlib import Path

import click

from adclear.cli import ID, Config
from adclear.cli.term import echo
from core.adimages import read_pending
from core.classifiers import classifier_for
from core.images import ImageLimits, ImageReader, read_image

__all__ = ["COMMANDS"]


@click.group()
def images() -> None:
    """Text and QR codes in ads' pictures (their images and the screenshots of rendered pages)."""


@images.command("read")
@click.option("--workers", default=1, show_default=True, type=ID, help="Processes reading pictures at once.")
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(0.1), help="Seconds per picture.")
@click.option("--memory-mb", default=3000, show_default=True, type=ID, help="Address-space limit of each worker.")
@click.pass_obj
def images_read(cfg: Config, workers: int, timeout: float, memory_mb: int) -> None:
    """Read every picture not read yet (once per SHA-256); the ads they belong to are classified again.

    A picture's lines of text, with their boxes, become the ad's pictures field, which the classifier reads
    after the body; the QR codes decoded become the ad's contacts. A picture that is too large, not a raster
    picture, animated, broken, or not read within --timeout is recorded with the reason and skipped.
    """
    db = cfg.db()
    classifier = classifier_for(db, cfg.rules_dir)
    with ImageReader(workers=workers, timeout=timeout, memory_mb=memory_mb) as reader:
        counts = read_pending(db, cfg.db_path.parent, reader, classifier)
    echo(
        f"{counts['pictures']} pictures read: {counts['ok']} ok, {counts['skipped']} skipped, "
        f"{counts['error']} errors; {counts['ads']} ads classified again, {counts['contacts']} contacts from QR codes"
    )


@images.command("try")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def images_try(path: Path) -> None:
    """Read one picture file here and print its lines with their boxes and its QR codes (nothing stored)."""
    read = read_image(path.read_bytes(), ImageLimits())
    echo(f"{read.status} {read.width}×{read.height} {read.error}".rstrip())
    for line in read.lines:
        echo(f"  {line.text}  box {[list(p) for p in line.box]}")
    for code in read.codes:
        echo(f"  QR: {code}")


COMMANDS = [images]
