"""The ``trawler`` command line: one click group; each command family lives in its own module."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from crawler import __version__
from crawler.config import Config, ConfigError, load_config

T = TypeVar("T")


class TrawlerError(click.ClickException):
    """An error the user can fix; printed as one line, never as a traceback."""

    exit_code = 2


def _remember(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.ensure_object(dict)[_param.name] = value
    return value


def global_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--data`` and ``--db``: accepted by the group and by every command."""
    func = click.option(
        "--db", "db", metavar="URL", expose_value=False, callback=_remember,
        help="SQLAlchemy database URL (env TRAWLER_DB; default SQLite in the data dir).",
    )(func)
    func = click.option(
        "--data", "data", metavar="DIR", expose_value=False, callback=_remember,
        help="Data directory for database, WARCs and job state (env TRAWLER_DATA; default ./data).",
    )(func)
    return func


def get_config() -> Config:
    """The configuration for the running command, honouring --data/--db wherever they were given."""
    ctx = click.get_current_context()
    opts: dict[str, Any] = {}
    for c in reversed(list(_ancestry(ctx))):
        opts.update(c.obj or {} if isinstance(c.obj, dict) else {})
    try:
        return load_config(data=opts.get("data"), db=opts.get("db"))
    except ConfigError as exc:
        raise TrawlerError(str(exc)) from exc


def _ancestry(ctx: click.Context | None):  # type: ignore[no-untyped-def]
    while ctx is not None:
        yield ctx
        ctx = ctx.parent


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; user-caused errors become one-line messages."""
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        raise TrawlerError(str(exc)) from exc


def async_command(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run_async(func(*args, **kwargs))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trawler")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """trawler: find online drug and NPS shops, keep evidence, review and export them."""
    ctx.ensure_object(dict)


def _register() -> None:
    # Each module adds its commands to ``cli``; importing it is enough.
    from crawler.cli import crawl, evidence, export, jobs, model, review, sites  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        cli.main(args=argv, prog_name="trawler", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
