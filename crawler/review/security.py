"""The app's guards, as aiohttp middlewares: security headers with a Content-Security-Policy on
every response, error pages, sign-in and roles, and CSRF tokens on every form."""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from crawler.review.accounts import user_for_api_token
from crawler.review.routing import (
    ADMIN,
    USER,
    Handler,
    database,
    render,
    wants_json,
)
from crawler.review.sessions import SignedIn, signed_in, tokens_equal

SESSION_COOKIE = "trawler_session"
LOGIN_CSRF_COOKIE = "trawler_login_csrf"
CSRF_FIELD = "csrf_token"

# Nothing runs, nothing loads from elsewhere; the archived-HTML view sets a stricter one.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

log = logging.getLogger(__name__)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    response.headers.setdefault("Content-Security-Policy", CSP)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if isinstance(response, web.HTTPException):
        raise response
    return response


async def error_page(request: web.Request, status: int, message: str) -> web.StreamResponse:
    if wants_json(request):
        return web.json_response({"error": message, "status": status}, status=status)
    return await render(request, "error.html", {"status": status, "message": message},
                        status=status)


ERROR_MESSAGES = {
    403: "Your role cannot open this page.",
    404: "There is no such page.",
    405: "This address does not take that method.",
}


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        custom = exc.text and not exc.text.startswith(f"{exc.status}:")
        message = exc.text if custom else ERROR_MESSAGES.get(exc.status, exc.reason)
        return await error_page(request, exc.status, message)
    except Exception:
        log.exception("error serving %s", request.path)
        return await error_page(request, 500, "Something went wrong on the server; the log "
                                              "has the details.")


async def _who(request: web.Request) -> SignedIn | None:
    authorization = request.headers.get("Authorization", "")
    token = request.cookies.get(SESSION_COOKIE)
    if not authorization.startswith("Bearer ") and not token:
        return None
    async with database(request).session() as session:
        if authorization.startswith("Bearer "):
            user = await user_for_api_token(session, authorization[len("Bearer "):].strip())
            return None if user is None else SignedIn(user.id, user.name, user.role, None)
        return await signed_in(session, token or "")


def _is_static(request: web.Request) -> bool:
    return request.match_info.route.resource is not None and isinstance(
        request.match_info.route.resource, web.StaticResource)


@web.middleware
async def sign_in_and_roles(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Anonymous users go to /login; users whose role does not fit get 403; every POST
    must carry the CSRF token of its session (or of the login page)."""
    user = await _who(request)
    if user is not None:
        request[USER] = user
    roles = getattr(request.match_info.handler, "roles", ())
    if roles is not None and not _is_static(request):  # views are closed unless marked public
        if user is None:
            if wants_json(request):
                return web.json_response(
                    {"error": "sign in first: send the session cookie or an API token"},
                    status=401)
            raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
        if roles and user.role not in roles and user.role != ADMIN:
            raise web.HTTPForbidden(text=f"{user.name} is an {user.role}; this page is for "
                                         f"{' or '.join((*roles, ADMIN))} users.")
    if request.method == "POST" and (user is None or user.csrf_token is not None):
        form = await request.post()
        expected = user.csrf_token if user else request.cookies.get(LOGIN_CSRF_COOKIE)
        if not tokens_equal(str(form.get(CSRF_FIELD, "")), expected):
            raise web.HTTPForbidden(text="The form was refused: its CSRF token is missing or "
                                         "stale. Reload the page and send it again.")
    return await handler(request)
