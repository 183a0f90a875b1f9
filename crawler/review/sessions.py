"""Signed-in sessions (token in an HttpOnly cookie, digest in the database), their CSRF
tokens, and login throttling by user name and by client address."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.review.accounts import token_digest
from crawler.store.models import LoginAttempt, User, WebSession

SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class SignedIn:
    """Who is making a request, and the CSRF token their forms must carry."""

    user_id: int
    name: str
    role: str
    csrf_token: str | None  # None for bearer-token clients, which need none
    session_digest: str | None = None


def tokens_equal(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(str(given), str(expected))


async def open_session(session: AsyncSession, user: User) -> str:
    """Start a session for ``user``; returns the token to put in the cookie."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.add(WebSession(token_hash=token_digest(token), user_id=user.id,
                           csrf_token=secrets.token_urlsafe(32), created_at=now,
                           expires_at=now + SESSION_LIFETIME))
    await session.flush()
    return token


async def signed_in(session: AsyncSession, token: str) -> SignedIn | None:
    row = (await session.execute(
        select(WebSession, User).join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_digest(token)))).first()
    if row is None:
        return None
    web_session, user = row
    expires = web_session.expires_at
    if expires.tzinfo is None:  # SQLite returns naive datetimes
        expires = expires.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        return None
    return SignedIn(user.id, user.name, user.role, web_session.csrf_token,
                    web_session.token_hash)


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_digest(token)))


async def set_flash(session: AsyncSession, digest: str, message: str) -> None:
    web_session = await session.get(WebSession, digest)
    if web_session is not None:
        web_session.flash = message


async def take_flash(session: AsyncSession, digest: str) -> str | None:
    web_session = await session.get(WebSession, digest)
    if web_session is None or web_session.flash is None:
        return None
    message, web_session.flash = web_session.flash, None
    return message


async def login_refused_for(session: AsyncSession, name: str, remote: str) -> bool:
    """True while too many recent failures came for this name or from this address."""
    since = datetime.now(UTC) - THROTTLE_WINDOW
    failures = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ok.is_(False), LoginAttempt.at >= since)
    by_name = await session.scalar(failures.where(LoginAttempt.name == name)) or 0
    by_address = await session.scalar(failures.where(LoginAttempt.remote == remote)) or 0
    return by_name >= MAX_FAILURES_PER_NAME or by_address >= MAX_FAILURES_PER_ADDRESS


async def record_login(session: AsyncSession, name: str, remote: str, ok: bool) -> None:
    session.add(LoginAttempt(name=name[:100], remote=remote[:64], ok=ok, at=datetime.now(UTC)))
