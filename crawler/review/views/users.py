"""The admin's users page (/users and /users.json): who may sign in, and adding someone."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from crawler.review.accounts import ROLES, AccountError, add_user
from crawler.review.routing import ADMIN, add_twin, database, requires, respond
from crawler.store.models import User


async def _users(request: web.Request) -> list[dict[str, str | int | None]]:
    async with database(request).session() as session:
        rows = (await session.scalars(select(User).order_by(User.name))).all()
    return [{"id": u.id, "name": u.name, "role": u.role,
             "created_at": u.created_at.isoformat() if u.created_at else None} for u in rows]


@requires(ADMIN)
async def users(request: web.Request) -> web.StreamResponse:
    return await respond(request, "users.html", await _users(request), roles=ROLES, error=None)


@requires(ADMIN)
async def add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with database(request).session() as session, session.begin():
            await add_user(session, str(form.get("name", "")), str(form.get("role", "")),
                           str(form.get("password", "")))
    except AccountError as exc:
        return await respond(request, "users.html", await _users(request), roles=ROLES,
                             error=str(exc))
    raise web.HTTPSeeOther("/users")


def setup(app: web.Application) -> None:
    add_twin(app, "/users", users, "users")
    app.router.add_post("/users", add, name="users.add")
