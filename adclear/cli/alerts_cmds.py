"""adclear alerts list|deliver|test|overdue: alerts, their deliveries, and sending what is due (docs/alerts.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from adclear.cli import Config
from adclear.cli.term import echo
from adclear.monitor import describe, overdue
from core.errors import AdclearError
from core.timeutil import local
from review import alerts
from review.alertsend import deliver_pending, route

__all__ = ["COMMANDS"]


@click.group("alerts")
def alerts_group() -> None:
    """Alerts (failed or unhealthy crawls, high-score flags, overdue takedowns, reappeared ads, tips) and their
    delivery to the channels of alerts.yml."""


@alerts_group.command("list")
@click.option("--failed", is_flag=True, help="Only alerts with a delivery given up.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Newest alerts shown.")
@click.pass_obj
def list_(cfg: Config, failed: bool, limit: int) -> None:
    """The newest alerts first, each with its deliveries (sent, retrying, failed) and their last error."""
    db = cfg.db()
    found = alerts.listing(db, limit=limit, failed_only=failed)
    if not found:
        echo("no alerts")
        return
    by_alert = alerts.deliveries(db, [a.id for a in found])
    for a in found:
        times = f" ×{a.count}, last {local(a.last_at)}" if a.count > 1 else ""
        echo(f"#{a.id} {local(a.raised_at)} {a.severity:<8} {a.kind:<10} {a.subject}{times}")
        sent = by_alert[a.id]
        if not sent:
            echo("    not delivered: " + ("no channel of alerts.yml takes it" if a.routed_at else "not routed yet"))
        for d in sent:
            tail = f" ({d.attempts} tries): {d.error}" if d.error else f" ({d.attempts} tries)"
            when = f" next {local(d.next_at)}" if d.state == "retrying" else ""
            echo(f"    {d.channel}: {d.state}{when}{tail}")


@alerts_group.command("deliver")
@click.pass_obj
def deliver_cmd(cfg: Config) -> None:
    """Send the deliveries that are due and retry the failed ones whose wait is over (run it from cron or the
    scheduler every few minutes); exits 1 when a delivery was given up."""
    config = cfg.alerts()
    outcome = deliver_pending(cfg.db(), config, smtp=cfg.smtp())
    echo(describe(outcome))
    if not config.channels:
        echo(f"no channel in {cfg.alerts_path}: alerts are recorded and shown in the web app only")
    if outcome.failed:
        raise AdclearError(f"{outcome.failed} deliveries given up: see `adclear alerts list --failed`")


@alerts_group.command("test")
@click.argument("channel", required=False)
@click.pass_obj
def test_cmd(cfg: Config, channel: str | None) -> None:
    """Send a test alert to CHANNEL (a name in alerts.yml), or to every channel, now; exits 1 when one fails."""
    config = cfg.alerts()
    if not config.channels:
        raise AdclearError(f"no channel in {cfg.alerts_path}: add one (docs/alerts.md)")
    if channel is not None and config.channel(channel) is None:
        names = ", ".join(c.name for c in config.channels)
        raise AdclearError(f"no channel '{channel}' in {cfg.alerts_path} (configured: {names})")
    db = cfg.db()
    deliver_pending(db, config, smtp=cfg.smtp())  # what was due before goes out first, on its own
    alert_id = alerts.raise_alert(
        db, "test", "adclear 告警测试", f"这是一条测试消息，发往 {channel or '所有渠道'}。", severity="info"
    )
    route(db, config, datetime.now(UTC), only=channel)
    deliver_pending(db, config, smtp=cfg.smtp())
    failed = []
    for d in alerts.deliveries(db, [alert_id])[alert_id]:
        echo(f"{d.channel}: {d.state}" + (f": {d.error}" if d.error else ""))
        if d.state != "sent":
            failed.append(d.channel)
    if failed:
        raise AdclearError(f"the test did not reach {', '.join(failed)}; `adclear alerts deliver` retries it")


@alerts_group.command("overdue")
@click.pass_obj
def overdue_cmd(cfg: Config) -> None:
    """Raise today's alert of the takedowns past their deadline (once a China day), then deliver."""
    found = overdue(cfg.db())
    echo(f"alert {found} raised" if found else "no takedown is overdue")
    echo(describe(deliver_pending(cfg.db(), cfg.alerts(), smtp=cfg.smtp())))


COMMANDS = [alerts_group]
