"""A tip's URL fetched safely, run from the shell: the crawler fetches, review records.

``fetch_tip`` takes a tip with a URL (``review.tips``) and:

1. picks its site (``site_for``): the seeds.yml site whose allowed domains hold the URL's host, else the tips'
   own site (``crawler.spiders.tip.tip_site``: any host, redirects included, but only the addresses that are not
   public which the operator allowed for tips: ``--allow-address``, ``$ADCLEAR_TIP_ALLOW_ADDRESSES``);
2. checks it before anything is sent (``precheck``): http or https, the name resolved first (by the resolver the
   crawl uses, ``ADCLEAR_RESOLVER``, injectable), and refused when an address is private, loopback, link-local,
   multicast or otherwise not public and not allowed; a refusal is recorded (``tip_fetched``, refused) with the
   reason;
3. fetches it in a Scrapy process (``run_tip_crawl``, the tip spider, ``crawler.spiders.tip``): the same policy
   again on every request and redirect, the size and time limits, archived in a WARC file, classified and
   stored as an ad like any crawled page;
4. records what the run sighted as the tip's ad and puts it at the front of the review queue
   (``review.tips.record_fetch``), or why nothing came of it.

The crawler may not import review/, so the two meet here, as in ``adclear/recheck.py``. Twisted's reactor
cannot restart in a process: the web app starts ``adclear tip fetch`` as a child process (``start_fetch``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils
from scrapy.crawler import CrawlerProcess
from scrapy.utils.misc import load_object

from adclear.crawl import crawl_settings, own_signal_handlers
from core.addresses import SEEDS_HINT, SEEDS_HINT_ZH, TIP_HINT, TIP_HINT_ZH, Allowance
from core.seeds import Seeds, Site
from crawler.extensions import RunRecorder
from crawler.netpolicy import NetworkPolicy, literal_address, port_of
from crawler.reaper import become_subreaper, reap_children
from crawler.resolver import DEFAULT_RESOLVER, AddressBook
from crawler.spiders.tip import TIP_SITE, tip_policy, tip_site, tip_spider
from review import tips
from review.dispatch import Office
from review.settings import ReviewSettings

__all__ = [
    "FETCH_ACTOR",
    "check_allowances",
    "fetch_tip",
    "precheck",
    "run_tip_crawl",
    "site_for",
    "start_fetch",
    "web_setup",
]

FETCH_ACTOR = "adclear-tip"  # who fetched, when no account is named: the machine


def check_allowances(texts: Sequence[str]) -> tuple[str, ...]:
    """The operator's allowed ranges for tips, each checked (``ValueError`` naming a bad one)."""
    out = []
    for text in texts:
        text = text.strip()
        if text:
            Allowance.parse(text)
            out.append(text)
    return tuple(out)


def site_for(seeds: Seeds, url: str, allow: Sequence[str] = ()) -> Site:
    """The seeds.yml site that holds the URL's host, else the tips' own site for it."""
    host = urlsplit(url).hostname or ""
    for site in seeds.sites:
        if site.name != TIP_SITE and NetworkPolicy(site.allowed_domains).allows_host(host):
            return site
    return tip_site(url, list(allow))


def precheck(url: str, site: Site, resolve: Callable[[str], list[str]]) -> tips.TipError | None:
    """Why the URL may not be fetched, decided before a packet is sent (None: it may): an error not raised, its
    message recorded, its Chinese shown on a Chinese page."""
    policy = tip_policy(site)
    refused = policy.check_url(url)
    if refused is None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if literal_address(host) is None:
            try:
                addresses = AddressBook(resolve).lookup(host)
            except (OSError, UnicodeError, ValueError) as e:
                return tips.TipError(
                    f"not fetched: {host} does not resolve ({e})", zh=f"未抓取：{host} 无法解析（{e}），请核对网址"
                )
            refused = policy.check_addresses(host, port_of(parts), addresses)
    if refused is None:
        return None
    if site.name == TIP_SITE:
        return tips.TipError(
            refused.message.replace(SEEDS_HINT, TIP_HINT), zh=refused.zh.replace(SEEDS_HINT_ZH, TIP_HINT_ZH) or None
        )
    return tips.TipError(refused.message, zh=refused.zh or None)


def resolver(overrides: Mapping[str, Any]) -> Callable[[str], list[str]]:
    """The resolver the crawl uses (``ADCLEAR_RESOLVER``), so that the check and the fetch agree."""
    return load_object(overrides.get("ADCLEAR_RESOLVER") or DEFAULT_RESOLVER)


def run_tip_crawl(
    seeds: Seeds,
    site: Site,
    url: str,
    *,
    db_path: Path,
    seeds_path: Path,
    log_file: Path | None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[int | None, str]:
    """Fetch the URL in this process (once per process); (the run's id, why it did not run or '')."""
    subreaper = become_subreaper()
    process = CrawlerProcess(crawl_settings(db_path, seeds_path, log_file=log_file, overrides=overrides))
    crawler = process.create_crawler(tip_spider(site, seeds.operator, url))
    process.crawl(crawler)
    with own_signal_handlers():
        process.start()
    if subreaper:
        reap_children()
    recorder = crawler.get_extension(RunRecorder) if crawler.extensions else None
    if recorder is None or recorder.run_id is None:
        return None, (recorder.setup_error if recorder is not None and recorder.setup_error else "did not start")
    return recorder.run_id, ""


def outcome_of(db: sqlite_utils.Database, run_id: int) -> tuple[str, str, int | None]:
    """(fetched/refused/failed, detail, the ad) of a tip's run, from what it stored."""
    sighted = db.execute("SELECT ad_id FROM sightings WHERE run_id = ? ORDER BY id LIMIT 1", [run_id]).fetchone()
    if sighted is not None:
        page = db.execute(
            "SELECT url, status, payload_sha256, warc_file FROM pages WHERE run_id = ? ORDER BY id DESC LIMIT 1",
            [run_id],
        ).fetchone()
        detail = f"{page[0]} {page[1]}, archived in {page[3]} (SHA-256 {page[2]})" if page else "stored"
        return "fetched", detail, int(sighted[0])
    errors = db.execute("SELECT kind, message FROM crawl_errors WHERE run_id = ? ORDER BY id", [run_id]).fetchall()
    refused = [m for k, m in errors if k in ("blocked", "offsite")]
    if refused:
        return "refused", refused[0], None
    if errors:
        return "failed", f"{errors[0][0]}: {errors[0][1]}", None
    return "failed", "the page was fetched but held no text to read as an ad", None


def fetch_tip(
    db: sqlite_utils.Database,
    seeds: Seeds,
    ref: int | str,
    *,
    db_path: Path,
    seeds_path: Path,
    allow: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    log_file: Path | None = None,
    actor: str = FETCH_ACTOR,
    settings: ReviewSettings | None = None,
) -> tips.Tip:
    """Check, fetch and record the tip's URL (see the module's docstring); the tip as it stands after."""
    tip = tips.get(db, ref)
    if tip.url is None:
        raise tips.TipError(f"tip {tip.number} has no URL to fetch", zh=f"线索 {tip.number} 没有可抓取的网址")
    site = site_for(seeds, tip.url, allow)
    problem = precheck(tip.url, site, resolver(overrides or {}))
    if problem is not None:
        return tips.record_fetch(
            db, tip.id, outcome="refused", detail=str(problem), ad_id=None, actor=actor, settings=settings
        )
    run_id, why = run_tip_crawl(
        seeds, site, tip.url, db_path=db_path, seeds_path=seeds_path, log_file=log_file, overrides=overrides
    )
    if run_id is None:
        outcome, detail, ad_id = "failed", f"the fetch did not run: {why}", None
    else:
        outcome, detail, ad_id = outcome_of(db, run_id)
        if site.name == TIP_SITE:
            detail = detail.replace(SEEDS_HINT, TIP_HINT)
    return tips.record_fetch(db, tip.id, outcome=outcome, detail=detail, ad_id=ad_id, actor=actor, settings=settings)


def start_fetch(
    number: str, *, db_path: Path, seeds_path: Path, allow: Sequence[str] = (), log_dir: Path | None = None
) -> None:
    """``adclear tip fetch NUMBER`` in a child process of its own (the web app's way: no reactor in it)."""
    cmd = [sys.executable, "-m", "adclear", "--db", str(db_path), "--seeds", str(seeds_path), "tip", "fetch", number]
    for a in allow:
        cmd += ["--allow-address", a]
    folder = log_dir or db_path.parent / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    _CHILDREN[:] = [c for c in _CHILDREN if c.poll() is None]  # reap the fetches that ended
    with (folder / "tip-fetch.log").open("ab") as log:
        _CHILDREN.append(
            subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        )


_CHILDREN: list[subprocess.Popen[bytes]] = []


def web_setup(
    seeds: Seeds,
    office: Office,
    *,
    db_path: Path,
    seeds_path: Path,
    allow: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> tips.Setup:
    """What the web app's tip pages need: the office, the check before fetching, the fetch in a child process."""
    resolve = resolver(overrides or {})

    def check(url: str) -> tips.TipError | None:
        return precheck(url, site_for(seeds, url, allow), resolve)

    def fetch(number: str) -> None:
        start_fetch(number, db_path=db_path, seeds_path=seeds_path, allow=allow)

    return tips.Setup(office=office, precheck=check, start_fetch=fetch)
