"""``trawler serve``, ``trawler review``, ``trawler labels export`` and ``trawler users``: the
review web app and the same review rules from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from aiohttp import web

from crawler.cli import TrawlerError, async_command, cli, get_config, global_options
from crawler.review.accounts import ROLES, AccountError, add_user, find_user, issue_api_token
from crawler.review.decisions import DECISIONS, REASONS, DecisionError, decide, site_for_decision
from crawler.review.labels import label_lines
from crawler.store import open_database
from crawler.store.models import User


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@global_options
def serve(host: str, port: int) -> None:
    """Run the review and operator web UI with its JSON API."""
    from crawler.review import create_app
    from crawler.scheduler import scheduler_context

    config = get_config()
    click.echo(f"trawler web UI on http://{host}:{port}/  (database {config.db_url}; "
               f"four-eyes {'on' if config.four_eyes else 'off'}); add accounts with "
               "`trawler users add NAME --role reviewer`")
    app = create_app(config)
    app.cleanup_ctx.append(scheduler_context(config))  # recurring jobs run while serving
    web.run_app(app, host=host, port=port, print=None)


def _reason_help() -> str:
    return "; ".join(f"{d}: {', '.join(REASONS[d])}" for d in DECISIONS)


@cli.command()
@click.argument("site")
@click.option("--approve", "decision", flag_value="approve", help="The site sells drugs: block it.")
@click.option("--reject", "decision", flag_value="reject", help="The site is not a drug shop.")
@click.option("--need-more", "decision", flag_value="need-more",
              help="Undecided until someone looks closer.")
@click.option("--reason", required=True, help=f"Reason code ({_reason_help()}).")
@click.option("--user", "user_name", required=True, metavar="NAME",
              help="The reviewer deciding (a reviewer or admin account).")
@click.option("--note", help="Free text kept with the decision.")
@global_options
@async_command
async def review(site: str, decision: str | None, reason: str, user_name: str,
                 note: str | None) -> None:
    """Decide on SITE (name or id) under the same rules as the web UI, four-eyes included."""
    if decision is None:
        raise TrawlerError("say what you decide: --approve, --reject or --need-more")
    config = get_config()
    db = await open_database(config.db_url)
    try:
        async with db.session() as session, session.begin():
            user = await find_user(session, user_name)
            site_row = await site_for_decision(session, site)
            outcome = await decide(session, site_row, user, decision, reason, note,
                                   config.four_eyes)
    except (AccountError, DecisionError) as exc:
        raise TrawlerError(str(exc)) from exc
    finally:
        await db.close()
    click.echo(outcome.message)


@cli.group()
def labels() -> None:
    """Reviewer decisions as labelled training data."""


@labels.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The JSON Lines file to write (corpus format, source: review).")
@global_options
@async_command
async def labels_export(out: Path) -> None:
    """Write one corpus line per page of every approved (drugs) or rejected (benign) site."""
    db = await open_database(get_config().db_url)
    lines = sites = 0
    seen: set[str] = set()
    try:
        with out.open("w", encoding="utf-8") as fh:
            async with db.session() as session:
                async for line in label_lines(session):
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                    lines += 1
                    if line["group"] not in seen:
                        seen.add(line["group"])
                        sites += 1
    except OSError as exc:
        raise TrawlerError(f"cannot write {out}: {exc.strerror}") from exc
    finally:
        await db.close()
    click.echo(f"wrote {lines} lines from {sites} decided sites to {out}")


@cli.group()
def users() -> None:
    """Accounts for the web UI."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="operator: jobs; reviewer: the review queue; admin: everything.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line "
              "of standard input instead of prompting.")
@global_options
@async_command
async def users_add(name: str, role: str, password_stdin: bool) -> None:
    """Add a user NAME who signs in to `trawler serve` with a password (argon2-hashed)."""
    password = _read_password(password_stdin)
    db = await open_database(get_config().db_url)
    try:
        async with db.session() as session, session.begin():
            await add_user(session, name, role, password)
    except AccountError as exc:
        raise TrawlerError(str(exc)) from exc
    finally:
        await db.close()
    click.echo(f"added {role} {name}")


@users.command("list")
@global_options
@async_command
async def users_list() -> None:
    """List users and their roles."""
    from sqlalchemy import select

    db = await open_database(get_config().db_url)
    try:
        async with db.session() as session:
            rows = (await session.scalars(select(User).order_by(User.name))).all()
    finally:
        await db.close()
    if not rows:
        click.echo("no users yet: add one with `trawler users add NAME --role reviewer`")
    for user in rows:
        click.echo(f"{user.name}\t{user.role}")


@users.command("token")
@click.argument("name")
@global_options
@async_command
async def users_token(name: str) -> None:
    """Print a new API token for NAME's scripts (send it as `Authorization: Bearer TOKEN`)."""
    db = await open_database(get_config().db_url)
    try:
        async with db.session() as session, session.begin():
            token = await issue_api_token(session, await find_user(session, name))
    except AccountError as exc:
        raise TrawlerError(str(exc)) from exc
    finally:
        await db.close()
    click.echo(token)
