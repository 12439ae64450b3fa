"""adclear demo: serve the demo sites, crawl them, and say what happened and what to run next."""

from __future__ import annotations

import signal
import urllib.request

import click

from adclear.cli import Config
from adclear.cli.crawl_cmds import run_and_report
from adclear.cli.term import fit
from adclear.cli.web_cmds import demo_web
from core.errors import AdclearError
from crawler.extensions import RunResult
from crawler.reading import ReadingOptions
from demo.server import DemoServer, start
from review.stats import triage_counts

__all__ = ["COMMANDS"]


def _demo_already_served(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
            return "adclear 演示站点" in answer.read().decode("utf-8", "replace")
    except OSError:
        return False


def ensure_demo_server(port: int) -> DemoServer | None:
    """Start the demo sites in a thread, or reuse the ones an `adclear demo-site` already serves (None)."""
    try:
        return start(port)
    except OSError as e:
        if _demo_already_served(port):
            click.echo(f"The demo sites are already served at http://127.0.0.1:{port}/; using them.")
            return None
        raise AdclearError(
            f"port {port} on 127.0.0.1 is taken by another program ({e.strerror}); stop it first"
        ) from None


# the demo reads its ads' pictures during the crawl and waits for them: its picture-only promotion is flagged
# before the summary (docs/images.md)
DEMO_READING = ReadingOptions(workers=1, timeout=120, wait=300)
HOSTILE_SITE = "demo-hostile"  # seeds.yml's site that misbehaves on purpose: its errors are the demo's point


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the demo as Ctrl-C does: servers closed, ports freed


@click.command()
@click.option("--port", default=8731, show_default=True, help="Port of the demo sites (seeds.yml expects 8731).")
@click.option("--web-port", default=8732, show_default=True, help="Port of the review web app the demo ends with.")
@click.option("--no-serve", is_flag=True, help="End after the summary and the demo logins; do not serve the web app.")
@click.pass_obj
def demo(cfg: Config, port: int, web_port: int, no_serve: bool) -> None:
    """Serve the bundled demo sites on loopback, crawl them into the database (reading the ads' pictures beside
    the crawl), print a summary, then serve the review web app with demo logins, the demo sites still served
    beside it (until Ctrl-C; --no-serve ends after the summary). Ctrl-C or SIGTERM stops it at any point, closing
    both ports; a crawl stopped that way exits 130."""
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    server = ensure_demo_server(port)
    crawling = False
    try:
        if server is not None:
            click.echo(f"Demo sites: {server.base_url}/")
        click.echo(f"Crawling the sites of {cfg.seeds_path} …")
        crawling = True
        results = run_and_report(cfg, (), reading=DEMO_READING)
        crawling = False
        _summary(cfg, results)
        interrupted = [r.site for r in results if r.status == "interrupted"]
        if interrupted:
            click.echo(
                f"The crawl was stopped (Ctrl-C or a signal) before {', '.join(interrupted)} finished; "
                "run the demo again to crawl the rest.",
                err=True,
            )
            raise click.exceptions.Exit(130)
        # the hostile site may fail as a whole (a resumed crawl with only its broken pages left): by design
        failed = [r for r in results if r.status != "ok" and r.site != HOSTILE_SITE]
        if failed:
            raise AdclearError("the demo crawl failed for " + ", ".join(f"{r.site} ({r.reason})" for r in failed))
        if server is not None and not no_serve:
            click.echo(f"The demo sites stay served at {server.base_url}/ while the web app runs.")
        demo_web(cfg, web_port, serve=not no_serve)
    except KeyboardInterrupt:
        if crawling:  # stopped while the crawlers were set up, before Scrapy took the signals (adclear.crawl)
            click.echo("\nThe crawl was stopped (Ctrl-C or a signal) before it began; run the demo again.", err=True)
        else:
            click.echo("\nStopped.", err=True)
        raise click.exceptions.Exit(130) from None
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()  # the port is free again (shutdown alone left it bound, never answering)
        signal.signal(signal.SIGTERM, previous)


def _summary(cfg: Config, results: list[RunResult]) -> None:
    pages = sum(r.figures.get("pages", 0) for r in results)
    new = sum(r.figures.get("ads_new", 0) for r in results)
    seen = sum(r.figures.get("ads_seen", 0) + r.figures.get("ads_changed", 0) for r in results)
    errors = {r.site: r.figures.get("errors", 0) for r in results if r.figures.get("errors", 0)}
    click.echo("")
    click.echo("Summary")
    click.echo(f"  pages fetched:  {pages}")
    click.echo(f"  ads stored:     {new + seen} ({new} new, {seen} seen again)")
    click.echo(f"  errors:         {_errors_line(errors)}")
    click.echo(f"  database:       {cfg.db_path.resolve()}")
    click.echo(f"  evidence:       {(cfg.db_path.parent / 'warc').resolve()}")
    counts = triage_counts(cfg.db())
    labels = counts["labels"]
    click.echo(
        f"  classified:     {sum(labels.values())} ads: {labels.get('flag', 0)} flag, "
        f"{labels.get('watch', 0)} watch, {labels.get('clear', 0)} clear"
    )
    click.echo(f"  queued:         {counts['queued_total']} waiting for review")
    click.echo("")
    click.echo(f"  {fit('涉嫌类型', 20)}{'flagged':>8}{'queued':>8}")
    for category in sorted(
        set(counts["flagged"]) | set(counts["queued"]), key=lambda c: (-counts["queued"].get(c, 0), c)
    ):
        click.echo(
            f"  {fit(category, 20)}{counts['flagged'].get(category, 0):>8}{counts['queued'].get(category, 0):>8}"
        )
    click.echo("")
    click.echo("Next:")
    for line in NEXT_STEPS:
        click.echo(line)


def _errors_line(errors: dict[str, int]) -> str:
    """The errors by site, saying which are the hostile demo site's, expected by design."""
    total = sum(errors.values())
    if not total:
        return "0"
    parts = []
    for site, count in errors.items():
        why = " expected: that site misbehaves on purpose" if site == HOSTILE_SITE else ""
        parts.append(f"{site} {count}{why}")
    return f"{total} ({'; '.join(parts)})"


NEXT_STEPS = [
    "  .venv/bin/adclear queue            # ads waiting for review, highest score first",
    "  .venv/bin/adclear show AD_ID       # an ad with its rule hits and legal basis",
    "  .venv/bin/adclear images read      # the social posts' screenshots, read too (a minute or two)",
    "  .venv/bin/adclear review confirm AD_ID --category 投资理财/P2P网贷 --reason … --as NAME",
    "  .venv/bin/adclear dispatch create --as reviewer   # 交办单 per receiver (receivers.yml); then a",
    "                                     # supervisor approves and sends it or records the handover",
    "  .venv/bin/adclear takedown list    # takedowns by state, overdue first; recheck fetches them again",
    "  .venv/bin/adclear export --format xlsx --out takedowns.xlsx --as supervisor",
    "  .venv/bin/adclear sites            # the sites and their last run",
    "  .venv/bin/adclear demo-site        # serve the demo sites alone at http://127.0.0.1:8731/",
    "  .venv/bin/adclear crawl            # crawl again: ads seen again are sightings, not new ads",
]


COMMANDS = [demo]
