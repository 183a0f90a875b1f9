"""The reviewer's pages: the queue (/sites), a site (/sites/{id}), a page (/pages/{id}), the
decision form's target, and a page's screenshot and sanitized archived HTML."""

from __future__ import annotations

from aiohttp import web

from crawler.review.decisions import DecisionError, decide, site_for_decision
from crawler.review.detail import page_detail, review_dict, site_detail
from crawler.review.queue import (
    QueueError,
    QueueFilter,
    next_for_reviewer,
    queue_choices,
    queue_page,
)
from crawler.review.routing import (
    CONFIG,
    EVIDENCE,
    REVIEWER,
    add_twin,
    database,
    requires,
    respond,
    user_of,
    wants_json,
)
from crawler.review.sanitize import sanitized_html
from crawler.review.sessions import set_flash
from crawler.store.models import Page, User
from crawler.store.queries import site_summary

# The archived page's own policy: no scripts, no requests, a sandbox even when opened alone.
ARCHIVED_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; "
                "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
ARCHIVED_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>body{{font:14px/1.5 sans-serif;margin:1em;color:#222}}img{{display:none}}</style>
</head><body>{body}</body></html>"""


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@requires(REVIEWER)
async def queue(request: web.Request) -> web.StreamResponse:
    try:
        flt = QueueFilter.from_query(request.query)
        async with database(request).session() as session:
            page = await queue_page(session, flt)
            choices = None if wants_json(request) else await queue_choices(session)
    except QueueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    next_url = (f"{request.path}?{flt.query_string(after=page.next_after)}"
                if page.next_after else None)
    data = {
        "sites": [{**site_summary(s), "approvals": page.approvals[s.id]} for s in page.sites],
        "next": next_url,
        "filter": {"sort": flt.sort, "state": flt.state, "lang": flt.lang, "job": flt.job,
                   "kind": flt.kind, "flagged": flt.flagged, "limit": flt.limit},
    }
    return await respond(request, "sites.html", data, filter=flt, choices=choices)


@requires(REVIEWER)
async def site(request: web.Request) -> web.StreamResponse:
    async with database(request).session() as session:
        data = await site_detail(session, _id(request), request.app[CONFIG].four_eyes)
    if data is None:
        raise web.HTTPNotFound(text=f"There is no site {_id(request)}.")
    entry = data["entry_page"]
    has_screenshot = entry is not None and bool(
        await request.app[EVIDENCE].screenshot(entry["url"]))
    data["screenshot"] = f"/pages/{entry['id']}/screenshot.png" if has_screenshot else None
    return await respond(request, "site.html", data)


@requires(REVIEWER)
async def decision(request: web.Request) -> web.StreamResponse:
    """Apply a decision; the browser then moves on to the next site waiting for this user."""
    form = await request.post()
    signed_in = user_of(request)
    db = database(request)
    try:
        async with db.session() as session, session.begin():
            site_row = await site_for_decision(session, _id(request))
            user = await session.get(User, signed_in.user_id)
            if user is None:
                raise DecisionError(f"user {signed_in.name} no longer exists")
            outcome = await decide(session, site_row, user, str(form.get("decision", "")),
                                   str(form.get("reason", "")), str(form.get("note", "")),
                                   request.app[CONFIG].four_eyes)
            next_site = await next_for_reviewer(session, user.name, site_row.id)
    except DecisionError as exc:
        if wants_json(request):
            return web.json_response({"error": str(exc)}, status=409)
        await _flash(request, "error", f"Refused: {exc}")
        raise web.HTTPSeeOther(f"/sites/{_id(request)}") from exc
    if wants_json(request):
        return web.json_response({"review": review_dict(outcome.review), "status": outcome.status,
                                  "approvals": outcome.approvals,
                                  "approvals_needed": outcome.approvals_needed,
                                  "message": outcome.message}, status=201)
    await _flash(request, "info", outcome.message)
    raise web.HTTPSeeOther(f"/sites/{next_site}" if next_site else "/sites")


async def _flash(request: web.Request, kind: str, message: str) -> None:
    digest = user_of(request).session_digest
    if digest is not None:
        async with database(request).session() as session, session.begin():
            await set_flash(session, digest, f"{kind}\t{message}")


@requires(REVIEWER)
async def page(request: web.Request) -> web.StreamResponse:
    async with database(request).session() as session:
        data = await page_detail(session, _id(request))
    if data is None:
        raise web.HTTPNotFound(text=f"There is no page {_id(request)}.")
    return await respond(request, "page.html", data)


async def _page_url(request: web.Request) -> str:
    async with database(request).session() as session:
        row = await session.get(Page, _id(request))
    if row is None:
        raise web.HTTPNotFound(text=f"There is no page {_id(request)}.")
    return row.url


@requires(REVIEWER)
async def screenshot(request: web.Request) -> web.StreamResponse:
    image = await request.app[EVIDENCE].screenshot(await _page_url(request))
    if not image:
        raise web.HTTPNotFound(text="This page has no screenshot.")
    return web.Response(body=image, content_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})


@requires(REVIEWER)
async def archived(request: web.Request) -> web.StreamResponse:
    """The archived HTML, sanitized; meant for an <iframe sandbox> on the page view."""
    body = await request.app[EVIDENCE].archived_html(await _page_url(request))
    content = sanitized_html(body) if body else "<p>No archived HTML for this page.</p>"
    return web.Response(text=ARCHIVED_PAGE.format(body=content), content_type="text/html",
                        headers={"Content-Security-Policy": ARCHIVED_CSP,
                                 "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    add_twin(app, "/sites", queue, "sites")
    add_twin(app, r"/sites/{id:\d+}", site, "site")
    app.router.add_post(r"/sites/{id:\d+}/decisions", decision, name="site.decide")
    add_twin(app, r"/pages/{id:\d+}", page, "page")
    app.router.add_get(r"/pages/{id:\d+}/screenshot.png", screenshot, name="page.screenshot")
    app.router.add_get(r"/pages/{id:\d+}/archived", archived, name="page.archived")
