"""Re-checks and reappearances, run from the shell: the crawler fetches, review records.

``adclear recheck`` picks the open takedowns (``recheck_targets``), has the crawler fetch their URLs again in
one Scrapy process (``run_recheck``: one ``crawler.spiders.recheck`` spider per site, through the site's
network policy, archived in a WARC file like any page), and records each outcome against its takedown with its
evidence (``record_outcomes`` → ``review.takedowns.record_recheck``). The crawler may not import review/, so
the two meet here.

After every crawl, and in ``adclear recheck``, ``record_reappearances`` looks at what the crawl stored: an ad
first seen after a takedown was requested whose verdict names the takedown's ad as its nearest confirmed
neighbour (``verdicts.nearest``, from the decided ads' near-duplicate index) has reappeared (再现). It is
recorded once per takedown and ad (``review.takedowns.record_reappearance`` is idempotent), and the new ad is
put at the front of the review queue (``review.queue.to_front``). An ad that was already there when the
takedown was requested is not a reappearance: the decision's follow-up classified it again and queued it.

Twisted's reactor cannot restart in a process: call ``run_recheck`` once per process, after any crawl.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlite_utils
from scrapy.crawler import CrawlerProcess

from adclear.crawl import crawl_settings
from classifier.neighbours import comparable_text
from core.ads import ad_text
from core.db import immediate
from core.errors import UnknownSite
from core.seeds import Seeds, Site
from crawler.reaper import become_subreaper, reap_children
from crawler.recheck import RecheckOutcome, RecheckTarget
from crawler.spiders.recheck import recheck_spider
from review import queue, takedowns
from review.settings import ReviewSettings
from review.takedowns import RecheckEvidence, Takedown, TakedownError

__all__ = [
    "RECHECKABLE",
    "RECHECK_ACTOR",
    "REAPPEARANCE_ACTOR",
    "Reappearance",
    "find_reappearances",
    "record_outcomes",
    "record_reappearances",
    "recheck_targets",
    "run_recheck",
]

RECHECK_ACTOR = "adclear-recheck"  # who re-checked, when no account is named: the machine saw it
REAPPEARANCE_ACTOR = "adclear-crawl"  # who found a reappearance: the crawl
OPEN_FOR_RECHECK = ("dispatched", "answered", "online")  # re-checked by default: the receiver still owes removal
RECHECKABLE = (*OPEN_FOR_RECHECK, "removed")  # may be named with --takedown (a removed ad may be back)


@dataclass(frozen=True, slots=True)
class Reappearance:
    takedown_id: int
    original_ad_id: int
    new_ad_id: int
    distance: int
    recorded: bool = False  # a new ledger entry (False: known already)


def recheck_targets(
    db: sqlite_utils.Database, seeds: Seeds, *, site: str | None = None, ids: tuple[int, ...] = ()
) -> tuple[dict[str, list[RecheckTarget]], list[RecheckOutcome]]:
    """What to fetch again, per site of seeds.yml, and the outcomes known without fetching (an ad whose site
    is not in seeds.yml any more, an ad slot without a page of its own: unknown).

    ``ids`` names takedowns (an id that does not exist, or one not dispatched yet, is an error); otherwise every
    takedown dispatched, answered or still online, of ``site`` if given (a site not in seeds.yml is an error).
    """
    if site is not None:
        seeds.site(site)  # UnknownSite, naming the configured ones
    if ids:
        chosen = [takedowns.get(db, i) for i in dict.fromkeys(ids)]
        for t in chosen:
            if t.state not in RECHECKABLE:
                raise TakedownError(
                    f"takedown {t.id} is {t.state} ({t.state_label}): only a takedown {', '.join(RECHECKABLE)} "
                    "is re-checked"
                )
    else:
        chosen = [t for state in OPEN_FOR_RECHECK for t in takedowns.listing(db, state=state)]
    groups: dict[str, list[RecheckTarget]] = {}
    known: list[RecheckOutcome] = []
    for t in sorted(chosen, key=lambda t: t.id):
        ad = _ad(db, t)
        if site is not None and ad["site"] != site:
            continue
        target = RecheckTarget(t.id, t.ad_id, ad["url"], ad["content_hash"], ad["comparable"])
        try:
            seeds.site(ad["site"])
        except UnknownSite:
            known.append(_unknown(target, f"site {ad['site']} is not in seeds.yml: not re-checked"))
            continue
        if "#" in ad["ad_key"]:
            known.append(_unknown(target, "an ad slot on a list page, without a page of its own: check it by hand"))
            continue
        groups.setdefault(ad["site"], []).append(target)
    return groups, known


def _ad(db: sqlite_utils.Database, t: Takedown) -> dict[str, Any]:
    row = db.execute(
        "SELECT url, site, ad_key, content_hash, title, body, contact FROM ads WHERE id = ?", [t.ad_id]
    ).fetchone()
    url, site, key, chash, title, body, contact = row
    title, text = ad_text(title or "", body or "", contact or "")
    return {"url": url, "site": site, "ad_key": key, "content_hash": chash, "comparable": comparable_text(text, title)}


def _unknown(target: RecheckTarget, detail: str) -> RecheckOutcome:
    return RecheckOutcome(target.takedown_id, target.ad_id, target.url, "unknown", detail)


def run_recheck(
    seeds: Seeds,
    groups: Mapping[str, list[RecheckTarget]],
    *,
    db_path: Path,
    seeds_path: Path,
    log_file: Path | None,
    overrides: Mapping[str, Any] | None = None,
) -> list[RecheckOutcome]:
    """Fetch every target again (one spider per site, all in one reactor); one outcome per target, in order.
    A target the crawl did not answer for (it stopped early) is unknown."""
    if not groups:
        return []
    subreaper = become_subreaper()
    settings = crawl_settings(db_path, seeds_path, log_file=log_file, overrides=overrides)
    process = CrawlerProcess(settings)
    crawlers = []
    for name, targets in groups.items():
        site: Site = seeds.site(name)
        crawler = process.create_crawler(recheck_spider(site, seeds.operator, targets))
        process.crawl(crawler)
        crawlers.append((targets, crawler))
    process.start()
    if subreaper:
        reap_children()
    out = []
    for targets, crawler in crawlers:
        seen = {o.takedown_id: o for o in getattr(crawler.spider, "outcomes", [])}
        for target in targets:
            out.append(seen.get(target.takedown_id) or _unknown(target, "no answer: the re-check stopped first"))
    return out


def record_outcomes(
    db: sqlite_utils.Database,
    outcomes: list[RecheckOutcome],
    *,
    actor: str,
    now: str | None = None,
    today: date | None = None,
    settings: ReviewSettings | None = None,
) -> dict[int, str]:
    """Each outcome as a re-check of its takedown (a ``rechecks`` row and its ledger entry), with its evidence.

    A takedown that cannot take it any more (closed or cancelled while its page was fetched) is left as it is:
    returns why, per takedown id, and the other outcomes are recorded all the same.
    """
    refused: dict[int, str] = {}
    for o in outcomes:
        evidence = RecheckEvidence(o.http_status, o.warc_file, o.warc_offset, o.warc_length, o.sha256)
        try:
            takedowns.record_recheck(
                db, o.takedown_id, outcome=o.outcome, detail=o.detail[:500], evidence=evidence, actor=actor,
                now=now, today=today, settings=settings,
            )  # fmt: skip
        except TakedownError as e:
            refused[o.takedown_id] = str(e)
    return refused


# ---- reappearances --------------------------------------------------------------------------------------------
# From the ads first seen since ``?`` to their current verdict's confirmed neighbours, then to those ads'
# takedowns (by index): one pass over the new ads, whatever the number of takedowns.
_CANDIDATES = """
    SELECT t.id, t.ad_id, a.id, min(CAST(json_extract(n.value, '$.distance') AS INTEGER))
    FROM ads a
    CROSS JOIN verdicts v ON v.id = (SELECT max(id) FROM verdicts WHERE ad_id = a.id)
    CROSS JOIN json_each(v.nearest) n
    JOIN takedowns t ON t.ad_id = json_extract(n.value, '$.ad_id')
    JOIN ledger l ON l.seq = t.requested_seq
    WHERE a.first_seen >= ? AND json_extract(n.value, '$.index') = 'confirmed'
      AND t.state != 'cancelled' AND a.first_seen > l.at AND a.id != t.ad_id
      AND NOT EXISTS (SELECT 1 FROM ledger r WHERE r.ad_id = t.ad_id AND r.action = 'reappeared'
                      AND json_extract(r.payload, '$.takedown_id') = t.id
                      AND json_extract(r.payload, '$.new_ad_id') = a.id)
    GROUP BY t.id, a.id
    ORDER BY t.id, a.id
"""


def find_reappearances(db: sqlite_utils.Database, *, since: str = "") -> list[Reappearance]:
    """Ads first seen after a takedown was requested (and at or after ``since``, a UTC ISO time: the start of the
    crawl that just ran; "" for all) whose current verdict names the takedown's ad as a confirmed
    near-duplicate, and not recorded as its reappearance yet."""
    return [Reappearance(*row) for row in db.execute(_CANDIDATES, [since]).fetchall()]


def record_reappearances(
    db: sqlite_utils.Database,
    *,
    since: str = "",
    actor: str = REAPPEARANCE_ACTOR,
    settings: ReviewSettings | None = None,
) -> list[Reappearance]:
    """Record every reappearance not recorded yet (among the ads first seen since ``since``) and queue each
    reappeared ad first; the new ones."""
    new = []
    for r in find_reappearances(db, since=since):
        entry = takedowns.record_reappearance(
            db, r.takedown_id, r.new_ad_id, distance=r.distance, actor=actor, settings=settings
        )
        if entry is not None:
            new.append(Reappearance(r.takedown_id, r.original_ad_id, r.new_ad_id, r.distance, recorded=True))
    # every reappeared ad, not only the new ones: a reclassification since may have put one back in its place
    reappeared = db.execute(
        "SELECT DISTINCT json_extract(payload, '$.new_ad_id') FROM ledger WHERE action = 'reappeared'"
    ).fetchall()
    with immediate(db):
        for (ad_id,) in reappeared:
            queue.to_front(db, ad_id)
    return new
