"""adclear search, entity: find any ad (decided, clear or waiting), and everything tied to a contact or advertiser."""

from __future__ import annotations

import json
from typing import Any

import click

from adclear.cli import Config
from adclear.cli.term import echo, fit
from core.db import immediate
from core.search_index import rebuild
from review import entities
from review import search as finder
from review.adview import CONTACT_KINDS

__all__ = ["COMMANDS"]


def _ad_line(ad: dict[str, Any]) -> str:
    decided = ad["decision"]["decision"] if ad["decision"] else "-"
    title = " ".join((ad["title"] or ad["excerpt"]).split())[:40]
    return (
        f"#{ad['id']:<7} {(ad['posted_local'] or ad['first_seen_local'])[:10]}  {fit(ad['site'][:16], 16)} "
        f"{(ad['label'] or '-'):<5} {ad['status']:<9} {decided:<9} {title}"
    )


def _contacts_line(ad: dict[str, Any]) -> str:
    return "          " + "  ".join(f"{CONTACT_KINDS.get(c['kind'], c['kind'])} {c['value']}" for c in ad["contacts"])


@click.command()
@click.argument("words", nargs=-1)
@click.option("--contact", default="", help="A phone, WeChat ID, QQ number or URL, written any way an ad writes it.")
@click.option("--site", default="", help="Only ads of this site (its name in seeds.yml).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First seen on or after (China time).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="First seen on or before (China time).")
@click.option("--label", type=click.Choice(finder.LABELS), help="The current verdict's label.")
@click.option("--decision", type=click.Choice(finder.DECISIONS), help="What reviewers decided (undecided: nothing).")
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, 10_000), help="Page of results.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Results per page.")
@click.option("--rebuild-index", is_flag=True, help="Index every ad again first (after restoring an old backup).")
@click.pass_obj
def search(
    cfg: Config,
    words: tuple[str, ...],
    contact: str,
    site: str,
    date_from: Any,
    date_to: Any,
    label: str | None,
    decision: str | None,
    page: int,
    limit: int,
    rebuild_index: bool,
) -> None:
    """Search every ad: WORDS (in any spelling an ad uses) and contacts in them, with filters; newest first.

    A phone in WORDS (138 0013 8000, full-width digits) finds the ads that show it; a word of one character
    reads every ad's text and is slow on a large database.
    """
    db = cfg.db()
    if rebuild_index:
        with immediate(db):
            echo(f"{rebuild(db)} ads indexed")
    q = finder.Query(
        text=" ".join(words),
        contact=contact,
        site=site,
        date_from=_day(date_from),
        date_to=_day(date_to),
        label=label or "",
        decision=decision or "",
    )
    if not q.active:
        raise click.UsageError("give words, --contact or a filter (--site, --from, --to, --label, --decision)")
    rows = finder.search(db, q, limit=limit + 1, offset=(page - 1) * limit)
    for ad in rows[:limit]:
        echo(_ad_line(ad))
        if ad["contacts"]:
            echo(_contacts_line(ad))
    if not rows:
        echo("no ads found" if page == 1 else f"no ads on page {page}")
    elif len(rows) > limit:
        echo(f"page {page}; more: --page {page + 1}")


def _day(value: Any) -> str:
    return value.date().isoformat() if value is not None else ""


@click.command()
@click.argument("contact")
@click.option("--json", "as_json", is_flag=True, help="Print the entity as JSON.")
@click.pass_obj
def entity(cfg: Config, contact: str, as_json: bool) -> None:
    """Everything tied to CONTACT (a phone, WeChat ID, QQ number or URL) or to an advertiser name: every ad,
    site, date and decision, the advertisers, and the contacts used beside it."""
    db = cfg.db()
    found = entities.resolve(db, contact)
    if found is None:
        raise click.ClickException(f"no ad shows {contact!r} as a contact or an advertiser name")
    kind, value = found
    data = entities.advertiser(db, value) if kind == "author" else entities.contact(db, kind, value)
    if as_json:
        echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))
        return
    echo(f"{'advertiser' if kind == 'author' else CONTACT_KINDS.get(kind, kind)} {value}")
    sites = ", ".join(f"{s} ({n})" for s, n in data["sites"].items())
    echo(
        f"{data['count']} ads on {len(data['sites'])} sites: {sites}; dated {data['first_seen']} "
        f"to {data['last_seen']}; {data['confirmed']} confirmed, {data['rejected']} rejected"
    )
    if kind == "author":
        echo("contacts used (first — last ad showing it):")
        for c in data["contacts"]:
            kind_label = CONTACT_KINDS.get(c["kind"], c["kind"])
            echo(f"  {kind_label} {c['value']}  {c['first']} — {c['last']}  {c['ads']} ads")
    else:
        if data["authors"]:
            echo("advertisers: " + ", ".join(f"{a} ({n})" for a, n in data["authors"].items()))
        if data["others"]:
            echo("also shown with: " + ", ".join(f"{o['kind']} {o['value']} ({o['ads']})" for o in data["others"]))
    for ad in data["ads"]:
        echo(_ad_line(ad))


COMMANDS = [search, entity]
