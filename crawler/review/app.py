"""Builds the review web app: templates, guards, and the views of each page family."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from crawler.config import Config
from crawler.review import views
from crawler.review.decisions import REASONS
from crawler.review.evidence import ArchiveReader, EvidenceReader
from crawler.review.highlight import highlight
from crawler.review.routing import CONFIG, DATABASE, EVIDENCE, HOME_OF_ROLE
from crawler.review.security import CSRF_FIELD, error_pages, security_headers, sign_in_and_roles
from crawler.store import Database, open_database

HERE = Path(__file__).parent
MAX_FORM_BYTES = 64 * 1024


def create_app(config: Config, db: Database | None = None,
               evidence: EvidenceReader | None = None) -> web.Application:
    """The app for ``config``; it opens (and closes) its own database unless given ``db``."""
    app = web.Application(middlewares=[security_headers, error_pages, sign_in_and_roles],
                          client_max_size=MAX_FORM_BYTES)
    app[CONFIG] = config
    app[EVIDENCE] = evidence or ArchiveReader(config.warc_dir)
    if db is not None:
        app[DATABASE] = db
    else:
        app.cleanup_ctx.append(_database(config))
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["highlight"] = highlight
    env.filters["when"] = when
    env.globals.update(csrf_field=CSRF_FIELD, reasons=REASONS, home_of_role=HOME_OF_ROLE,
                       four_eyes=config.four_eyes)
    app.router.add_static("/static", HERE / "static", name="static")
    views.register(app)
    return app


def when(moment: str | None) -> str:
    """An ISO time as reviewers read it: ``2025-03-01 14:05:09 UTC``."""
    return f"{moment[:10]} {moment[11:19]} UTC" if moment and len(moment) >= 19 else ""


def _database(config: Config):  # type: ignore[no-untyped-def]
    async def open_and_close(app: web.Application):  # type: ignore[no-untyped-def]
        app[DATABASE] = await open_database(config.db_url)
        yield
        await app[DATABASE].close()
    return open_and_close
