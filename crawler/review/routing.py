"""How views plug into the app: typed app keys, role requirements, and HTML pages with JSON
twins served by one handler (``/sites`` and ``/sites.json`` run the same query)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from crawler.config import Config
from crawler.review.evidence import EvidenceReader
from crawler.review.sessions import SignedIn, take_flash
from crawler.store import Database

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
EVIDENCE = web.AppKey("evidence", EvidenceReader)
USER = web.RequestKey("user", SignedIn)  # absent for anonymous requests

# The pages each role reaches; admins reach everything.
OPERATOR, REVIEWER, ADMIN = "operator", "reviewer", "admin"
HOME_OF_ROLE = {OPERATOR: "/jobs", REVIEWER: "/sites", ADMIN: "/sites"}


def requires(*roles: str) -> Callable[[Handler], Handler]:
    """Let only signed-in users with one of ``roles`` (or admins) reach the view."""
    def mark(handler: Handler) -> Handler:
        handler.roles = roles  # type: ignore[attr-defined]
        return handler
    return mark


def public(handler: Handler) -> Handler:
    """Let anyone reach the view (the login page, the stylesheet)."""
    handler.roles = None  # type: ignore[attr-defined]
    return handler


def user_of(request: web.Request) -> SignedIn:
    """The signed-in user of a view guarded by ``requires``."""
    return request[USER]


def database(request: web.Request) -> Database:
    return request.app[DATABASE]


def wants_json(request: web.Request) -> bool:
    return request.path.endswith(".json") or request.headers.get(
        "Authorization", "").startswith("Bearer ")


def add_twin(app: web.Application, path: str, handler: Handler, name: str) -> None:
    """Serve ``handler`` at ``path`` (HTML) and at ``path.json`` (its JSON twin)."""
    app.router.add_get(path, handler, name=name)
    app.router.add_get(path + ".json", handler, name=name + ".json")


async def respond(request: web.Request, template: str, data: Any,
                  **html_only: Any) -> web.StreamResponse:
    """``data`` as JSON for the twin, else ``template`` with ``data`` plus ``html_only``."""
    if wants_json(request):
        return web.json_response(data, dumps=_dumps)
    return await render(request, template, {"data": data, **html_only})


async def render(request: web.Request, template: str, context: dict[str, Any],
                 status: int = 200) -> web.StreamResponse:
    user: SignedIn | None = request.get(USER)
    flash = None
    if user is not None and user.session_digest is not None:
        async with database(request).session() as session, session.begin():
            flash = await take_flash(session, user.session_digest)
    context = {"user": user, "flash": flash, "path": request.path, **context}
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
