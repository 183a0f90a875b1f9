"""Signing in and out: /login (throttled), /logout, and / sending each role to its home page."""

from __future__ import annotations

import secrets

from aiohttp import web

from crawler.review.accounts import check_password
from crawler.review.routing import HOME_OF_ROLE, USER, database, public, render, user_of
from crawler.review.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from crawler.review.sessions import (
    SESSION_LIFETIME,
    close_session,
    login_refused_for,
    open_session,
    record_login,
)


def _safe_next(target: str | None) -> str | None:
    """Only paths on this site: never ``//host`` or a scheme."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


async def _login_page(request: web.Request, error: str | None = None,
                      status: int = 200) -> web.StreamResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    form = await request.post() if request.method == "POST" else {}
    response = await render(request, "login.html", {
        "error": error, "login_csrf": token, "name": form.get("name", ""),
        "next": _safe_next(str(form.get("next") or request.query.get("next") or "")) or "",
    }, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                        secure=request.secure, path="/login")
    return response


@public
async def login_form(request: web.Request) -> web.StreamResponse:
    if USER in request:
        raise web.HTTPFound(HOME_OF_ROLE[user_of(request).role])
    return await _login_page(request)


@public
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    remote = request.remote or "unknown"
    async with database(request).session() as session, session.begin():
        if await login_refused_for(session, name, remote):
            return await _login_page(request, "Too many failed sign-ins: wait 15 minutes and "
                                              "try again, or ask an admin.", status=429)
        user = await check_password(session, name, password)
        await record_login(session, name, remote, ok=user is not None)
        if user is None:
            return await _login_page(request, "Wrong name or password.", status=401)
        token = await open_session(session, user)
    target = _safe_next(str(form.get("next", ""))) or HOME_OF_ROLE[user.role]
    response = web.HTTPFound(target)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        secure=request.secure, path="/",
                        max_age=int(SESSION_LIFETIME.total_seconds()))
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    async with database(request).session() as session, session.begin():
        await close_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(HOME_OF_ROLE[user_of(request).role])


@public
async def favicon(_request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login, name="login.post")
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/", home, name="home")
    app.router.add_get("/favicon.ico", favicon, name="favicon")
