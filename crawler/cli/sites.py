"""``trawler sites``: the sites seen so far with their derived verdicts and review state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from crawler.cli import async_command, cli, get_config, global_options
from crawler.store import open_database
from crawler.store.queries import list_sites, site_summary


def _reasons_text(reasons: Sequence[dict[str, Any]], limit: int = 8) -> str:
    """The distinct matched terms of the strongest reasons, strongest first."""
    terms: dict[str, None] = {}
    for reason in reasons:
        for term in str(reason.get("term") or reason.get("feature")).split(", "):
            terms.setdefault(term)
    return ", ".join(list(terms)[:limit])


def print_sites_table(rows: Sequence[dict[str, Any]], title: str) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("site", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("pages", justify="right")
    table.add_column("flagged", justify="right")
    table.add_column("status")
    table.add_column("top reasons", overflow="fold")
    for row in rows:
        table.add_row(row["site"], f"{row['score']:.3f}", str(row["pages"]),
                      str(row["flagged_pages"]), row["status"], _reasons_text(row["reasons"]))
    Console(width=140).print(table)


async def load_site_rows(flagged_only: bool) -> list[dict[str, Any]]:
    db = await open_database(get_config().db_url)
    try:
        async with db.session() as session:
            return [site_summary(s) for s in await list_sites(session, flagged_only)]
    finally:
        await db.close()


@cli.command()
@click.option("--flagged", is_flag=True, help="Only sites whose verdict is drugs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@global_options
@async_command
async def sites(flagged: bool, as_json: bool) -> None:
    """List sites with their score, pages, flagged pages and review status."""
    rows = await load_site_rows(flagged)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        click.echo("no sites yet" + (" flagged" if flagged else "") + ": run `trawler crawl`")
    else:
        print_sites_table(rows, "flagged sites" if flagged else "sites")
