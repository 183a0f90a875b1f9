"""`trawler evidence verify` and `trawler evidence bundle`: check and package evidence."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from crawler.cli import TrawlerError, async_command, cli, get_config, global_options
from crawler.evidence.bundle import bundle_site
from crawler.evidence.verify import EvidenceBroken, verify_evidence
from crawler.store import open_database


@cli.group()
@global_options
def evidence() -> None:
    """Verify and package the evidence (WARCs, screenshots, custody log)."""


@evidence.command()
@click.argument("sites", nargs=-1)
@global_options
@async_command
async def verify(sites: tuple[str, ...]) -> None:
    """Recompute every WARC digest, check verdicts against their captures, walk the custody chain.

    With SITE arguments only those sites' evidence is checked (the custody chain is always
    walked whole). Exits 1 naming the first broken thing.
    """
    config = get_config()
    db = await open_database(config.db_url)
    try:
        report = await verify_evidence(db, config.warc_dir, sites)
    except LookupError as exc:
        raise TrawlerError(str(exc)) from exc
    except EvidenceBroken as exc:
        click.echo(f"evidence verify FAILED: {exc}", err=True)
        raise click.exceptions.Exit(1) from exc
    finally:
        await db.close()
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"evidence OK: {report.files} WARC file(s), {report.records} records, "
               f"{report.captures} captures, {report.screenshots} screenshots, "
               f"{report.verdicts} verdicts, custody chain of {report.custody_events} events")


@evidence.command()
@click.argument("site")
@click.option("--out", "out", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the package (a WACZ zip, e.g. site.wacz).")
@click.option("--user", metavar="NAME", help="Who makes the bundle, for the custody log "
              "(default: the logged-in system user).")
@global_options
@async_command
async def bundle(site: str, out: Path, user: str | None) -> None:
    """Package SITE's evidence: WARCs, screenshots, manifest, verdicts, reviews, custody events."""
    config = get_config()
    db = await open_database(config.db_url)
    try:
        result = await bundle_site(db, config.warc_dir, site, out, user or getpass.getuser())
    except LookupError as exc:
        raise TrawlerError(str(exc)) from exc
    except EvidenceBroken as exc:
        raise TrawlerError(f"evidence of {site} is broken, not bundled: {exc}") from exc
    finally:
        await db.close()
    click.echo(f"{result.path}: {result.captures} captures, {result.screenshots} screenshots, "
               f"sha256 {result.sha256}")
