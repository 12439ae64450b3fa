"""adclear serve, adclear user: the reviewers' web app and its accounts."""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from adclear.cli import Config
from adclear.cli.dispatch_cmds import setup as dispatch_setup
from adclear.cli.export_cmds import office_of
from adclear.cli.scheduler_cmds import scheduler_in_thread
from adclear.cli.term import echo
from adclear.cli.tip_cmds import tips_setup
from core.errors import AdclearError
from core.timeutil import local
from review.sessions import unlock
from review.users import add_user, disable_user, enable_user, ensure_demo_users, list_users, set_password
from review.web import serve as web

__all__ = ["COMMANDS", "demo_web", "serve_app"]


def serve_app(
    cfg: Config,
    host: str,
    port: int,
    *,
    threads: int = 8,
    behind_proxy: bool = False,
    secure_cookies: bool = False,
    max_claims: int = 1,
    with_scheduler: bool = False,
) -> None:
    app = web.build(
        cfg.db_path,
        behind_proxy=behind_proxy,
        secure_cookies=secure_cookies,
        MAX_CLAIMS=max_claims,
        REVIEW=cfg.review_settings(),
        OFFICE=office_of(cfg),  # the issuing office named in exports
        DISPATCH=lambda: dispatch_setup(cfg),  # receivers.yml and seeds.yml read when the 处置 page needs them
        TIPS=lambda: tips_setup(cfg),  # seeds.yml read when a tip page needs it
    )
    if host not in ("127.0.0.1", "localhost", "::1") and not (behind_proxy or secure_cookies):
        echo(
            f"Warning: serving plain http on {host}: passwords cross the network in clear. "
            "Put a TLS proxy in front (docs/operations.md) and use --behind-proxy.",
            err=True,
        )
    echo(f"adclear review app: http://{host}:{port}/  (database {cfg.db_path}; Ctrl-C stops it)")
    scheduled = scheduler_in_thread(cfg) if with_scheduler else None
    if scheduled is not None:
        echo(f"with the scheduler of {cfg.seeds_path} (its log on stderr)")
        signal.signal(signal.SIGTERM, _interrupt)  # as Ctrl-C: waitress stops, then the scheduler's crawls
    try:
        web.serve(app, host, port, threads=threads)
    except OSError as e:
        raise AdclearError(f"cannot listen on {host}:{port} ({e.strerror}); is another program using it?") from None
    except KeyboardInterrupt:
        if scheduled is None:
            raise
    finally:
        if scheduled is not None:
            sched, thread = scheduled
            sched.stop()  # running crawls checkpoint (SIGTERM) and end before we do
            thread.join()


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def demo_web(cfg: Config, port: int, *, serve: bool = True) -> None:
    """The end of `adclear demo`: demo accounts, their logins, and the app on loopback until Ctrl-C."""
    logins = ensure_demo_users(cfg.db())
    echo("")
    echo(f"Review web app: http://127.0.0.1:{port}/  (Chinese; English on the top right)")
    echo("Demo logins (demo database only):")
    for name, role, password in logins:
        echo(f"  {name:<11} {password:<18} {role}")
    if not serve:
        echo(f"Serve it with: .venv/bin/adclear --db {cfg.db_path} serve --port {port}")
        return
    serve_app(cfg, "127.0.0.1", port)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8732, show_default=True, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, help="Worker threads.")
@click.option(
    "--behind-proxy",
    is_flag=True,
    help="Trust one reverse proxy's X-Forwarded-For/-Proto (TLS terminated there; see docs/operations.md).",
)
@click.option("--secure-cookies", is_flag=True, help="Mark cookies Secure even when the proxy does not say https.")
@click.option(
    "--max-claims", default=1, show_default=True, type=click.IntRange(1, 20), help="Ads one reviewer may hold at once."
)
@click.option(
    "--with-scheduler",
    is_flag=True,
    help="Also run the scheduler (as `adclear scheduler`) in this process; SIGTERM stops both.",
)
@click.pass_obj
def serve(
    cfg: Config,
    host: str,
    port: int,
    threads: int,
    behind_proxy: bool,
    secure_cookies: bool,
    max_claims: int,
    with_scheduler: bool,
) -> None:
    """Serve the reviewers' web app (Chinese; English on a switch) until Ctrl-C."""
    serve_app(
        cfg,
        host,
        port,
        threads=threads,
        behind_proxy=behind_proxy,
        secure_cookies=secure_cookies,
        max_claims=max_claims,
        with_scheduler=with_scheduler,
    )


@click.group()
def user() -> None:
    """Accounts of the web app: add, disable, enable, unlock, list, set a password."""


def _read_password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


@user.command("add")
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice(["reviewer", "supervisor", "admin"]), help="What the user may do."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_obj
def user_add(cfg: Config, name: str, role: str, password_stdin: bool) -> None:
    """Create an account with a role; the password is asked for twice, or read from standard input."""
    created = add_user(cfg.db(), name, role, _read_password(name, password_stdin))
    echo(f"user {created.name} added ({created.role})")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_obj
def user_passwd(cfg: Config, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; its open sessions end."""
    set_password(cfg.db(), name, _read_password(name, password_stdin))
    echo(f"password of {name} changed; its sessions ended")


@user.command("disable")
@click.argument("name")
@click.pass_obj
def user_disable(cfg: Config, name: str) -> None:
    """Disable an account: no more logins, open sessions end; its decisions stay."""
    disable_user(cfg.db(), name)
    echo(f"user {name} disabled; its sessions ended")


@user.command("enable")
@click.argument("name")
@click.pass_obj
def user_enable(cfg: Config, name: str) -> None:
    """Enable a disabled account again: it logs in with its password."""
    enable_user(cfg.db(), name)
    echo(f"user {name} enabled")


@user.command("unlock")
@click.argument("name")
@click.pass_obj
def user_unlock(cfg: Config, name: str) -> None:
    """Lift the lock wrong passwords put on NAME: they no longer count (the attempts stay recorded)."""
    unlock(cfg.db(), name, actor="cli", address="cli")
    echo(f"user {name} unlocked")


@user.command("list")
@click.pass_obj
def user_list(cfg: Config) -> None:
    """The accounts: name, role, state, last login."""
    people = list_users(cfg.db())
    if not people:
        echo("No accounts yet: adclear user add NAME --role reviewer")
        return
    echo(f"{'name':<20} {'role':<11} {'state':<9} {'last login':<17} from")
    for p in people:
        state = "disabled" if p.disabled else "active"
        echo(f"{p.name:<20} {p.role:<11} {state:<9} {local(p.last_login_at) or '—':<17} {p.last_login_address or ''}")


COMMANDS = [serve, user]
