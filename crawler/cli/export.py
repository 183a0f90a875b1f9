"""``trawler export``: approved sites and identifiers as a batch file for the blocking authority."""

from __future__ import annotations

import getpass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from crawler.cli import TrawlerError, async_command, cli, get_config, global_options
from crawler.exports import (
    FORMAT_NAMES,
    FORMATS,
    ExportError,
    ExportRequest,
    batch_json,
    configured_options,
    export_batch,
    list_batches,
)
from crawler.store import open_database


def print_batches(rows: list[dict[str, object]]) -> None:
    table = Table(title="export batches", title_justify="left")
    for column in ("batch", "format", "mode", "items", "by", "at", "file", "sha256"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["batch"]), str(row["format"]), str(row["mode"]), str(row["items"]),
                      str(row["created_by"]), str(row["created_at"]), str(row["file"]),
                      str(row["sha256"]))
    Console(width=160).print(table)


def _formats_help() -> str:
    return "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values())


@cli.command(epilog="Formats: " + _formats_help())
@click.option("--format", "format_name", type=click.Choice(FORMAT_NAMES), metavar="FORMAT",
              help=f"File format ({', '.join(FORMAT_NAMES)}).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="File to write; FILE.manifest.json is written next to it.")
@click.option("--all", "everything", is_flag=True,
              help="Everything approved, even what earlier batches in this format carried.")
@click.option("--since", type=click.IntRange(min=1), metavar="BATCH",
              help="What was approved after batch BATCH was made.")
@click.option("--user", metavar="NAME", help="Who exports (default: the OS user).")
@click.option("--list", "show_list", is_flag=True, help="List earlier batches and exit.")
@global_options
@async_command
async def export(format_name: str | None, out: Path | None, everything: bool, since: int | None,
                 user: str | None, show_list: bool) -> None:
    """Export approved sites, URLs and payment identifiers as one recorded batch.

    By default only what no earlier batch in the same format carried goes out (incremental).
    """
    if show_list:
        await _show_batches()
        return
    if format_name is None or out is None:
        raise TrawlerError("give --format FORMAT and --out FILE (formats: "
                           f"{', '.join(FORMAT_NAMES)}), or --list to see earlier batches")
    if everything and since is not None:
        raise TrawlerError("--all and --since exclude each other: choose one")
    config = get_config()
    request = ExportRequest(
        format=format_name, user=user or getpass.getuser(), out=out,
        mode="all" if everything else "since" if since is not None else "incremental",
        since=since, **configured_options(config.extra),
    )
    db = await open_database(config.db_url)
    try:
        async with db.session() as session:
            result = await export_batch(session, request)
    except ExportError as exc:
        raise TrawlerError(str(exc)) from exc
    finally:
        await db.close()
    click.echo(result.summary())


async def _show_batches() -> None:
    db = await open_database(get_config().db_url)
    try:
        async with db.session() as session:
            rows = [batch_json(batch) for batch in await list_batches(session)]
    finally:
        await db.close()
    if rows:
        print_batches(rows)
    else:
        click.echo("no export batches yet: run `trawler export --format FORMAT --out FILE`")

